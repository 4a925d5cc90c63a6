"""Extract a downloaded artifact zip into a folder, at bounded cost.

1. The end records give the central directory's size; over the limit, the zip is refused before zipfile reads it.
2. `ci_parse.plan_extraction` checks every member on the central directory (names, links, compression, declared
   sizes, file/folder clashes) before anything is inflated.
3. Each member is streamed to disk in chunks while its bytes are counted: past its declared size, or past the
   per-member or per-artifact limit, extraction stops (headers can lie).

UnsafeArchive: the zip is refused (its folder is left for the caller to remove). CorruptArchive: the bytes are not
a readable zip. A write that fails because of the member's layout (a name the file system refuses) is a refusal
too; a write that fails for another reason (disk full, permissions) is a ReleaseError with advice.
"""

from __future__ import annotations

import errno
import hashlib
import os
import zipfile
from pathlib import Path
from typing import BinaryIO

from release.ci_parse import (
    DEFAULT_LIMITS,
    ZIP_ERRORS,
    ZIP_TAIL_BYTES,
    ArchiveLimits,
    CorruptArchive,
    UnsafeArchive,
    plan_extraction,
    zip_directory_size,
)
from release.errors import ReleaseError

READ_CHUNK = 256 * 1024
# errno values that mean "this name cannot exist here", i.e. the archive's fault, not the machine's
_LAYOUT_ERRORS = {
    errno.ENAMETOOLONG,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EEXIST,
    errno.EINVAL,
    errno.EILSEQ,
    errno.ELOOP,
}


def extract(zip_path: Path, dest: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> dict[str, str]:
    """Extract the regular files of `zip_path` under `dest` (a new folder); returns {relative path: sha256}."""
    with open(zip_path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(size - ZIP_TAIL_BYTES, 0))
        directory = zip_directory_size(fh.read())
        if directory > limits.max_directory_bytes:
            raise UnsafeArchive(f"the zip's directory is {directory} bytes, over {limits.max_directory_bytes}")
        fh.seek(0)
        try:
            zf = zipfile.ZipFile(fh)
            members = plan_extraction(zf.infolist(), limits)
        except UnsafeArchive:
            raise
        except ZIP_ERRORS as e:
            raise _corrupt(e) from None
        with zf:
            _mkdir(dest, None)
            budget = [limits.max_artifact_bytes]
            return {info.filename: _extract_member(zf, info, dest, limits, budget) for info in members}


def _extract_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, limits: ArchiveLimits, budget: list[int]
) -> str:
    path = dest / info.filename
    digest = hashlib.sha256()
    limit = min(info.file_size, limits.max_member_bytes)
    written = 0
    try:
        src = zf.open(info)
    except ZIP_ERRORS as e:
        raise _corrupt(e) from None
    with src, _create(path, info.filename) as out:
        while True:
            try:
                chunk = src.read(READ_CHUNK)
            except ZIP_ERRORS as e:
                raise _corrupt(e) from None
            if not chunk:
                break
            written += len(chunk)
            budget[0] -= len(chunk)
            if written > limit:
                raise UnsafeArchive(f"member {info.filename[:80]!r} inflates past its declared size")
            if budget[0] < 0:
                raise UnsafeArchive("members inflate past the limit per artifact")
            digest.update(chunk)
            _write(out, chunk, path)
    return digest.hexdigest()


def _corrupt(e: Exception) -> CorruptArchive:
    return CorruptArchive(f"not a readable zip ({type(e).__name__}: {str(e)[:120]})")


def _mkdir(path: Path, member: str | None) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _write_error(e, path, member) from None


def _create(path: Path, member: str) -> BinaryIO:
    _mkdir(path.parent, member)
    try:
        return open(path, "xb")  # never follows or replaces something already there
    except OSError as e:
        raise _write_error(e, path, member) from None


def _write(out: BinaryIO, chunk: bytes, path: Path) -> None:
    try:
        out.write(chunk)
    except OSError as e:
        raise _write_error(e, path, None) from None


def _write_error(e: OSError, path: Path, member: str | None) -> Exception:
    if member is not None and e.errno in _LAYOUT_ERRORS:
        return UnsafeArchive(f"member {member[:80]!r} cannot be extracted ({e.strerror})")
    return ReleaseError(
        f"cannot write {path}: {e.strerror}; free disk space or fix the permissions of {path.parent}, then run "
        "the same command again (finished downloads are kept)"
    )
