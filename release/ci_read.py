"""`inv ci.read`: read the nightly Models CI through the GitHub API into release_logs/.

1. Select runs: the newest `max_runs` completed runs of the workflow (branch/event filters on the server,
   every page), or exactly `run_id` (checked to belong to the workflow).
2. List each run's artifacts (every page; cached for completed runs). Walk runs newest first; in each run
   download the `workflow_logs_*` artifacts still needed, concurrently. Expired artifacts are skipped without
   a request. Unless `full_history`, an artifact name seen in a newer run is no longer read once every model it
   may carry has a last good entry: the model_ids it carried in newer runs and every catalogue model (all
   impls) whose name and device it spells, under any CI hardware name of the device (release.ci_hardware).
   A name never seen before is always read. A job's conclusion plays no part: its report decides.
3. Match artifacts to jobs (jobs API), choose the last good entries, and download only those jobs' logs
   (firmware / KMD from that job's tt-smi block, and the tt-inference-server commit its checkout step printed).

The cache under `out_root/ci_run_logs/` (release.ci_cache) is safe to kill at any moment, and listings of a
run are reused only while the run is completed and unchanged (same `updated_at` and attempt). Outputs are
computed from the runs selected by this invocation, never from whatever else is cached. What was parsed is kept
in one index file (release.ci_index), written last, so a warm re-run reads that file instead of the cache.

CI data is outside data, read at bounded cost: artifacts larger than the limits (ArchiveLimits) are refused before
download, downloads stream to disk and stop past the listed `size_in_bytes` (plus a margin), zips are checked
before anything is inflated and extracted in chunks (release.ci_archive); a refused artifact is an entry with an
`unparseable` reason, like an unreadable one. Job logs stream to disk (at most LOG_MAX_BYTES kept) and only their
window is parsed (ci_logs.parse_job_log). Parsing runs one artifact or log at a time, so memory does not grow
with --concurrency. A rate limit that would need a longer wait than allowed stops the run (RateLimitExceeded).

`read` is the command (request → config → read → outputs and the CI health page), called by the task and by the
ci.read step of `inv prerelease`; `read_ci` and `plan_read` are what it runs, with a client it is handed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from release import catalogue, ci_health, ci_health_page, ci_logs, ci_report, fsio, last_good, wiring
from release.ci_cache import CiCache
from release.ci_index import INDEX_FILE, CiIndex
from release.ci_model import CiReadResult, ModelRef, Progress, ReadPlan
from release.ci_parse import DEFAULT_LIMITS, ArchiveLimits
from release.ci_walk import Failures, GitHubReader, RunReader, WalkSettings
from release.config import Config, at_least
from release.errors import ConfigError, PartialFailure
from release.github_types import RepoRef, WorkflowRun

log = logging.getLogger(__name__)

__all__ = [
    "CiRead",
    "GitHubReader",
    "Planned",
    "ReadOptions",
    "ReadRequest",
    "models_from_specs",
    "plan_read",
    "read",
    "read_ci",
    "select_runs",
    "write_outputs",
]


@dataclass(frozen=True, kw_only=True)
class ReadFilters:
    """What a read takes: which runs, how much of their history, at which concurrency."""

    max_runs: int = 30
    run_id: int | None = None
    branch: str | None = None
    event: str | None = None
    full_history: bool = False
    download: bool = True
    concurrency: int = 8

    def __post_init__(self) -> None:
        at_least(self.max_runs, 1, "--max-runs")
        at_least(self.concurrency, 1, "--concurrency")


@dataclass(frozen=True, kw_only=True)
class ReadOptions(ReadFilters):
    """The filters, and where: the CI repository, its workflow, the archive limits, the project whose checkout
    commit the job logs are searched for."""

    repo: RepoRef
    workflow_file: str = "on-nightly.yml"
    limits: ArchiveLimits = DEFAULT_LIMITS
    project: str = ci_logs.PROJECT_REPO


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
    """Read the selected runs (index, cache, then GitHub) and choose the last good entry of every model."""
    emit = on_event or (lambda event: None)
    if opts.download and github is None:
        raise ConfigError("reading Models CI needs a GitHub client (or --no-download)")
    cache = CiCache(out_root, limits=opts.limits)
    swept = cache.sweep_temp()
    if swept:
        log.info("removed %d temp entries left by an interrupted read", swept)
    index = CiIndex.load(cache.root / INDEX_FILE, project=opts.project)
    failures = Failures()
    runs = select_runs(opts, github=github, cache=cache)
    emit(Progress("runs", len(runs), len(runs)))
    settings = WalkSettings(
        repo=opts.repo,
        download=opts.download,
        full_history=opts.full_history,
        limits=opts.limits,
        project=opts.project,
    )
    reader = RunReader(settings, github, cache, index, failures, emit)

    with ThreadPoolExecutor(max_workers=opts.concurrency, thread_name_prefix="ci-read") as pool:
        listings = reader.artifact_listings(pool, runs)
        walked = reader.walk(pool, runs, listings, models)
        chosen = last_good.select_last_good(walked.entries, models)
        logs = reader.job_logs(pool, runs, chosen)

    if failures.items:
        raise PartialFailure.from_items(
            "downloads",
            [*failures.items, "(nothing written; run the same command again to retry — finished downloads are kept)"],
        )
    cached_ids = {str(run_id) for run_id in cache.run_ids()}
    index.save(cache.root / INDEX_FILE, keep=cached_ids.__contains__)  # last: everything else is in the cache
    return CiReadResult(
        repo=opts.repo,
        workflow_file=opts.workflow_file,
        runs=tuple(runs),
        entries=tuple(sorted(walked.entries, key=lambda e: e.order_key(), reverse=True)),
        last_good=chosen,
        models=tuple(models),
        logs=logs,
        build_runners=walked.build_runners,
        skipped=tuple(walked.skipped),
        unknown_model_ids=tuple(last_good.unknown_model_ids(walked.entries, models)),
        missing_logs=tuple(sorted(reader.missing_logs)),
    )


def models_from_specs(specs: Iterable[Any]) -> list[ModelRef]:
    """ModelRefs from catalogue specs (objects with model_id, device_type, impl.impl_name and model_name)."""
    return [
        ModelRef(s.model_id, str(s.device_type), s.impl.impl_name, str(getattr(s, "model_name", "") or ""))
        for s in specs
    ]


def write_outputs(result: CiReadResult, out_root: Path) -> tuple[Path, Path]:
    """Write models_ci_all_results_{min}_to_{max}.json and models_ci_last_good_{min}_to_{max}.json (a file that
    already holds the same document is left as it is)."""
    all_name, good_name = ci_report.output_names(result)
    all_path, good_path = Path(out_root) / all_name, Path(out_root) / good_name
    fsio.write_json_if_changed(all_path, ci_report.all_results(result))
    fsio.write_json_if_changed(good_path, ci_report.last_good(result))
    return all_path, good_path


# ------------------------------------------------------------------------------------------------ the command


@dataclass(frozen=True, kw_only=True)
class ReadRequest(ReadFilters):
    """What `inv ci.read` (or the ci.read step) asks for; the CI repository and workflow come from the config."""

    out_root: Path | None = None  # default: release_logs/
    dry_run: bool = False

    def options(self, cfg: Config) -> ReadOptions:
        filters = {f.name: getattr(self, f.name) for f in fields(ReadFilters)}
        return ReadOptions(repo=RepoRef(cfg.ci_owner, cfg.ci_repo), workflow_file=cfg.ci_workflow_file, **filters)


@dataclass(frozen=True)
class CiRead:
    """What a read wrote: the two outputs, the health page, and the summary (`--json`)."""

    all_results: Path
    last_good: Path
    health_page: ci_health_page.PageResult
    summary: dict[str, Any]


@dataclass(frozen=True)
class Planned:
    """A dry run's plan: the runs a read would take and which are cached."""

    plan: ReadPlan


