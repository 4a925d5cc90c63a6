"""The cache of `inv ci.read` under `out_root/ci_run_logs/On_nightly_{run_number}_{run_id}/` (layout of §3.5).

Safe to kill at any moment: single files are written atomically, an extracted artifact folder is complete once
its marker exists (files are checked against the marker's digests when read back), and work in progress lives in
`.tmp-p{pid}-*` files and folders, removed in `finally` and swept at the start of the next read when their
process is gone. A refused artifact (unsafe zip) is remembered by its marker, so it is not downloaded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from release import ci_archive, ci_logs, ci_parse, fsio
from release.ci_parse import DEFAULT_LIMITS, ArchiveLimits, CorruptArchive, UnsafeArchive
from release.errors import GitHubError
from release.github_types import Artifact, Job, RepoRef, WorkflowRun

log = logging.getLogger(__name__)

CACHE_DIR = "ci_run_logs"
MARKER_VERSION = 1
TEMP = ".tmp-"
STALE_AFTER = 24 * 3600.0  # a temp entry of a live process older than this is swept too (pid reused)
MAX_NAME = 150  # characters of an artifact or job name used in a file name (NAME_MAX is 255 bytes)


def sanitize(name: str) -> str:
    """A file-name-safe spelling: no separators or control characters, and not too long (a long name keeps its
    start and a hash of the whole)."""
    safe = re.sub(r'[/:\\*?"<>|\x00-\x1f]', "_", name)
    if safe in ("", ".", ".."):
        safe = safe.replace(".", "_") or "_"
    if len(safe) > MAX_NAME or len(safe.encode()) > 2 * MAX_NAME:
        safe = f"{safe[:100]}-{hashlib.sha256(name.encode(errors='surrogatepass')).hexdigest()[:12]}"
    return safe


def temp_prefix(what: object) -> str:
    """Names of this process's work in progress: `.tmp-p{pid}-{what}-…` (swept once the process is gone)."""
    return f"{TEMP}p{os.getpid()}-{what}-"


def digest_checked(artifact: Artifact, sha256_hex: str) -> bool:
    """True when the download matches the artifact's sha256 digest, False when GitHub lists none (older
    upload-artifact); a mismatch is a GitHubError (a damaged download: worth another try)."""
    algo, _, expected = (artifact.digest or "").partition(":")
    if algo != "sha256" or not expected:
        return False
    if sha256_hex != expected.lower():
        raise GitHubError(
            f"artifact {artifact.name} (id {artifact.id}): download does not match its digest "
            f"(sha256:{sha256_hex[:12]}… vs {artifact.digest[:19] if artifact.digest else ''}…); "
            "run the same command again"
        )
    return True


