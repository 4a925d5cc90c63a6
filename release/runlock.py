"""The checkout's run lock: one kit process at a time writes in a checkout.

An OS lock (`flock`) on `release_logs/.release.lock`, taken without waiting and held for the whole task. The
kernel drops it when the process ends, however it ends (kill -9 included), so a stale lock cannot exist and
nothing ever has to be deleted by hand. The file itself is never removed (removing it would let two processes
lock two different files of the same name); while held it holds the holder's pid, host, command and start time,
for the "held by" message only: its content decides nothing, so an empty or garbage file blocks no one.

`hold` is re-entrant within a process: a composite task takes the lock once and the steps that take it again
(`pipeline.run_steps`) just nest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from release.errors import ConfigError, LockHeld

LOCK_NAME = ".release.lock"
_INFO_LIMIT = 4096

_held: dict[Path, tuple[int, int]] = {}  # lock file → (open fd, nesting depth) in this process
_guard = threading.Lock()


def lock_path(release_logs: Path) -> Path:
    return Path(release_logs) / LOCK_NAME


@contextmanager
def hold(path: Path, *, command: str) -> Iterator[None]:
    """Hold the lock at `path` until the block ends. LockHeld (exit 4) when another process holds it."""
    key = Path(path).resolve()
    with _guard:
        fd, depth = _held.get(key, (-1, 0))
        if depth == 0:
            fd = _acquire(key, command)
        _held[key] = (fd, depth + 1)
    try:
        yield
    finally:
        with _guard:
            fd, depth = _held.pop(key)
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                _release(fd)


def _acquire(path: Path, command: str) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise ConfigError(f"{path}: cannot open the run lock ({e.strerror or type(e).__name__})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = _describe(fd)
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise LockHeld(
                f"another release run holds {path} ({holder}); wait for it to finish (the lock goes with its process)"
            ) from None
        raise ConfigError(f"{path}: cannot lock it ({e.strerror or type(e).__name__})") from None
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "since": _now()}
    with contextlib.suppress(OSError):  # the content is information only; the lock is held
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
    return fd


def _release(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)  # no holder to show any more
    os.close(fd)  # closing the last descriptor drops the flock


def _describe(fd: int) -> str:
    """The holder as the lock file tells it, in one line; whatever the file holds."""
    try:
        raw = os.pread(fd, _INFO_LIMIT, 0)
        info = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        info = None
    if not isinstance(info, dict):
        return "holder unknown"
    parts = [f"{key} {_one_line(info[key])}" for key in ("pid", "host") if key in info]
    if "command" in info:
        parts.append(f"running `{_one_line(info['command'])}`")
    if "since" in info:
        parts.append(f"since {_one_line(info['since'])}")
    return ", ".join(parts) or "holder unknown"


def _one_line(value: object, limit: int = 120) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
