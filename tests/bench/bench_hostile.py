"""Hostile CI data: job-log parse time and the memory of reading a zip bomb (measured, never asserted).

- Job logs: the kit's parser (release/ci_logs.py) against a re-enactment of the parser it replaced (a search per
  `tt-smi-metal -s` line to the end of the log, per-line regular expressions with backtracking), on the shapes
  that made the old one quadratic, and the new one alone on a 10 MB hostile log.
- Zip bomb: peak RSS of `inv ci.read` over a history whose newest run holds a 600 MB zip bomb, a file/folder clash,
  a 300-character member name and three 10 MB hostile job logs, against a re-enactment of the old way of reading
  the bomb (the download held in memory, every member inflated into memory).

Environment: BENCH_BOMB_MB (default 600), BENCH_LOG_MB (default 10).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from release import ci_logs
from release.sim import hostile
from release.sim.github_server import GitHubServer
from release.sim.history import generate_history
from tests import peak_rss
from tests.bench.__main__ import Row
from tests.services.github_server import small_models

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_bench_token"


# ------------------------------------------------------------------------------------------------ the old parser

_OLD_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_OLD_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")


def old_parse(data: bytes) -> tuple[Any, Any]:
    """Runner and tt-smi block as the replaced parser found them."""
    lines = [_OLD_TS.sub("", line) for line in _OLD_ANSI.sub("", data.decode("utf-8", "replace")).splitlines()]
    runner = next((m[1] for line in lines if (m := re.match(r"\s*Runner name:\s*(.+?)\s*$", line))), None)
    for start, line in enumerate(lines):
        if "tt-smi-metal -s" in line:
            block = _old_block(lines, start + 1)
            if block is not None:
                return runner, block
    return runner, None


def _old_block(lines: list[str], index: int) -> Any:
    for i in range(index, len(lines)):
        if "tt-smi-metal -s" in lines[i]:
            return None
        if lines[i].strip() != "{":
            continue
        depth, block = 0, []
        for line in lines[i:]:
            block.append(line)
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                try:
                    return json.loads("\n".join(block))
                except ValueError:
                    return None
        return None
    return None


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 3)


def log_rows() -> list[Row]:
    smi = b"".join(b"2025-10-01T03:00:00.1Z + tt-smi-metal -s\n2025-10-01T03:00:00.1Z {\n" for _ in range(2000))
    padded = b"Runner name: a" + b" " * 20_000 + b"b\n"
    osc = b"\x1b]" * 20_000 + b"\n"
    big = hostile.hostile_log(int(os.environ.get("BENCH_LOG_MB", "10")) << 20)
    rows = []
    for label, data in (("tt-smi + { lines", smi), ("padded Runner line", padded), ("unterminated OSC", osc)):
        name = f"job log: {label} ({len(data) // 1000} KB)"
        rows.append(
            Row(
                name,
                "parse time (s)",
                seconds(lambda d=data: old_parse(d)),
                seconds(lambda d=data: ci_logs.parse_job_log(d)),
            )
        )
    rows.append(
        Row(
            f"job log: hostile ({len(big) / 1e6:.0f} MB)",
            "parse time (s)",
            0,
            seconds(lambda: ci_logs.parse_job_log(big)),
            "< 1",
        )
    )
    return rows


# ------------------------------------------------------------------------------------------------ the zip bomb


def peak_rss_mb(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit code) of a child process (tests/peak_rss.py: without the bench's own memory)."""
    with tempfile.TemporaryDirectory() as tmp:
        run = peak_rss.measure(args, cwd=ROOT, env=env, stdout=Path(tmp) / "out", stderr=Path(tmp) / "err")
    return round(run.peak_mb), round(run.seconds, 1), run.exit_code


OLD_READ = """
import io, sys, zipfile
data = open(sys.argv[1], "rb").read()  # the download, held in memory
with zipfile.ZipFile(io.BytesIO(data)) as zf:
    files = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
"""


def bomb_rows() -> list[Row]:
    size = int(os.environ.get("BENCH_BOMB_MB", "600")) * 1_000_000
    hist = generate_history(
        small_models(), runs=4, seed=4, special_runs=False, expired_runs=0, outcomes=[("target", 1)]
    )
    kinds = hostile.make_hostile(hist.runs[0], bomb_size=size)
    bomb = next(a for a in hist.runs[0].artifacts if kinds.get(a.name) == "bomb")
    with tempfile.TemporaryDirectory() as tmp, GitHubServer(hist, token=TOKEN) as server:
        zpath = Path(tmp) / "bomb.zip"
        zpath.write_bytes(bomb.content)
        old_rss, _, _ = peak_rss_mb([sys.executable, "-c", OLD_READ, str(zpath)])
        env = {k: v for k, v in os.environ.items() if k not in ("GH_PAT", "GITHUB_TOKEN")}
        env.update(GITHUB_API_URL=server.api_url, GH_PAT=TOKEN, RELEASE_REPO_ROOT=str(ROOT))
        args = [sys.executable, "-m", "invoke", "ci.read", "--max-runs", "4", "--out-root", str(Path(tmp) / "out")]
        rss, took, code = peak_rss_mb(args, env)
    name = f"ci.read: {size // 1_000_000} MB zip bomb ({len(bomb.content) // 1000} KB zip) + hostile history"
    return [
        Row(name, "peak RSS (MB)", old_rss, rss, "< 400"),
        Row(name, f"wall time (s), exit {code}", 0, took, "< 120"),
    ]


def run() -> list[Row]:
    return [*log_rows(), *bomb_rows()]
