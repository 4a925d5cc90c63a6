"""The task namespace as a user meets it: flags that mean one thing in every task."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import tasks
from release.cli import SHORT_FLAGS

ROOT = Path(__file__).resolve().parent.parent


def flags_of_every_task() -> dict[str, dict[str, list[str]]]:
    """{task name: {argument name: its flags, long first}} for every task of tasks.py's namespace."""
    out = {}
    for name in tasks.ns.task_names:
        task = tasks.ns[name]
        out[name] = {arg.name: [f"--{n}" if len(n) > 1 else f"-{n}" for n in arg.names] for arg in task.get_arguments()}
    return out


def test_every_writing_task_has_dry_run_with_the_same_short_flag() -> None:
    every = flags_of_every_task()
    writing = [name for name in every if not getattr(tasks.ns[name].body, "read_only", False)]
    assert "images.audit" not in writing and len(writing) >= 12
    for name in writing:
        assert every[name].get("dry_run") == ["--dry-run", "-n"], name


def test_no_short_flag_means_two_different_long_flags() -> None:
    meaning: dict[str, set[str]] = {}
    for flags in flags_of_every_task().values():
        for names in flags.values():
            for short in names[1:]:
                meaning.setdefault(short, set()).add(names[0])
    clashes = {short: longs for short, longs in meaning.items() if len(longs) > 1}
    assert not clashes
    assert set(meaning) == {f"-{s}" for s in SHORT_FLAGS.values()}  # short flags only where one was chosen


def test_short_dry_run_through_the_cli(tmp_path: Path) -> None:
    """`inv git.rc -n` is a dry run: the short flag reaches the task (here it stops at the missing --version)."""
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), "git.rc", "-n"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "error: --version X.Y.Z is required (the release being made, e.g. 0.6.0)"
    ), proc.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), "--help", "images.promote"],
        cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert "-n, --dry-run" in help_text and "-d, --dev" not in help_text and "--dev" in help_text


def test_start_up_loads_no_docker_sdk_and_no_build_executor() -> None:
    """`inv --list` and the tasks that do not build start without the docker SDK: `images.build` imports its
    package when it runs, and wiring imports the engine client when it makes one."""
    code = "import sys, json, tasks; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & {"docker", "release.docker_engine", "release.build.run", "release.build.apply"}
