"""The walk of `inv ci.read` over the selected runs, newest first: artifact listings, the artifacts still needed,
the jobs they came from, and the logs of the last-good jobs. Each thing is taken from the index
(release.ci_index) when its key holds, else from the cache (release.ci_cache), else from GitHub.

Early stop (unless `full_history`): an artifact name seen in a newer run is no longer read once every model it
may carry has its last good (release.ci_hardware.all_resolved); decisions in a run depend only on newer runs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from release import ci_hardware, ci_logs, ci_parse
from release.ci_cache import CiCache, digest_checked
from release.ci_index import CiIndex, is_full
from release.ci_logs import JobLogInfo
from release.ci_model import CiEntry, ModelRef, Progress, SkippedArtifact
from release.ci_parse import ArchiveLimits, ArtifactParse
from release.errors import DownloadTooLarge, GitHubError, GitHubStatusError, RateLimitExceeded
from release.github_types import Artifact, ByteSink, Job, RepoRef, Workflow, WorkflowRun

Listed = TypeVar("Listed", Artifact, Job)

log = logging.getLogger(__name__)

EXPIRED = "expired"
DOWNLOAD_MARGIN = 1 << 20  # bytes a zip may exceed its listed size_in_bytes by before the download stops
LOG_MAX_BYTES = 64 << 20  # bytes of a job log kept on disk (the rest is not downloaded)


class GitHubReader(Protocol):
    def get_workflow(self, repo: RepoRef, workflow_file: str) -> Workflow: ...

    def iter_workflow_runs(
        self,
        repo: RepoRef,
        workflow_id: int,
        *,
        status: str | None = ...,
        branch: str | None = ...,
        event: str | None = ...,
    ) -> Iterator[WorkflowRun]: ...

    def get_run(self, repo: RepoRef, run_id: int) -> WorkflowRun: ...

    def list_jobs(self, repo: RepoRef, run_id: int, *, filter: str = ...) -> list[Job]: ...

    def list_artifacts(self, repo: RepoRef, run_id: int, *, name: str | None = ...) -> list[Artifact]: ...

    def download_job_log(
        self, repo: RepoRef, job_id: int, dest: ByteSink, *, max_bytes: int, what: str = ...
    ) -> int: ...

    def download_artifact(
        self, repo: RepoRef, artifact: Artifact, dest: ByteSink, *, max_bytes: int, what: str = ...
    ) -> int: ...


@dataclass(frozen=True, kw_only=True)
class WalkSettings:
    repo: RepoRef
    download: bool
    full_history: bool
    limits: ArchiveLimits
    project: str  # the repository whose checkout commit is read from job logs


class Failures:
    """Download failures of a read, collected from worker threads and reported together."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        with self._lock:
            self._items.append(text)

    @property
    def items(self) -> list[str]:
        return sorted(self._items)


@dataclass
class Walked:
    entries: list[CiEntry] = field(default_factory=list)
    skipped: list[SkippedArtifact] = field(default_factory=list)
    build_runners: dict[int, str | None] = field(default_factory=dict)  # run id → build job's runner


