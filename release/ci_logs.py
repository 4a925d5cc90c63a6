"""Pure parsing of a GitHub Actions job log → JobLogInfo (runner, Inputs image, tt-smi block, §3.8; and the
tt-inference-server commit the job checked out).

Job logs are outside data: the parse is one forward scan, linear in the log's size, over a bounded window (the
first LOG_HEAD_BYTES and the last LOG_TAIL_BYTES), with JSON blocks capped at MAX_JSON_BLOCK characters and
regular expressions that cannot backtrack over unbounded input. No I/O here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MiB = 1 << 20
# Bump when what parse_job_log produces changes: ci.read's index (release.ci_index) is keyed on it.
PARSER_REVISION = 2


@dataclass(frozen=True)
class Checkout:
    """The commit an `actions/checkout` step of the project checked out, and the log line that says so."""

    commit: str  # the full SHA when the log prints it, else the prefix of `HEAD is now at`
    line_number: int  # 1-based, in the parsed window of the log
    line: str


@dataclass(frozen=True)
class JobLogInfo:
    runner_name: str | None = None
    docker_image: str | None = None
    tt_smi: dict[str, Any] | None = None
    firmware_bundle: str | None = None
    kmd_version: str | None = None
    checkout: Checkout | None = None  # of the project (tenstorrent/tt-inference-server)


# Job logs are parsed from a window: the first LOG_HEAD_BYTES and the last LOG_TAIL_BYTES. The runner name and
# the Inputs group are in the first kilobytes and tt-smi runs while the job sets up; the tail keeps a block printed
# at the very end. A JSON block may not grow past MAX_JSON_BLOCK characters.
LOG_HEAD_BYTES = 8 * MiB
LOG_TAIL_BYTES = 2 * MiB
MAX_JSON_BLOCK = 1 * MiB
LOG_CUT = b"\n[release kit: the middle of this log is not parsed]\n"
TT_SMI = "tt-smi-metal -s"
RUNNER = "Runner name:"
SYNCING = "Syncing repository:"
HEAD_IS_NOW_AT = "HEAD is now at "
GIT_LOG_SHA = "log -1 --format="  # `[command]/usr/bin/git log -1 --format='%H'`: the next line is the full SHA
NEXT_STEP = "##[group]Run "
PROJECT_REPO = "tenstorrent/tt-inference-server"
MAX_SHOWN_LINE = 200

# Linear-time patterns: a CSI sequence's parameters cannot contain ESC, and an OSC string stops at BEL, ESC or a
# newline, so no two match attempts scan the same characters.
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-z]|\][^\x07\x1b\n]*(?:\x07|\x1b\\))")
_TIMESTAMP = re.compile(r"\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")  # after a newline: a fast literal start
_SHORT_SHA = re.compile(r"[0-9a-fA-F]{7,40}(?![0-9A-Za-z])")
_FULL_SHA = re.compile(r"['\"]?([0-9a-fA-F]{40})['\"]?")


def log_window(data: bytes, head: int = LOG_HEAD_BYTES, tail: int = LOG_TAIL_BYTES) -> bytes:
    """The part of a job log that is parsed (all of it when it is not longer than head + tail)."""
    if len(data) <= head + tail:
        return data
    return data[:head] + LOG_CUT + data[len(data) - tail :]


def log_lines(text: str) -> list[str]:
    """Lines without ANSI colour codes and without GitHub's leading timestamps."""
    return _TIMESTAMP.sub("\n", "\n" + _ANSI.sub("", text))[1:].splitlines()


def parse_job_log(
    data: bytes,
    *,
    head: int = LOG_HEAD_BYTES,
    tail: int = LOG_TAIL_BYTES,
    max_block: int = MAX_JSON_BLOCK,
    project: str = PROJECT_REPO,
) -> JobLogInfo:
    """Runner name, the Inputs group's image, the first tt-smi JSON block and the commit of `project`'s checkout,
    in one forward scan of the log's window (linear in its size; see LOG_HEAD_BYTES)."""
    scan = _LogScan(max_block)
    checkout = _CheckoutScan(project)
    for number, line in enumerate(log_lines(log_window(data, head, tail).decode("utf-8", errors="replace")), 1):
        found = scan.feed(line)
        if checkout.feed(line, number) and found:
            break
    tt_smi = scan.tt_smi
    firmware = kmd = None
    if tt_smi is not None:
        devices = tt_smi.get("device_info")
        if isinstance(devices, list) and devices and isinstance(devices[0], dict):
            fw = devices[0].get("firmwares")
            if isinstance(fw, dict) and fw.get("fw_bundle_version") is not None:
                firmware = str(fw["fw_bundle_version"])
        host = tt_smi.get("host_info")
        if isinstance(host, dict) and isinstance(host.get("Driver"), str):
            kmd = host["Driver"].removeprefix("TT-KMD ").strip()
        tt_smi = {k: v for k, v in tt_smi.items() if k != "device_info"}
    return JobLogInfo(
        runner_name=scan.runner,
        docker_image=scan.image,
        tt_smi=tt_smi,
        firmware_bundle=firmware,
        kmd_version=kmd,
        checkout=checkout.result,
    )


