"""The index of `inv ci.read`'s parsed results: one file, `ci_run_logs/index.json`, so that a warm run reads it
instead of every listing, artifact and log of the cache.

What it holds, per completed run: the run's stamp (id, attempt, updated_at, status), the id, name and expiry of
its `workflow_logs_*` artifacts, its build job's runner, and for every artifact and job log parsed so far the
parse result and the key that makes it valid:
- an artifact: the identity (inode, size, mtime) of its cache marker and of the files the parse read, so a marker
  written again (another download) or a file changed behind the kit's back invalidates the entry;
- a job log: the identity of the cached log file.
The whole file is valid only for the same index format, kit version, parser revisions and project (the checkout
the logs are searched for), and when the checksum on its first line matches the rest. It is written again only
when the read learned something new.

The index is outside data too (a file anyone can edit): it is read with a size limit, never raises, and whatever
does not check out (a corrupt or stale file, a malformed entry, a key that differs) is ignored; the results are
then taken from the cache (and GitHub) as if there were no index, and the index is written again, last, once the
read has succeeded (atomically, through fsio).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from release import __version__, ci_logs, ci_parse, fsio
from release.ci_cache import run_stamp
from release.ci_logs import Checkout, JobLogInfo
from release.ci_parse import ArtifactParse
from release.github_types import Artifact, WorkflowRun

log = logging.getLogger(__name__)

INDEX_FILE = "index.json"
FORMAT = 1
MAX_INDEX_BYTES = 64 << 20  # a larger index is neither read nor written (a full-history read of a long history)

Key = Any  # JSON: what a result is valid for (compared with ==)
LISTED_ONLY = -1  # size_in_bytes of an artifact known from the index only (not downloadable as it is)


def is_full(artifact: Artifact) -> bool:
    """An artifact as GitHub lists it (not one rebuilt from the index's id, name and expiry)."""
    return artifact.size_in_bytes != LISTED_ONLY


def signature(project: str) -> list[Any]:
    """What the whole index depends on besides the cache: the kit and its parsers, and the checkout searched."""
    return [FORMAT, __version__, ci_parse.PARSER_REVISION, ci_logs.PARSER_REVISION, project.lower()]


class CiIndex:
    """Lookups in the index read at the start, and what this read learned (written by `save`)."""

    def __init__(self, runs: Mapping[str, Any] | None = None, *, sig: list[Any], valid: bool = False) -> None:
        self._old: Mapping[str, Any] = runs if isinstance(runs, Mapping) else {}
        self._sig = sig
        self._new: dict[str, dict[str, Any]] = {}
        self._dirty = not valid  # something to write: a new or changed result, or no valid file
        self._lock = threading.Lock()

    # reading
    @classmethod
    def load(cls, path: Path, *, project: str) -> CiIndex:
        sig = signature(project)
        try:
            if path.stat().st_size > MAX_INDEX_BYTES:
                log.info("%s is over %d bytes: ignored (rebuilt)", path, MAX_INDEX_BYTES)
                return cls(sig=sig)
            data = path.read_bytes()
        except OSError:
            return cls(sig=sig)
        return cls.from_bytes(data, sig=sig)

    @classmethod
    def from_bytes(cls, data: bytes, *, sig: list[Any]) -> CiIndex:
        """The index in `data`, or an empty one when it is corrupt, stale or of another kit (never raises)."""
        header_line, _, body = data.partition(b"\n")
        header, problem = _load(header_line)
        if problem is None and (not isinstance(header, dict) or header.get("signature") != sig):
            problem = "written by another kit, parser or project"
        if problem is None and header.get("checksum") != hashlib.sha256(body).hexdigest():
            problem = "its checksum does not match its content"
        runs, problem = (None, problem) if problem is not None else _load(body)
        if problem is not None or not isinstance(runs, dict):
            log.info("ci.read index ignored (rebuilt): %s", problem or "no runs")
            return cls(sig=sig)
        return cls(runs, sig=sig, valid=True)

    def _run(self, run: WorkflowRun) -> Mapping[str, Any] | None:
        rec = self._old.get(str(run.id))
        if not isinstance(rec, Mapping) or rec.get("stamp") != run_stamp(run) or not run.completed:
            return None
        return rec

    def artifacts(self, run: WorkflowRun) -> list[Artifact] | None:
        """The run's `workflow_logs_*` artifacts as listed when it was indexed (same stamp), else None. Only id,
        name and expiry are kept: `is_full(artifact)` is False for these (read the listing before downloading)."""
        rec = self._run(run)
        rows = rec.get("artifacts") if rec is not None else None
        if not isinstance(rows, list):
            return None
        out = []
        for row in rows:
            if not (isinstance(row, list) and len(row) == 3 and _is_int(row[0]) and isinstance(row[1], str)):
                return None
            if not isinstance(row[2], bool):
                return None
            out.append(Artifact(row[0], row[1], LISTED_ONLY, row[2], None, "", None, None))
        return out

    def build_runner(self, run: WorkflowRun) -> tuple[bool, str | None]:
        """(known, runner of the run's build job)."""
        rec = self._run(run)
        value = rec.get("build_runner") if rec is not None else None
        if isinstance(value, list) and len(value) == 1 and (value[0] is None or isinstance(value[0], str)):
            return True, value[0]
        return False, None

    def entry(
        self, run: WorkflowRun, art: Artifact, key_of: Callable[[list[str]], Key]
    ) -> tuple[ArtifactParse, dict[str, Any] | None, Key] | None:
        """(parse, matched job, key) of an artifact when its recorded key still holds: `key_of(files)` computes
        the key of the cache as it is now, for the files the recorded parse read."""
        rec = self._run(run)
        entries = rec.get("entries") if rec is not None else None
        item = entries.get(str(art.id)) if isinstance(entries, Mapping) else None
        if not isinstance(item, Mapping):
            return None
        key = item.get("key")
        files = key.get("files") if isinstance(key, Mapping) else None
        if not isinstance(files, Mapping) or not all(ci_parse.is_parsed_file(str(f)) for f in files):
            return None
        if key_of(sorted(str(f) for f in files)) != key:
            return None
        parse = parse_from_json(item.get("parse"))
        job = item.get("job")
        if parse is None or parse.dir_name != art.name or not (job is None or isinstance(job, dict)):
            return None
        return parse, job, key

    def log_info(self, run: WorkflowRun, job_id: int, key: Key) -> JobLogInfo | None:
        rec = self._run(run)
        logs = rec.get("logs") if rec is not None else None
        item = logs.get(str(job_id)) if isinstance(logs, Mapping) else None
        if not isinstance(item, Mapping) or key is None or item.get("key") != key:
            return None
        return log_info_from_json(item.get("info"))

    # recording (thread-safe)
    def _put(self, run: WorkflowRun, part: str, value: Any, key: str | None = None) -> None:
        """Record `value` as `part` of the run (or as item `key` of `part`); a value the index already holds
        leaves it clean."""
        if not run.completed:
            return
        rid = str(run.id)
        with self._lock:
            rec = self._new.get(rid)
            if rec is None:
                rec = self._new[rid] = {"stamp": run_stamp(run), "entries": {}, "logs": {}}
            old = self._run(run)
            if key is None:
                rec[part] = value
                before = old.get(part) if old is not None else None
            else:
                rec[part][key] = value
                items = old.get(part) if old is not None else None
                before = items.get(key) if isinstance(items, Mapping) else None
            if before != value:
                self._dirty = True

    def record_artifacts(self, run: WorkflowRun, artifacts: list[Artifact] | None) -> None:
        """The run's listing (None: the one the index holds, unchanged)."""
        if artifacts is None:
            old = self._run(run)
            if old is not None and isinstance(old.get("artifacts"), list):
                self._put(run, "artifacts", old["artifacts"])
            return
        rows = [[a.id, a.name, a.expired] for a in artifacts if a.name.startswith(ci_parse.ARTIFACT_PREFIX)]
        self._put(run, "artifacts", rows)

    def record_build_runner(self, run: WorkflowRun, runner: str | None) -> None:
        self._put(run, "build_runner", [runner])

    def record_entry(
        self, run: WorkflowRun, art: Artifact, key: Key, parse: ArtifactParse, job: Mapping[str, Any] | None
    ) -> None:
        if key is not None:
            item = {"key": key, "parse": parse_to_json(parse), "job": dict(job) if job is not None else None}
            self._put(run, "entries", item, str(art.id))

    def record_log(self, run: WorkflowRun, job_id: int, key: Key, info: JobLogInfo) -> None:
        if key is not None:
            self._put(run, "logs", {"key": key, "info": log_info_to_json(info)}, str(job_id))

    # writing
    def merged(self, keep: Callable[[str], bool]) -> dict[str, Any]:
        """Old runs (kept while `keep(run_id)`) with what this read learned on top: a run whose stamp changed
        starts afresh, entries and logs of an unchanged run are added to the old ones. Runs, entries and logs
        come in the order of their ids, so the same knowledge gives the same file."""
        runs: dict[str, Any] = {}
        for rid, rec in self._old.items():
            if isinstance(rec, Mapping) and keep(rid):
                runs[rid] = dict(rec)
        for rid, new in self._new.items():
            old = runs.get(rid)
            if old is None or old.get("stamp") != new["stamp"]:
                old = {"stamp": new["stamp"]}
            merged = {**old, **{k: v for k, v in new.items() if k not in ("entries", "logs")}}
            for part in ("entries", "logs"):
                before = old.get(part)
                items = {**(before if isinstance(before, Mapping) else {}), **new[part]}
                merged[part] = {k: items[k] for k in sorted(items, key=_id_order)}
            runs[rid] = merged
        return {rid: runs[rid] for rid in sorted(runs, key=_id_order)}

    def save(self, path: Path, keep: Callable[[str], bool]) -> bool:
        """Write the index (atomically) with the runs `keep` accepts, unless it holds nothing new; True when
        written. The first line holds the signature and the sha256 of the rest."""
        pruned = any(not keep(rid) for rid in self._old)
        if not (self._dirty or pruned):
            return False
        body = json.dumps(self.merged(keep), separators=(",", ":")).encode("utf-8", errors="surrogatepass") + b"\n"
        if len(body) > MAX_INDEX_BYTES:
            log.info("ci.read index not written: over %d bytes", MAX_INDEX_BYTES)
            path.unlink(missing_ok=True)
            return False
        header = json.dumps({"signature": self._sig, "checksum": hashlib.sha256(body).hexdigest()})
        fsio.atomic_write_bytes(path, header.encode() + b"\n" + body)
        return True


def _load(data: bytes) -> tuple[Any, str | None]:
    """The index is the kit's own file: bounded in bytes, not in values."""
    return ci_parse.load_json(data, max_bytes=MAX_INDEX_BYTES, max_values=None)


# ------------------------------------------------------------------------------------------- values ↔ JSON


def parse_to_json(p: ArtifactParse) -> dict[str, Any]:
    return {
        "dir_name": p.dir_name,
        "model_id": p.model_id,
        "summary": p.summary,
        "run_specs": p.run_specs,
        "reports_output": p.reports_output,
        "reason": p.reason,
    }


def parse_from_json(d: Any) -> ArtifactParse | None:
    if not isinstance(d, Mapping):
        return None
    name, model_id, summary, reason = d.get("dir_name"), d.get("model_id"), d.get("summary"), d.get("reason")
    if not isinstance(name, str) or not _opt(model_id, str) or not _opt(summary, dict) or not _opt(reason, str):
        return None
    return ArtifactParse(name, model_id, summary, d.get("run_specs"), d.get("reports_output"), reason)


def log_info_to_json(info: JobLogInfo) -> dict[str, Any]:
    c = info.checkout
    return {
        "runner_name": info.runner_name,
        "docker_image": info.docker_image,
        "tt_smi": info.tt_smi,
        "firmware_bundle": info.firmware_bundle,
        "kmd_version": info.kmd_version,
        "checkout": [c.commit, c.line_number, c.line] if c is not None else None,
    }


def log_info_from_json(d: Any) -> JobLogInfo | None:
    if not isinstance(d, Mapping):
        return None
    texts = [d.get(k) for k in ("runner_name", "docker_image", "firmware_bundle", "kmd_version")]
    if not all(_opt(t, str) for t in texts) or not _opt(d.get("tt_smi"), dict):
        return None
    raw = d.get("checkout")
    checkout = None
    if raw is not None:
        ok = isinstance(raw, list) and len(raw) == 3 and isinstance(raw[0], str) and isinstance(raw[2], str)
        if not ok or not isinstance(raw[1], int) or isinstance(raw[1], bool):
            return None
        checkout = Checkout(raw[0], raw[1], raw[2])
    return JobLogInfo(texts[0], texts[1], d.get("tt_smi"), texts[2], texts[3], checkout)


def _id_order(key: str) -> tuple[int, str]:
    return (len(key), key)  # numeric order for ids (decimal strings), any other key after its peers


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt(value: Any, kind: type) -> bool:
    return value is None or isinstance(value, kind)
