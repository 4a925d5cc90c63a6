"""Job logs of the Models CI simulator: GitHub's timestamped, ANSI-coloured text with `actions/checkout` steps,
an Inputs group and a tt-smi JSON block (what release.ci_logs reads). Standard library only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ansi(text: str, colour: int = 36) -> str:
    return f"\x1b[{colour};1m{text}\x1b[0m"


@dataclass(frozen=True)
class SimCheckout:
    """An `actions/checkout` step: `newer` prints the full SHA after `git log -1 --format=%H` (checkout v4 on a
    branch); older output only says `HEAD is now at <sha7> <subject>` (a detached checkout of the SHA)."""

    repo: str
    sha: str
    newer: bool = True
    subject: str = "Nightly"


def checkout_lines(c: SimCheckout) -> list[str]:
    """The log lines of one checkout step, as GitHub prints them."""
    lines = [
        "##[group]Run actions/checkout@v4",
        "with:",
        f"  repository: {c.repo}",
        "  token: ***",
        "##[endgroup]",
        f"Syncing repository: {c.repo}",
        "##[group]Getting Git version info",
        "[command]/usr/bin/git version",
        "git version 2.43.0",
        "##[endgroup]",
        "##[group]Fetching the repository",
        f"[command]/usr/bin/git -c protocol.version=2 fetch --no-tags --prune --depth=1 origin {c.sha}",
        f" * [new ref]         {c.sha} -> origin/dev",
        "##[endgroup]",
        "##[group]Checking out the ref",
    ]
    if c.newer:
        lines += [
            "[command]/usr/bin/git checkout --progress --force -B dev refs/remotes/origin/dev",
            "Switched to a new branch 'dev'",
            "##[endgroup]",
            "[command]/usr/bin/git log -1 --format=%H",
            c.sha,
        ]
    else:
        lines += [
            f"[command]/usr/bin/git checkout --progress --force {c.sha}",
            f"Note: switching to '{c.sha}'.",
            f"HEAD is now at {c.sha[:7]} {c.subject}",
            "##[endgroup]",
        ]
    return lines


def make_job_log(
    *,
    runner: str,
    image: str | None,
    fw: str,
    kmd: str,
    variant: str,
    t: datetime,
    checkouts: Sequence[SimCheckout] = (),
) -> bytes:
    """A GitHub job log: timestamped, ANSI-coloured, with checkout steps, an Inputs group and a tt-smi JSON block."""
    tt_smi = {
        "time": iso(t),
        "host_info": {"OS": "Linux", "Distro": "Ubuntu 22.04.5 LTS", "Driver": f"TT-KMD {kmd}"},
        "device_info": [{"board_info": {"board_type": "n150 L"}, "firmwares": {"fw_bundle_version": fw}}],
    }
    body = [
        "Current runner version: '2.321.0'",
        f"Runner name: '{runner}'",
        "Runner group name: 'Default'",
    ]
    for c in checkouts:
        body += checkout_lines(c)
    body += ["##[group] Inputs", "  model: x"]
    if image:
        body.append(f"  image: {image}")
    body += ["##[endgroup]", _ansi("Run ./run.py --workflow release"), "Starting server..."]
    block = json.dumps(tt_smi, indent=2).splitlines()
    if variant == "malformed_then_good":
        body += [_ansi("+ tt-smi-metal -s"), "{", '  "host_info": {"Driver": ', "}", "tt-smi failed, retrying"]
        body += [_ansi("+ tt-smi-metal -s"), *block]
    elif variant == "two_blocks":
        body += [_ansi("+ tt-smi-metal -s"), *block, _ansi("+ tt-smi-metal -s")]
        other = dict(tt_smi, host_info={"OS": "Linux", "Driver": "TT-KMD 0.0.1"})
        body += json.dumps(other, indent=2).splitlines()
    elif variant != "none":
        body += [_ansi("+ tt-smi-metal -s"), *block]
    body += [_ansi("Evals done", 32), "Post job cleanup."]
    lines = [f"{iso(t + timedelta(seconds=i))[:-1]}.{i % 10}000000Z {line}" for i, line in enumerate(body)]
    return ("\n".join(lines) + "\n").encode()
