"""The only writer of files: atomic writes (temp file in the same folder, fsync, rename)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from release.errors import InputError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old or the new content, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dump_json(data: Any, *, indent: int = 2, ensure_ascii: bool = True) -> str:
    """The kit's JSON serialization: indent 2, ASCII-escaped, trailing newline."""
    return json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + "\n"


def write_json(path: Path, data: Any, *, indent: int = 2, ensure_ascii: bool = True) -> None:
    atomic_write(path, dump_json(data, indent=indent, ensure_ascii=ensure_ascii))


def write_if_changed(path: Path, text: str) -> bool:
    """Write only when the content differs; return True when the file was written."""
    path = Path(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write(path, text)
    return True


def read_json(path: Path) -> Any:
    """Read JSON; a missing or malformed file is an InputError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start}); give the JSON file the kit wrote") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be what the kit wrote") from None


@contextmanager
def open_log(path: Path) -> Iterator[IO[str]]:
    """A log written while it streams (build output). Not atomic on purpose: a crashed build leaves its partial
    log to read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        yield fh


@contextmanager
def atomic_stream(path: Path, *, prefix: str) -> Iterator[BinaryIO]:
    """Stream bytes into `path` atomically: they go to a temp file named `prefix…` next to it, which is fsynced and
    renamed over `path` when the block ends without an exception, and removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def scratch_file(folder: Path, *, prefix: str) -> Iterator[tuple[Path, BinaryIO]]:
    """A temp file `prefix…` in `folder`, open for writing, removed when the block ends (whatever happens)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield Path(tmp), fh
    finally:
        Path(tmp).unlink(missing_ok=True)
