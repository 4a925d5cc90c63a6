"""The checkout's run lock (release/runlock.py): an OS lock held by the process, whatever the lock file holds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from release import runlock
from release.errors import LockHeld
from tests.cli import run_inv

ROOT = Path(__file__).resolve().parent.parent

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from release import runlock
    with runlock.hold(Path(sys.argv[1]), command="inv images.promote x.json --dev"):
        Path(sys.argv[2]).write_text("held")
        time.sleep(120)
    """
)


@contextmanager
def holder(lock: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holding the lock at `lock` until the block ends (it is then killed with SIGKILL)."""
    ready = lock.parent / f".held-{os.getpid()}-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock), str(ready)], env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the holder did not take the lock"
            time.sleep(0.02)
        yield proc
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ready.unlink(missing_ok=True)


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    lock = tmp_path / "release_logs" / ".release.lock"
    with holder(lock) as proc, pytest.raises(LockHeld) as err, runlock.hold(lock, command="inv spec.update"):
        pytest.fail("took a lock another process holds")
    message = str(err.value)
    assert err.value.exit_code == 4 and "\n" not in message
    assert f"pid {proc.pid}" in message and "inv images.promote x.json --dev" in message


def test_a_killed_holder_leaves_the_lock_free(tmp_path):
    lock = tmp_path / ".release.lock"
    with holder(lock):
        pass  # SIGKILL: no cleanup ran in the holder
    assert json.loads(lock.read_text())["command"] == "inv images.promote x.json --dev"  # its note is still there
    with runlock.hold(lock, command="inv spec.update"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert lock.read_text() == ""


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage\x00\xff", b'{"pid": "not-a-number", "host": 7}', b"[]", b'{"pid": 1, "host": "x"}'],
    ids=["empty", "binary", "non-numeric-pid", "list", "pid-1"],
)
def test_whatever_the_file_holds_it_does_not_block(tmp_path, content):
    lock = tmp_path / ".release.lock"
    lock.write_bytes(content)
    with runlock.hold(lock, command="inv ci.read"):
        pass


def test_a_garbage_note_in_a_held_lock_is_shown_as_unknown(tmp_path):
    lock = tmp_path / ".release.lock"
    with holder(lock):
        lock.write_bytes(b'{"pid": "abc\\ndef", "command": 5}' + b"x" * 10_000)
        with pytest.raises(LockHeld, match="holder unknown"), runlock.hold(lock, command="inv spec.update"):
            pass
        lock.write_bytes(b'{"pid": "abc\\ndef", "command": 5}')
        with pytest.raises(LockHeld, match=r"pid abc def, running `5`") as err, runlock.hold(lock, command="x"):
            pass
        assert "\n" not in str(err.value)


def test_re_entrant_within_a_process(tmp_path):
    lock = tmp_path / ".release.lock"
    with runlock.hold(lock, command="inv prerelease"):
        with runlock.hold(tmp_path / "." / ".release.lock", command="step"):
            assert json.loads(lock.read_text())["command"] == "inv prerelease"
        # still held after the inner block: another process is refused
        probe = subprocess.run(
            [sys.executable, "-c", "import sys; from release import runlock\nwith runlock.hold(sys.argv[1], command='x'): pass",
             str(lock)],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert probe.returncode != 0 and "LockHeld" in probe.stderr
    with runlock.hold(lock, command="again"):
        pass


# ------------------------------------------------------------------------------------------------ the tasks


@pytest.fixture
def checkout(tmp_path) -> Path:
    root = tmp_path / "checkout"
    (root / "workflows").mkdir(parents=True)
    for name in ("tasks.py", "VERSION", "README.md", "model_specs_output.json", "workflows/model_specs.toml"):
        shutil.copyfile(ROOT / name, root / name)
    return root


def inv(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELEASE_", "GH_", "GITHUB_"))}
    return run_inv(*args, cwd=root, env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)


def test_a_writing_task_exits_4_while_another_run_holds_the_checkout(checkout):
    with holder(checkout / "release_logs" / ".release.lock") as proc:
        busy = inv(checkout, "spec.update", "--output-only")
        assert busy.returncode == 4, busy.stderr
        assert busy.stderr.count("\n") == 1 and busy.stderr.startswith("error: another release run holds")
        assert f"pid {proc.pid}" in busy.stderr
        # a dry run writes nothing and takes no lock: it plans while the other run works
        dry = inv(checkout, "spec.update", "--output-only", "--dry-run")
        assert dry.returncode == 0, dry.stderr
    free = inv(checkout, "spec.update", "--output-only")
    assert free.returncode == 0, free.stderr