class _LogScan:
    """The three things read from a job log, each a small state machine fed one line at a time:
    - runner: the first line `Runner name: <value>` (quotes removed);
    - image: in the first group opened by `##[group] Inputs` (or `##[group]Inputs`), the first `image: <value>`;
    - tt_smi: after a line containing `tt-smi-metal -s`, the first line that is exactly `{` opens a block; lines
      are added while counting braces until the count returns to 0, and the block must parse as a JSON object.
      A failed block (bad JSON, over `max_block`, or interrupted by another `tt-smi-metal -s` line, which arms
      the search again) gives way to the next `tt-smi-metal -s` line."""

    def __init__(self, max_block: int) -> None:
        self.max_block = max_block
        self.runner: str | None = None
        self.runner_done = False
        self.image: str | None = None
        self.inputs = "before"  # before | inside | done
        self.tt_smi: dict[str, Any] | None = None
        self.smi = "idle"  # idle | armed | block | done
        self._block: list[str] = []
        self._depth = 0
        self._size = 0

    def feed(self, line: str) -> bool:
        """Take one line; True once everything is found (the rest of the log need not be read)."""
        if not self.runner_done and RUNNER in line:
            self._runner(line)
        if self.inputs != "done":
            self._inputs(line)
        if self.smi != "done":
            self._tt_smi(line)
        return self.runner_done and self.inputs == "done" and self.smi == "done"

    def _runner(self, line: str) -> None:
        text = line.strip()
        if text.startswith(RUNNER):
            value = text[len(RUNNER) :].strip()
            if value:
                self.runner, self.runner_done = value.strip("'\""), True

    def _inputs(self, line: str) -> None:
        if self.inputs == "before":
            if "##[group]" in line and line.strip() in ("##[group] Inputs", "##[group]Inputs"):
                self.inputs = "inside"
            return
        text = line.strip()
        if text.startswith("##[endgroup]"):
            self.inputs = "done"
        elif text.startswith("image:"):
            value = text[len("image:") :].lstrip()
            if value and len(value.split(None, 1)) == 1:
                self.image, self.inputs = value, "done"

    def _tt_smi(self, line: str) -> None:
        if self.smi == "block":
            if TT_SMI in line:
                self._block, self.smi = [], "armed"
                return
            self._block.append(line)
            self._size += len(line) + 1
            self._depth += line.count("{") - line.count("}")
            if self._depth <= 0:
                self.tt_smi = _json_object("\n".join(self._block))
                self._block, self.smi = [], ("done" if self.tt_smi is not None else "idle")
            elif self._size > self.max_block:
                self._block, self.smi = [], "idle"
        elif TT_SMI in line:
            self.smi = "armed"
        elif self.smi == "armed" and line.strip() == "{":
            self._block, self._depth, self._size, self.smi = [line], 1, len(line) + 1, "block"


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class _CheckoutScan:
    """The commit of the project's `actions/checkout` step (a job may check out several repositories: tt-shield,
    tt-metal...; only the section after `Syncing repository: <project>` counts, up to the next `Syncing
    repository:` line or the next step). In it, `HEAD is now at <sha> <subject>` gives a prefix, and the line after
    `[command]/usr/bin/git log -1 --format=%H` (newer checkouts) the full SHA, which wins. The first section
    that gives a commit is kept."""

    def __init__(self, project: str) -> None:
        self.project = project.strip().lower()
        self.state = "idle"  # idle | section | sha-next | done
        self.result: Checkout | None = None

    def feed(self, line: str, number: int) -> bool:
        """Take one line; True once the commit is known for good."""
        if self.state == "done":
            return True
        if SYNCING in line:
            self._sync(line)
        elif self.state == "sha-next":
            m = _FULL_SHA.fullmatch(line.strip())
            if m:
                self._found(m[1].lower(), number, line)
                self.state = "done"
            else:
                self.state = "section"
        elif self.state == "section":
            self._in_section(line, number)
        return self.state == "done"

    def _sync(self, line: str) -> None:
        repo = line.split(SYNCING, 1)[1].strip().lower()
        if self.result is not None:
            self.state = "done"  # the project's section ended with a prefix only
        else:
            self.state = "section" if repo == self.project else "idle"

    def _in_section(self, line: str, number: int) -> None:
        text = line.strip()
        if text.startswith(NEXT_STEP):
            self.state = "done" if self.result is not None else "idle"
        elif text.startswith(HEAD_IS_NOW_AT) and self.result is None:
            m = _SHORT_SHA.match(text, len(HEAD_IS_NOW_AT))
            if m:
                self._found(m[0].lower(), number, line)
        elif text.startswith("[command]") and GIT_LOG_SHA in text and "git" in text:
            self.state = "sha-next"

    def _found(self, commit: str, number: int, line: str) -> None:
        text = line.strip()
        if len(text) > MAX_SHOWN_LINE:
            text = text[:MAX_SHOWN_LINE] + "…"
        self.result = Checkout(commit, number, text)
