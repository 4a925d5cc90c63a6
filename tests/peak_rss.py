"""Peak resident memory of a command, measured without the caller's own memory in it.

`os.wait4` on a direct child is not enough: Python starts children with vfork, so until `exec` the child runs in
the parent's address space, and Linux carries that address space's high-water mark into the child's
`ru_maxrss`. A test runner or a bench that holds a few hundred MB would be measured as the command's peak. So a
small launcher process starts the command and reports the command's `ru_maxrss`: the launcher's own address
space is a fresh interpreter's, a few MB, below anything worth measuring.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_LAUNCHER = """
import json, os, subprocess, sys
out = sys.argv[1]
with open(sys.argv[2], "wb") as so, open(sys.argv[3], "wb") as se:
    proc = subprocess.Popen(sys.argv[4:], stdout=so, stderr=se)
    _, status, usage = os.wait4(proc.pid, 0)
with open(out, "w") as fh:
    json.dump({"kib": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, fh)
"""


@dataclass(frozen=True)
class Measured:
    peak_mb: float
    seconds: float
    exit_code: int


def measure(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None,
    stdout: Path,
    stderr: Path,
) -> Measured:
    """Run `args` (its output to the two files) and return its peak RSS, wall time and exit code."""
    report = Path(stdout).with_name(Path(stdout).name + ".rss.json")
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(report), str(stdout), str(stderr), *args],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        check=True,
    )
    seconds = time.monotonic() - start
    data = json.loads(report.read_text())
    return Measured(peak_mb=data["kib"] / 1024, seconds=seconds, exit_code=data["code"])
