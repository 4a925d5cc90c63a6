"""`inv ci.read`: read the nightly Models CI through the GitHub API into release_logs/.

1. Select runs: the newest `max_runs` completed runs of the workflow (branch/event filters on the server,
   every page), or exactly `run_id` (checked to belong to the workflow).
2. List each run's artifacts (every page; cached for completed runs). Walk runs newest first; in each run
   download the `workflow_logs_*` artifacts still needed, concurrently. Expired artifacts are skipped without
   a request. Unless `full_history`, an artifact is not downloaded when every model it carried in newer runs
   already has a last good entry (a name never seen before is always read).
3. Match artifacts to jobs (jobs API), choose the last good entries, and download only those jobs' logs
   (firmware / KMD from that job's tt-smi block).

The cache under `out_root/ci_run_logs/` (release.ci_cache) is safe to kill at any moment, and listings of a
run are reused only while the run is completed and unchanged (same `updated_at` and attempt). Outputs are
computed from the runs selected by this invocation, never from whatever else is cached.

CI data is outside data, read at bounded cost: artifacts larger than the limits (ArchiveLimits) are refused before
download, downloads stream to disk and stop past the listed `size_in_bytes` (plus a margin), zips are checked
before anything is inflated and extracted in chunks (release.ci_archive); a refused artifact is an entry with an
`unparseable` reason, like an unreadable one. Job logs stream to disk (at most LOG_MAX_BYTES kept) and only their
window is parsed (ci_logs.parse_job_log). Parsing runs one artifact or log at a time, so memory does not grow
with --concurrency. A rate limit that would need a longer wait than allowed stops the run (RateLimitExceeded).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from release import ci_logs, ci_parse, ci_report, fsio, last_good
from release.ci_cache import CiCache, digest_checked
from release.ci_logs import JobLogInfo
from release.ci_model import CiEntry, CiReadResult, ModelRef, Progress, ReadPlan, SkippedArtifact
from release.ci_parse import DEFAULT_LIMITS, ArchiveLimits, ArtifactParse
from release.errors import (
    ConfigError,
    DownloadTooLarge,
    GitHubError,
    GitHubStatusError,
    PartialFailure,
    RateLimitExceeded,
)
from release.github_types import Artifact, ByteSink, Job, RepoRef, Workflow, WorkflowRun

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
class ReadOptions:
    repo: RepoRef
    workflow_file: str = "on-nightly.yml"
    max_runs: int = 30
    run_id: int | None = None
    branch: str | None = None
    event: str | None = None
    full_history: bool = False
    download: bool = True
    concurrency: int = 8
    limits: ArchiveLimits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        if self.max_runs < 1:
            raise ConfigError("--max-runs must be at least 1")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")


# ------------------------------------------------------------------------------------------------ reading


class _Failures:
    def __init__(self) -> None:
        self._items: list[str] = []
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        with self._lock:
            self._items.append(text)

    @property
    def items(self) -> list[str]:
        return sorted(self._items)


def select_runs(
    opts: ReadOptions, *, github: GitHubReader | None, cache: CiCache, save: bool = True
) -> list[WorkflowRun]:
    """The runs this invocation examines, newest first (`save=False`: a dry run, nothing cached)."""
    if not opts.download:
        cached = cache.cached_runs()
        if opts.run_id is not None:
            chosen = [r for r in cached if r.id == opts.run_id]
            if not chosen:
                raise ConfigError(
                    f"run {opts.run_id} is not in the cache under {cache.root}; read it once without --no-download"
                )
            return chosen
        keep = [
            r
            for r in cached
            if r.completed
            and (opts.branch is None or r.head_branch == opts.branch)
            and (opts.event is None or r.event == opts.event)
        ]
        return sorted(keep, key=lambda r: (r.run_number, r.id), reverse=True)[: opts.max_runs]
    assert github is not None
    workflow = github.get_workflow(opts.repo, opts.workflow_file)
    if opts.run_id is not None:
        run = github.get_run(opts.repo, opts.run_id)
        if run.workflow_id != workflow.id:
            raise ConfigError(
                f"run {opts.run_id} belongs to another workflow (id {run.workflow_id}), not "
                f"{opts.workflow_file} (id {workflow.id}) of {opts.repo}: check --run-id and --workflow-file"
            )
        runs = [run]
    else:
        runs = []
        for run in github.iter_workflow_runs(
            opts.repo, workflow.id, status="completed", branch=opts.branch, event=opts.event
        ):
            if run.completed:  # the server filter, checked again
                runs.append(run)
            if len(runs) >= opts.max_runs:
                break
    if save:
        for run in runs:
            cache.save_run(run, opts.repo, opts.workflow_file)
    return sorted(runs, key=lambda r: (r.run_number, r.id), reverse=True)


def plan_read(opts: ReadOptions, *, github: GitHubReader | None, out_root: Path) -> ReadPlan:
    """Select the runs (GitHub reads only, nothing written) and note which the cache already has."""
    cache = CiCache(out_root, limits=opts.limits)
    runs = select_runs(opts, github=github, cache=cache, save=False)
    cached = frozenset(r.id for r in cache.cached_runs())
    return ReadPlan(tuple(runs), cached)


def read_ci(
    opts: ReadOptions,
    *,
    github: GitHubReader | None,
    models: Sequence[ModelRef],
    out_root: Path,
    on_event: Callable[[object], None] | None = None,
) -> CiReadResult:
    """Read the selected runs (cache first, then GitHub) and choose the last good entry of every model."""
    emit = on_event or (lambda event: None)
    if opts.download and github is None:
        raise ConfigError("reading Models CI needs a GitHub client (or --no-download)")
    cache = CiCache(out_root, limits=opts.limits)
    swept = cache.sweep_temp()
    if swept:
        log.info("removed %d temp entries left by an interrupted read", swept)
    failures = _Failures()
    runs = select_runs(opts, github=github, cache=cache)
    emit(Progress("runs", len(runs), len(runs)))
    reader = _RunReader(opts, github, cache, failures, emit)

    with ThreadPoolExecutor(max_workers=opts.concurrency, thread_name_prefix="ci-read") as pool:
        listings = reader.artifact_listings(pool, runs)
        entries, skipped, jobs_by_run = reader.walk(pool, runs, listings, models)
        chosen = last_good.select_last_good(entries, models)
        logs = reader.job_logs(pool, runs, chosen, jobs_by_run)

    if failures.items:
        raise PartialFailure.from_items(
            "downloads",
            [*failures.items, "(nothing written; run the same command again to retry — finished downloads are kept)"],
        )
    build_runners = {
        run_id: next((j.runner_name for j in jobs if ci_parse.is_build_job(j.name)), None)
        for run_id, jobs in jobs_by_run.items()
    }
    return CiReadResult(
        repo=opts.repo,
        workflow_file=opts.workflow_file,
        runs=tuple(runs),
        entries=tuple(sorted(entries, key=lambda e: e.order_key(), reverse=True)),
        last_good=chosen,
        models=tuple(models),
        logs=logs,
        build_runners=build_runners,
        skipped=tuple(skipped),
        unknown_model_ids=tuple(last_good.unknown_model_ids(entries, models)),
        missing_logs=tuple(sorted(reader.missing_logs)),
    )


class _RunReader:
    def __init__(
        self,
        opts: ReadOptions,
        github: GitHubReader | None,
        cache: CiCache,
        failures: _Failures,
        emit: Callable[[object], None],
    ) -> None:
        self.opts = opts
        self.github = github
        self.cache = cache
        self.failures = failures
        self.emit = emit
        self._lock = threading.Lock()
        self._parse_lock = threading.Lock()  # one parse at a time: memory stays that of one artifact or log
        self._done = 0
        self.missing_logs: list[int] = []

    def _tick(self, stage: str, total: int, detail: str = "") -> None:
        with self._lock:
            self._done += 1
            done = self._done
        self.emit(Progress(stage, done, total, detail))

    # listings
    def artifact_listings(self, pool: ThreadPoolExecutor, runs: Sequence[WorkflowRun]) -> dict[int, list[Artifact]]:
        self._done = 0
        futures = {run.id: pool.submit(self._artifacts, run, len(runs)) for run in runs}
        return {run_id: f.result() for run_id, f in futures.items()}

    def _artifacts(self, run: WorkflowRun, total: int) -> list[Artifact]:
        try:
            cached = _from_listing(self.cache.load_listing(run, "artifacts"), Artifact.from_api)
            if cached is not None:
                return cached
            if not self.opts.download:
                return []
            assert self.github is not None
            items = self.github.list_artifacts(self.opts.repo, run.id)
            self.cache.save_listing(run, "artifacts", [a.to_json() for a in items])
            return items
        except RateLimitExceeded:
            raise
        except GitHubError as e:
            self.failures.add(f"run {run.run_number} (id {run.id}): {e}")
            return []
        finally:
            self._tick("listings", total, f"run {run.run_number}")

    def jobs(self, run: WorkflowRun) -> list[Job]:
        try:
            cached = _from_listing(self.cache.load_listing(run, "jobs"), Job.from_api)
            if cached is not None:
                return cached
            if not self.opts.download:
                return []
            assert self.github is not None
            items = self.github.list_jobs(self.opts.repo, run.id)
            self.cache.save_listing(run, "jobs", [j.to_json() for j in items])
            self.cache.save_jobs_metadata(run, items)
            return items
        except RateLimitExceeded:
            raise
        except GitHubError as e:
            self.failures.add(f"run {run.run_number} (id {run.id}) jobs: {e}")
            return []

    # artifacts
    def walk(
        self,
        pool: ThreadPoolExecutor,
        runs: Sequence[WorkflowRun],
        listings: dict[int, list[Artifact]],
        models: Sequence[ModelRef],
    ) -> tuple[list[CiEntry], list[SkippedArtifact], dict[int, list[Job]]]:
        """Runs newest first; each run's needed artifacts in parallel; decisions depend only on newer runs.

        An artifact is skipped (unless full_history) when every model it may carry already has its last good:
        the model_ids it carried in newer runs, plus the catalogue model_ids ending in its `{model}_{hardware}`
        part (so an artifact name shared by two impls keeps being read until both are resolved).
        """
        resolved: set[str] = set()
        models_by_name: dict[str, set[str]] = {}
        catalogue_ids = [m.model_id for m in models]
        entries: list[CiEntry] = []
        skipped: list[SkippedArtifact] = []
        jobs_by_run: dict[int, list[Job]] = {}
        todo_total = sum(1 for r in runs for a in listings[r.id] if a.name.startswith(ci_parse.ARTIFACT_PREFIX))
        self._done = 0
        for run in runs:
            todo: list[Artifact] = []
            for art in sorted(listings[run.id], key=lambda a: (a.name, a.id)):
                if not art.name.startswith(ci_parse.ARTIFACT_PREFIX):
                    continue
                seen = models_by_name.get(art.name)
                if seen:
                    seen = seen | _catalogue_candidates(art.name, catalogue_ids)
                if art.expired:
                    skipped.append(SkippedArtifact(run.run_number, art.name, "expired"))
                    self._tick("artifacts", todo_total)
                elif not self.opts.full_history and seen and seen <= resolved:
                    skipped.append(SkippedArtifact(run.run_number, art.name, "known-good"))
                    self._tick("artifacts", todo_total)
                else:
                    todo.append(art)
            if not todo:
                continue
            jobs_future: Future[list[Job]] = pool.submit(self.jobs, run)
            parsed = list(pool.map(lambda a, r=run: self._artifact(r, a, todo_total), todo))
            jobs = jobs_future.result()
            jobs_by_run[run.id] = jobs
            run_entries = []
            for art, result in zip(todo, parsed, strict=True):
                if result is None:
                    skipped.append(SkippedArtifact(run.run_number, art.name, "not-cached"))
                    continue
                if result.reason == EXPIRED:
                    skipped.append(SkippedArtifact(run.run_number, art.name, "expired"))
                    continue
                match = ci_parse.match_job(art.name, jobs)
                job_meta = _job_metadata(match[0], match[1]) if match else None  # type: ignore[arg-type]
                entry = CiEntry(run.id, run.run_number, art.id, art.name, result, job_meta)
                run_entries.append(entry)
                if result.model_id is not None:
                    models_by_name.setdefault(art.name, set()).add(result.model_id)
            for entry in run_entries:
                if entry.is_passing and entry.model_id is not None:
                    resolved.add(entry.model_id)
            entries.extend(run_entries)
        return entries, skipped, jobs_by_run

    def _artifact(self, run: WorkflowRun, art: Artifact, total: int) -> ArtifactParse | None:
        what = f"artifact {art.name} of run {run.run_number}"
        try:
            files = self.cache.load_artifact(run, art)
            if files is None:
                if not self.opts.download:
                    return None
                files = self._download_artifact(run, art, what)
            if isinstance(files, str):
                return ArtifactParse(art.name, None, None, None, None, files)
            with self._parse_lock:
                return ci_parse.parse_artifact(art.name, files)
        except RateLimitExceeded:
            raise
        except GitHubStatusError as e:
            if e.status in (404, 410):  # expired or deleted since it was listed: cannot be read, does not count
                return ArtifactParse(art.name, None, None, None, None, EXPIRED)
            self.failures.add(f"{what}: {e}")
            return None
        except GitHubError as e:
            self.failures.add(f"{what}: {e}")
            return None
        finally:
            self._tick("artifacts", total, art.name)

    # logs of the last-good jobs
    def job_logs(
        self,
        pool: ThreadPoolExecutor,
        runs: Sequence[WorkflowRun],
        chosen: dict[str, CiEntry | None],
        jobs_by_run: dict[int, list[Job]],
    ) -> dict[int, JobLogInfo]:
        run_by_id = {r.id: r for r in runs}
        wanted: dict[int, tuple[WorkflowRun, Job]] = {}
        for entry in chosen.values():
            if entry is None or entry.job_id is None:
                continue
            job = next((j for j in jobs_by_run.get(entry.run_id, []) if j.id == entry.job_id), None)
            if job is not None:
                wanted[job.id] = (run_by_id[entry.run_id], job)
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

    def _download_artifact(self, run: WorkflowRun, art: Artifact, what: str) -> Mapping[str, bytes] | str:
        """Download (streamed to a scratch file, hashed on the way) and extract; or the reason it is refused."""
        limit = self.opts.limits.max_artifact_bytes
        if art.size_in_bytes > limit:
            return self.cache.refuse(
                run, art, f"unsafe zip: {art.size_in_bytes} bytes, over the {limit} bytes limit per artifact"
            )
        assert self.github is not None
        with self.cache.download_file(run, art) as (path, fh):
            sink = _HashingSink(fh)
            try:
                self.github.download_artifact(
                    self.opts.repo, art, sink, max_bytes=art.size_in_bytes + DOWNLOAD_MARGIN, what=what
                )
            except DownloadTooLarge:
                return self.cache.refuse(
                    run, art, f"unsafe zip: the download is larger than the {art.size_in_bytes} bytes GitHub lists"
                )
            fh.close()
            sha256 = sink.hexdigest()
            verified = digest_checked(art, sha256)
            return self.cache.store_artifact(run, art, path, sha256=sha256, verified=verified)

    def _log(self, run: WorkflowRun, job: Job, total: int) -> JobLogInfo | None:
        try:
            data = self.cache.load_log(run, job)
            if data is None:
                if not self.opts.download:
                    return None
                self._download_log(run, job)
                data = self.cache.load_log(run, job)
            with self._parse_lock:
                return ci_logs.parse_job_log(data or b"")
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
                self.github.download_job_log(self.opts.repo, job.id, fh, max_bytes=LOG_MAX_BYTES, what=what)
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


def _catalogue_candidates(artifact_name: str, model_ids: Sequence[str]) -> set[str]:
    """Catalogue model_ids an artifact `workflow_logs_{type}_{model}_{hardware}` may carry (any impl)."""
    rest = artifact_name.removeprefix(ci_parse.ARTIFACT_PREFIX)
    _, _, tail = rest.partition("_")
    if not tail:
        return set()
    return {m for m in model_ids if m.endswith(f"_{tail}")}


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


def models_from_specs(specs: Iterable[Any]) -> list[ModelRef]:
    """ModelRefs from catalogue specs (objects with model_id, device_type and impl.impl_name)."""
    return [ModelRef(s.model_id, str(s.device_type), s.impl.impl_name) for s in specs]


def write_outputs(result: CiReadResult, out_root: Path) -> tuple[Path, Path]:
    """Write models_ci_all_results_{min}_to_{max}.json and models_ci_last_good_{min}_to_{max}.json."""
    all_name, good_name = ci_report.output_names(result)
    all_path, good_path = Path(out_root) / all_name, Path(out_root) / good_name
    fsio.write_json(all_path, ci_report.all_results(result))
    fsio.write_json(good_path, ci_report.last_good(result))
    return all_path, good_path
