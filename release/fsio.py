"""The only writer of files: atomic writes (temp file in the same folder, fsync, rename, fsync the folder).

Also the kit's readers of user-given files: a missing file, a folder given instead of a file, an unreadable file or
bytes that are not UTF-8 become one InputError naming the file, never a traceback.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from release.errors import InputError, ReleaseError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old or the new content, never a mix, and the new
    content survives a power loss once this returns. A folder at `path` is an InputError; other failures to
    write are a ReleaseError naming the file."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the path of a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        raise InputError(f"{path}: cannot write it: {blocker} is a file, not a folder") from None
    except OSError as e:
        raise ReleaseError(f"{path}: cannot write it ({e.strerror or type(e).__name__})") from None
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
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise ReleaseError(f"{path}: cannot write it ({e.strerror or type(e).__name__})") from None
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable: without this, a power loss can bring the old file back (e.g. an old
    VERSION after the tags of the new one were pushed)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    if path.is_file() and read_text(path) == text:
        return False
    atomic_write(path, text)
    return True


def write_json_if_changed(path: Path, data: Any) -> bool:
    """`write_json` unless the file already holds the same JSON document (same keys in the same order, same
    values); return True when the file was written. Compared without rendering: the indented rendering is pure
    Python and slow for documents of megabytes."""
    path = Path(path)
    try:
        old = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        old = _ABSENT
    if old is not _ABSENT and _compact(old) == _compact(data):
        return False
    write_json(path, data)
    return True


_ABSENT = object()


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True)


def read_bytes(path: Path, *, what: str = "file", max_bytes: int | None = None) -> bytes:
    """A file's bytes; a missing file, a folder, an unreadable file or (with `max_bytes`, checked before reading)
    a larger one is an InputError naming it."""
    path = Path(path)
    try:
        if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
            raise InputError(f"{path}: {size} bytes is more than the {max_bytes} this {what} may have")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a {what}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the {what} ({e.strerror or type(e).__name__})") from None


def read_text(path: Path, *, what: str = "file", max_bytes: int | None = None) -> str:
    """A UTF-8 text file; what `read_bytes` refuses, and bytes that are not UTF-8, are an InputError."""
    return decode(read_bytes(path, what=what, max_bytes=max_bytes), source=str(path), what=what)


def read_text_if_exists(path: Path, *, what: str = "file") -> str | None:
    """Like `read_text`, but None when nothing is at `path`."""
    try:
        return read_text(path, what=what)
    except InputError:
        if not os.path.lexists(path):
            return None
        raise


def decode(data: bytes, *, source: str, what: str = "file") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{source}: the {what} is not UTF-8 text (byte {e.start})") from None


def read_json(path: Path, *, what: str = "file", max_bytes: int | None = None) -> Any:
    """Read JSON; a missing, unreadable, too large or malformed file is an InputError naming the file."""
    return parse_json(read_text(path, what=what, max_bytes=max_bytes), source=str(path))


def json_kind(value: Any) -> str:
    """What a decoded JSON value is, in words, for a message that refuses it ("got a list")."""
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    return names.get(type(value), "a list" if isinstance(value, list) else "an object")


def shown(text: str, limit: int = 80) -> str:
    """A key or value of an outside file as an error message shows it: one line, at most `limit` characters."""
    flat = text.replace("\n", "\\n").replace("\r", "\\r")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_json(text: str, *, source: str) -> Any:
    """JSON text (a file's, or a file's as committed); malformed JSON is an InputError naming `source`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{source}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise InputError(f"{source}: JSON nested too deeply to be what the kit wrote") from None


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
    fsync_dir(path.parent)


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


def move(path: Path, to: Path) -> None:
    """Move a file to `to` (its folder is made; an existing file there is replaced), durably."""
    path, to = Path(path), Path(to)
    try:
        to.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, to)
    except OSError as e:
        raise ReleaseError(f"{path}: cannot move it to {to} ({e.strerror or type(e).__name__})") from None
    fsync_dir(to.parent)
    fsync_dir(path.parent)