class RunReader:
    def __init__(
        self,
        settings: WalkSettings,
        github: GitHubReader | None,
        cache: CiCache,
        index: CiIndex,
        failures: Failures,
        emit: Callable[[object], None],
    ) -> None:
        self.s = settings
        self.github = github
        self.cache = cache
        self.index = index
        self.failures = failures
        self.emit = emit
        self._lock = threading.Lock()
        self._parse_lock = threading.Lock()  # one parse at a time: memory stays that of one artifact or log
        self._done = 0
        self.missing_logs: list[int] = []

    def _tick(self, stage: str, total: int, detail: str = "", count: int = 1) -> None:
        with self._lock:
            self._done += count
            done = self._done
        self.emit(Progress(stage, done, total, detail))

    # listings
    def artifact_listings(self, pool: ThreadPoolExecutor, runs: Sequence[WorkflowRun]) -> dict[int, list[Artifact]]:
        """Every run's artifacts: from the index when it has the run (no thread needed), else in the pool."""
        self._done = 0
        out: dict[int, list[Artifact]] = {}
        futures = {}
        for run in runs:
            items = self.index.artifacts(run)
            if items is None:
                futures[run.id] = pool.submit(self._artifacts, run, len(runs))
            else:
                self.index.record_artifacts(run, None)
                out[run.id] = items
                self._tick("listings", len(runs), f"run {run.run_number}")
        out.update({run_id: f.result() for run_id, f in futures.items()})
        return {run.id: out[run.id] for run in runs}

    def _artifacts(self, run: WorkflowRun, total: int) -> list[Artifact]:
        try:
            items = self._listing(
                run, "artifacts", Artifact.from_api, lambda gh: gh.list_artifacts(self.s.repo, run.id)
            )
            if items is None:
                return []
            self.index.record_artifacts(run, items)
            return items
        finally:
            self._tick("listings", total, f"run {run.run_number}")

    def jobs(self, run: WorkflowRun) -> list[Job] | None:
        """The run's jobs (None when they cannot be had: not cached with --no-download, or a failure)."""

        def fetch(github: GitHubReader) -> list[Job]:
            items = github.list_jobs(self.s.repo, run.id)
            self.cache.save_jobs_metadata(run, items)
            return items

        return self._listing(run, "jobs", Job.from_api, fetch, what=" jobs")

    def _listing(
        self,
        run: WorkflowRun,
        kind: str,
        from_api: Callable[[Any], Listed],
        fetch: Callable[[GitHubReader], list[Listed]],
        *,
        what: str = "",
    ) -> list[Listed] | None:
        """A run's listing (`kind`: artifacts or jobs) from the cache, else fetched and cached; None when it cannot be
        had (not cached with --no-download, or a GitHub failure, which is recorded)."""
        try:
            cached = _from_listing(self.cache.load_listing(run, kind), from_api)
            if cached is not None or not self.s.download:
                return cached
            assert self.github is not None
            items = fetch(self.github)
            self.cache.save_listing(run, kind, [i.to_json() for i in items])
            return items
        except RateLimitExceeded:
            raise
        except GitHubError as e:
            self.failures.add(f"run {run.run_number} (id {run.id}){what}: {e}")
            return None

    # artifacts
    def walk(
        self,
        pool: ThreadPoolExecutor,
        runs: Sequence[WorkflowRun],
        listings: dict[int, list[Artifact]],
        models: Sequence[ModelRef],
    ) -> Walked:
        """Runs newest first; each run's needed artifacts in parallel; decisions depend only on newer runs."""
        out = Walked()
        resolved: set[str] = set()
        carried: dict[str, set[str]] = {}  # artifact name → model_ids it carried in newer runs
        candidates = ci_hardware.ArtifactCandidates(models)
        todo_total = sum(1 for r in runs for a in listings[r.id] if a.name.startswith(ci_parse.ARTIFACT_PREFIX))
        self._done = 0
        for run in runs:
            todo: list[Artifact] = []
            skipped = len(out.skipped)
            for art in sorted(listings[run.id], key=lambda a: (a.name, a.id)):
                if not art.name.startswith(ci_parse.ARTIFACT_PREFIX):
                    continue
                if art.expired:
                    out.skipped.append(SkippedArtifact(run.run_number, art.name, "expired"))
                elif not self.s.full_history and ci_hardware.all_resolved(
                    carried.get(art.name, set()), candidates(art.name), resolved
                ):
                    out.skipped.append(SkippedArtifact(run.run_number, art.name, "known-good"))
                else:
                    todo.append(art)
            if len(out.skipped) > skipped:
                self._tick("artifacts", todo_total, f"run {run.run_number}", count=len(out.skipped) - skipped)
            if not todo:
                continue
            run_entries = self._read_run(pool, run, todo, todo_total, out)
            for entry in run_entries:
                if entry.model_id is not None:
                    carried.setdefault(entry.artifact_name, set()).add(entry.model_id)
                    if entry.is_passing:
                        resolved.add(entry.model_id)
            out.entries.extend(run_entries)
        return out

    def _read_run(
        self, pool: ThreadPoolExecutor, run: WorkflowRun, todo: list[Artifact], total: int, out: Walked
    ) -> list[CiEntry]:
        """The entries of one run's needed artifacts: indexed ones as they are, the others parsed (from the cache
        or downloaded) and matched to the run's jobs."""
        indexed = {art.id: self.index.entry(run, art, self._key_of(run, art)) for art in todo}
        misses = self._downloadable(run, [art for art in todo if indexed[art.id] is None])
        runner_known, runner = self.index.build_runner(run)
        jobs_future: Future[list[Job] | None] | None = None
        if misses or not runner_known:
            jobs_future = pool.submit(self.jobs, run)
        parsed: dict[int, tuple[ArtifactParse | None, Any]] = {a.id: (None, None) for a in todo if not indexed[a.id]}
        results = pool.map(lambda a: self._artifact(run, a, total), misses)
        parsed.update(zip([a.id for a in misses], results, strict=True))
        jobs = jobs_future.result() if jobs_future is not None else None
        matcher = ci_parse.JobMatcher(jobs or [])
        if jobs is not None:
            runner = next((j.runner_name for j in jobs if ci_parse.is_build_job(j.name)), None)
            self.index.record_build_runner(run, runner)
        if jobs is not None or runner_known:
            out.build_runners[run.id] = runner
        entries = []
        for art in todo:
            hit = indexed[art.id]
            if hit is not None:
                result, job_meta, key = hit
                self._tick("artifacts", total, art.name)
            else:
                got, key = parsed[art.id]
                if got is None:
                    out.skipped.append(SkippedArtifact(run.run_number, art.name, "not-cached"))
                    continue
                result = got
                if result.reason == EXPIRED:
                    out.skipped.append(SkippedArtifact(run.run_number, art.name, "expired"))
                    continue
                match = matcher.match(art.name)
                job_meta = _job_metadata(*match) if match else None
            if jobs is not None or hit is not None:
                self.index.record_entry(run, art, key, result, job_meta)
            entries.append(CiEntry(run.id, run.run_number, art.id, art.name, result, job_meta))
        return entries

    def _downloadable(self, run: WorkflowRun, arts: list[Artifact]) -> list[Artifact]:
        """The artifacts as GitHub lists them (sizes, digests), for those known from the index only."""
        if all(is_full(a) for a in arts):
            return arts
        listing = _from_listing(self.cache.load_listing(run, "artifacts"), Artifact.from_api)
        if listing is None and self.s.download:
            assert self.github is not None
            try:
                listing = self.github.list_artifacts(self.s.repo, run.id)
            except RateLimitExceeded:
                raise
            except GitHubError as e:
                self.failures.add(f"run {run.run_number} (id {run.id}): {e}")
                return []
            self.cache.save_listing(run, "artifacts", [a.to_json() for a in listing])
        full = {a.id: a for a in listing or []}
        return [full[a.id] if not is_full(a) and a.id in full else a for a in arts if is_full(a) or a.id in full]

    def _key_of(self, run: WorkflowRun, art: Artifact) -> Callable[[list[str]], Any]:
        return lambda files: self.cache.artifact_key(run, art, files)

    def _artifact(self, run: WorkflowRun, art: Artifact, total: int) -> tuple[ArtifactParse | None, Any]:
        """(parse, index key): the parse is None when the artifact is not cached (--no-download) or failed."""
        what = f"artifact {art.name} of run {run.run_number}"
        try:
            files = self.cache.load_artifact(run, art)
            if files is None:
                if not self.s.download:
                    return None, None
                files = self._download_artifact(run, art, what)
            if isinstance(files, str):
                key = self.cache.artifact_key(run, art, [])
                return ArtifactParse(art.name, None, None, None, None, files), key
            with self._parse_lock:
                parse = ci_parse.parse_artifact(art.name, files)
            return parse, self.cache.artifact_key(run, art, list(files))
        except RateLimitExceeded:
            raise
        except GitHubStatusError as e:
            if e.status in (404, 410):  # expired or deleted since it was listed: cannot be read, does not count
                return ArtifactParse(art.name, None, None, None, None, EXPIRED), None
            self.failures.add(f"{what}: {e}")
            return None, None
        except GitHubError as e:
            self.failures.add(f"{what}: {e}")
            return None, None
        finally:
            self._tick("artifacts", total, art.name)

    def _download_artifact(self, run: WorkflowRun, art: Artifact, what: str) -> Mapping[str, bytes] | str:
        """Download (streamed to a scratch file, hashed on the way) and extract; or the reason it is refused."""
        limit = self.s.limits.max_artifact_bytes
        if art.size_in_bytes > limit:
            return self.cache.refuse(
                run, art, f"unsafe zip: {art.size_in_bytes} bytes, over the {limit} bytes limit per artifact"
            )
        assert self.github is not None
        with self.cache.download_file(run, art) as (path, fh):
            sink = _HashingSink(fh)
            try:
                self.github.download_artifact(
                    self.s.repo, art, sink, max_bytes=art.size_in_bytes + DOWNLOAD_MARGIN, what=what
                )
            except DownloadTooLarge:
                return self.cache.refuse(
                    run, art, f"unsafe zip: the download is larger than the {art.size_in_bytes} bytes GitHub lists"
                )
            fh.close()
            sha256 = sink.hexdigest()
            verified = digest_checked(art, sha256)
            return self.cache.store_artifact(run, art, path, sha256=sha256, verified=verified)

    # logs of the last-good jobs
    def job_logs(
        self, pool: ThreadPoolExecutor, runs: Sequence[WorkflowRun], chosen: Mapping[str, CiEntry | None]
    ) -> dict[int, JobLogInfo]:
        run_by_id = {r.id: r for r in runs}
        wanted: dict[int, tuple[WorkflowRun, Job]] = {}
        for entry in chosen.values():
            if entry is not None and entry.job is not None and entry.job_id is not None:
                run = run_by_id[entry.run_id]
                wanted[entry.job_id] = (run, _job_from_metadata(run, entry.job))
        self._done = 0
        futures = {
            job_id: pool.submit(self._log, run, job, len(wanted)) for job_id, (run, job) in sorted(wanted.items())
        }
        out = {}
        for job_id, f in futures.items():
            info = f.result()
            if info is not None:
                out[job_id] = info
        return out

    def _log(self, run: WorkflowRun, job: Job, total: int) -> JobLogInfo | None:
        try:
            key = self.cache.log_key(run, job)
            info = self.index.log_info(run, job.id, key)
            if info is not None:
                self.index.record_log(run, job.id, key, info)
                return info
            data = self.cache.load_log(run, job)
            if data is None:
                if not self.s.download:
                    return None
                self._download_log(run, job)
                data = self.cache.load_log(run, job)
            with self._parse_lock:
                info = ci_logs.parse_job_log(data or b"", project=self.s.project)
            self.index.record_log(run, job.id, self.cache.log_key(run, job), info)
            return info
        except RateLimitExceeded:
            raise
        except GitHubStatusError as e:
            if e.status in (404, 410):  # the log is gone (retention): firmware/KMD stay unknown
                log.warning("log of job %s in run %s is no longer available", job.id, run.run_number)
                with self._lock:
                    self.missing_logs.append(job.id)
                return None
            self.failures.add(f"log of job {job.id} in run {run.run_number}: {e}")
            return None
        except GitHubError as e:
            self.failures.add(f"log of job {job.id} in run {run.run_number}: {e}")
            return None
        finally:
            self._tick("logs", total, job.name)

    def _download_log(self, run: WorkflowRun, job: Job) -> None:
        """Stream the log into the cache; past LOG_MAX_BYTES the rest is not downloaded (the head is kept)."""
        assert self.github is not None
        what = f"log of job {job.name!r} in run {run.run_number}"
        with self.cache.log_writer(run, job) as fh:
            try:
                self.github.download_job_log(self.s.repo, job.id, fh, max_bytes=LOG_MAX_BYTES, what=what)
            except DownloadTooLarge:
                log.warning("%s is larger than %d bytes; only its start is kept", what, LOG_MAX_BYTES)