class CiCache:
    """Files under `out_root/ci_run_logs/On_nightly_{run_number}_{run_id}/`."""

    def __init__(self, out_root: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS) -> None:
        self.out_root = Path(out_root)
        self.root = self.out_root / CACHE_DIR
        self.limits = limits

    def run_dir(self, run: WorkflowRun) -> Path:
        return self.root / f"On_nightly_{run.run_number}_{run.id}"

    def _state(self, run: WorkflowRun, name: str) -> Path:
        return self.run_dir(run) / ".cache" / name

    # runs
    def save_run(self, run: WorkflowRun, repo: RepoRef, workflow_file: str) -> None:
        meta = {
            "run_id": run.id,
            "run_number": run.run_number,
            "owner": repo.owner,
            "repo": repo.name,
            "workflow_file": workflow_file,
            "created_at": run.created_at,
            "updated_at": run.updated_at,
        }
        fsio.write_if_changed(self.run_dir(run) / "run_ci_metadata.json", fsio.dump_json(meta))
        fsio.write_if_changed(self._state(run, "run.json"), fsio.dump_json(run.to_json()))

    def run_ids(self) -> set[int]:
        """The ids of the runs that have a folder in the cache."""
        ids = set()
        for path in self.root.glob("On_nightly_*_*"):
            tail = path.name.rsplit("_", 1)[-1]
            if tail.isascii() and tail.isdigit():
                ids.add(int(tail))
        return ids

    def cached_runs(self) -> list[WorkflowRun]:
        runs = []
        for path in sorted(self.root.glob("On_nightly_*/.cache/run.json")):
            try:
                runs.append(WorkflowRun.from_api(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, GitHubError):
                log.warning("ignoring unreadable %s", path)
        return runs

    # listings (artifacts, jobs): reused only for a completed, unchanged run
    def load_listing(self, run: WorkflowRun, kind: str) -> list[dict[str, Any]] | None:
        try:
            data = json.loads(self._state(run, f"{kind}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("run") != run_stamp(run):
            return None
        items = data.get("items")
        return items if isinstance(items, list) else None

    def save_listing(self, run: WorkflowRun, kind: str, items: list[dict[str, Any]]) -> None:
        if run.completed:
            fsio.write_json(self._state(run, f"{kind}.json"), {"run": run_stamp(run), "items": items})

    def save_jobs_metadata(self, run: WorkflowRun, jobs: Sequence[Job]) -> None:
        rows = [
            {
                "job_id": j.id,
                "job_name": j.name,
                "job_status": j.status,
                "job_conclusion": j.conclusion,
                "job_url": j.html_url,
                "started_at": j.started_at,
                "completed_at": j.completed_at,
            }
            for j in jobs
        ]
        fsio.write_if_changed(self.run_dir(run) / "jobs_ci_metadata.json", fsio.dump_json(rows))

    # artifacts: extracted folder + marker written last
    def _marker(self, run: WorkflowRun, artifact: Artifact) -> Path:
        return self._state(run, f"artifact_{artifact.id}.json")

    def artifact_dir(self, run: WorkflowRun, artifact: Artifact) -> Path:
        return self.run_dir(run) / sanitize(artifact.name)

    def load_artifact(self, run: WorkflowRun, artifact: Artifact) -> Mapping[str, bytes] | str | None:
        """The artifact's parsed files, or the reason it was refused, or None when not (completely) cached."""
        try:
            marker = json.loads(self._marker(run, artifact).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(marker, dict) or marker.get("version") != MARKER_VERSION:
            return None
        if marker.get("artifact_id") != artifact.id:
            return None
        if marker.get("refused"):
            return str(marker["refused"])
        folder = self.artifact_dir(run, artifact)
        recorded = marker.get("files")
        files = FolderFiles(folder, recorded if isinstance(recorded, dict) else {})
        for rel, digest in files.digests.items():
            try:
                if (folder / rel).stat().st_size > self.limits.max_parsed_file_bytes or _sha256(folder / rel) != digest:
                    return None
            except (OSError, ValueError):
                return None
        return files

    def refuse(self, run: WorkflowRun, artifact: Artifact, reason: str, *, sha256: str | None = None) -> str:
        """Remember that the artifact is refused (it is not downloaded again); returns the reason."""
        marker = {**self._marker_base(artifact, sha256), "refused": reason}
        fsio.write_json(self._marker(run, artifact), marker)
        return reason

    def store_artifact(
        self, run: WorkflowRun, artifact: Artifact, zip_path: Path, *, sha256: str, verified: bool
    ) -> Mapping[str, bytes] | str:
        """Extract a downloaded zip (bounded, see release.ci_archive) and publish its folder; returns the parsed
        files, or the reason it was refused. `verified`: the zip matched GitHub's digest, so a zip that cannot
        be read is the uploader's (refused), not a damaged download (GitHubError: try again)."""
        final = self.artifact_dir(run, artifact)
        tmp = final.parent / f"{temp_prefix(artifact.id)}{uuid.uuid4().hex[:8]}"
        try:
            try:
                digests = ci_archive.extract(zip_path, tmp, self.limits)
            except UnsafeArchive as e:
                return self.refuse(run, artifact, f"unsafe zip: {e}", sha256=sha256)
            except CorruptArchive as e:
                if verified:
                    return self.refuse(run, artifact, f"unsafe zip: {e}", sha256=sha256)
                raise GitHubError(
                    f"artifact {artifact.name} (id {artifact.id}): the download is not a readable zip ({e}); "
                    "run the same command again"
                ) from None
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        marker = {**self._marker_base(artifact, sha256), "files": dict(sorted(digests.items()))}
        fsio.write_json(self._marker(run, artifact), marker)
        return FolderFiles(final, digests)

    def _marker_base(self, artifact: Artifact, sha256: str | None) -> dict[str, Any]:
        return {
            "version": MARKER_VERSION,
            "artifact_id": artifact.id,
            "name": artifact.name,
            "digest": artifact.digest,
            "sha256": sha256,
        }

    @contextmanager
    def download_file(self, run: WorkflowRun, artifact: Artifact) -> Iterator[tuple[Path, BinaryIO]]:
        """A scratch file for the artifact's zip, removed when the block ends."""
        with fsio.scratch_file(self.run_dir(run), prefix=temp_prefix(artifact.id)) as scratch:
            yield scratch

    def artifact_key(self, run: WorkflowRun, artifact: Artifact, files: Sequence[str]) -> dict[str, Any] | None:
        """What a parse of the cached artifact is valid for (release.ci_index): the identity of its marker and of
        the `files` the parse read; None when the marker is missing."""
        marker = file_identity(self._marker(run, artifact))
        if marker is None:
            return None
        folder = self.artifact_dir(run, artifact)
        return {"marker": marker, "files": {rel: file_identity(folder / rel) for rel in sorted(files)}}

    # job logs
    def log_key(self, run: WorkflowRun, job: Job) -> list[int] | None:
        """What a parse of the cached log is valid for: the identity of the file (None when it is missing)."""
        return file_identity(self.log_path(run, job))

    def log_path(self, run: WorkflowRun, job: Job) -> Path:
        return self.run_dir(run) / "logs" / f"{sanitize(job.name)}_{job.id}.txt"

    def load_log(self, run: WorkflowRun, job: Job) -> bytes | None:
        """The part of a cached log that is parsed (ci_logs.log_window), read without loading the rest."""
        try:
            with open(self.log_path(run, job), "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                head, tail = ci_logs.LOG_HEAD_BYTES, ci_logs.LOG_TAIL_BYTES
                if size <= head + tail:
                    return fh.read()
                first = fh.read(head)
                fh.seek(size - tail)
                return first + ci_logs.LOG_CUT + fh.read()
        except OSError:
            return None

    @contextmanager
    def log_writer(self, run: WorkflowRun, job: Job) -> Iterator[BinaryIO]:
        """Stream a job log into the cache atomically."""
        with fsio.atomic_stream(self.log_path(run, job), prefix=temp_prefix(job.id)) as fh:
            yield fh

    # temp entries left by killed runs
    def sweep_temp(self) -> int:
        """Remove `.tmp-*` files and folders whose process is gone (or that are older than a day); returns how
        many were removed."""
        removed = 0
        for path in [*self.root.glob(f"*/{TEMP}*"), *self.root.glob(f"*/logs/{TEMP}*")]:
            if _in_use(path):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        return removed


class FolderFiles(Mapping[str, bytes]):
    """The parsed files of an extracted artifact ({relative path: bytes}), read from disk only when asked for:
    `ci_parse.parse_artifact` reads two of them, however many the artifact has."""

    def __init__(self, folder: Path, digests: Mapping[str, Any]) -> None:
        self.folder = folder
        self.digests = {str(rel): d for rel, d in digests.items() if ci_parse.is_parsed_file(str(rel))}

    def __getitem__(self, rel: str) -> bytes:
        if rel not in self.digests:
            raise KeyError(rel)
        try:
            return (self.folder / rel).read_bytes()
        except OSError:
            return b""  # gone since it was checked: parses as malformed JSON

    def __iter__(self) -> Iterator[str]:
        return iter(self.digests)

    def __len__(self) -> int:
        return len(self.digests)


def file_identity(path: Path) -> list[int] | None:
    """[inode, size, mtime in ns] of a file (a file replaced or changed gets another), or None when it is missing."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _in_use(path: Path) -> bool:
    m = re.match(rf"{re.escape(TEMP)}p(\d+)-", path.name)
    if m is None:
        return False  # an older kit's name (no pid): nobody is writing it any more
    try:
        if time.time() - path.lstat().st_mtime > STALE_AFTER:
            return False
    except OSError:
        return True  # already gone
    return _alive(int(m[1]))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def run_stamp(run: WorkflowRun) -> dict[str, Any]:
    """What identifies a run's state: its listings are reused only while it stays the same (and completed)."""
    return {"id": run.id, "attempt": run.run_attempt, "updated_at": run.updated_at, "status": run.status}