def read(cfg: Config, request: ReadRequest, *, on_event: Callable[[object], None] | None = None) -> CiRead | None:
    """Read Models CI into models_ci_{all_results,last_good}_*.json and the CI health page; `on_event` gets the
    progress, every rate-limit wait, and the result (`CiRead`). A dry run lists the runs (`Planned`; GitHub reads
    only, nothing written) and returns None."""
    emit = on_event or (lambda _event: None)
    opts = request.options(cfg)
    root = request.out_root or cfg.release_logs
    if opts.download:
        cfg.require_ci_token(f"Actions: read and Metadata: read on {opts.repo} (classic token: repo scope)")
    if request.dry_run:
        github = wiring.ci_github_client(cfg, cache_root=root, read_only_cache=True) if opts.download else None
        emit(Planned(plan_read(opts, github=github, out_root=root)))
        return None
    specs = list(catalogue.load(cfg).specs.values())
    github = None
    if opts.download:
        github = wiring.ci_github_client(cfg, cache_root=root, on_event=on_event, pool_size=max(16, opts.concurrency))
    result = read_ci(opts, github=github, models=models_from_specs(specs), out_root=root, on_event=on_event)
    all_path, good_path = write_outputs(result, root)
    page = ci_health_page.write_page(all_path, rows=ci_health.rows_from_specs(specs), last_good=good_path)
    summary = ci_report.summary(result)
    summary["outputs"] = [str(all_path), str(good_path)]
    summary["health_page"] = str(page.path)
    if github is not None:
        summary["requests"] = {
            "api": github.stats.api,
            "not_modified": github.stats.not_modified,
            "blob": github.stats.blob,
        }
    done = CiRead(all_path, good_path, page, summary)
    emit(done)
    return done