class _HashingSink:
    """Writes through to a file and hashes what passes (the digest of a streamed download)."""

    def __init__(self, fh: ByteSink) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()

    def write(self, data: bytes, /) -> int:
        self._sha.update(data)
        self._fh.write(data)
        return len(data)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def _from_listing(items: list[dict[str, Any]] | None, build: Callable[[Any], Any]) -> list[Any] | None:
    """A cached listing as values; None (read it again) when the cache holds something unexpected."""
    if items is None:
        return None
    try:
        return [build(item) for item in items]
    except GitHubError:
        return None


def _job_metadata(job: Job, key: ci_parse.JobKey) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "job_name": job.name,
        "job_status": job.status,
        "job_conclusion": job.conclusion,
        "job_url": job.html_url,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "model_name": key.model_name,
        "hardware": key.hardware,
        "hardware_name": key.hardware_name,
        "runner_name": job.runner_name,
    }


def _job_from_metadata(run: WorkflowRun, meta: Mapping[str, Any]) -> Job:
    """The job of an entry, rebuilt from its metadata (enough to find, download and parse its log)."""
    return Job(
        id=int(meta["job_id"]),
        run_id=run.id,
        run_attempt=run.run_attempt,
        name=str(meta.get("job_name") or ""),
        status=str(meta.get("job_status") or ""),
        conclusion=meta.get("job_conclusion"),
        started_at=meta.get("started_at"),
        completed_at=meta.get("completed_at"),
        html_url=meta.get("job_url"),
        runner_name=meta.get("runner_name"),
    )
