"""Read and validate an all-results JSON (the output of `inv ci.read`, format of §8.1) into typed values.

`parse_all_results(data, source=...)` turns the decoded JSON into an `AllResults`: per key (a model_id, or
`_unidentified`) its entries in file order (newest first). The file is outside data (read from disk, possibly
written on another machine or edited by hand), so it is checked and bounded:

- `read_all_results(path)` refuses a file larger than MAX_FILE_BYTES before decoding it, and nesting too deep
  for the JSON decoder;
- at most MAX_KEYS keys and MAX_ENTRIES entries; every field the kit uses must have its type (or be null where
  §8.1 allows it); other fields are ignored;
- strings kept for display are cut to MAX_TEXT characters; run numbers and ids are non-negative integers (a
  string of digits is accepted, as `last_good_file` does).

Every problem raises InputError naming the file, the key, the entry and the field. No other exception escapes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import fsio
from release.errors import InputError

MAX_FILE_BYTES = 1 << 30  # 1 GiB: 90 runs of 150 models with their reports are a few hundred MB
MAX_KEYS = 20_000
MAX_ENTRIES = 2_000_000
MAX_TEXT = 1_000
MAX_INT = (1 << 63) - 1
UNIDENTIFIED = "_unidentified"


@dataclass(frozen=True)
class RunInfo:
    """`ci_metadata` of an entry: the workflow run it came from."""

    run_id: int
    run_number: int
    url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    owner: str | None = None
    repo: str | None = None
    workflow_file: str | None = None
    head_sha: str | None = None


@dataclass(frozen=True)
class JobInfo:
    """`ci_metadata.ci_job_metadata`: the job matched to the artifact (None when no job matched)."""

    job_id: int | None
    name: str | None
    url: str | None
    status: str | None
    conclusion: str | None
    started_at: str | None
    completed_at: str | None


@dataclass(frozen=True)
class ResultSummary:
    """`workflow_logs.summary`: the verdict ci.read derived from the report."""

    is_passing: bool
    perf_status: str | None
    perf_unknown: bool
    accuracy_status: bool | None
    benchmarks_completed: bool | None
    evals_completed: bool | None
    docker_image: str | None
    tt_metal_commit: str | None
    vllm_commit: str | None

    def as_dict(self) -> dict[str, Any]:
        """The summary as ci_parse writes it (what `last_good.select_last_good` reads through ArtifactParse)."""
        return {
            "perf_status": self.perf_status,
            "benchmarks_completed": self.benchmarks_completed,
            "accuracy_status": self.accuracy_status,
            "evals_completed": self.evals_completed,
            "is_passing": self.is_passing,
            "docker_image": self.docker_image,
            "tt_metal_commit": self.tt_metal_commit,
            "vllm_commit": self.vllm_commit,
            "perf_unknown": self.perf_unknown,
        }


@dataclass(frozen=True)
class CheckoutLine:
    """`ci_logs.tt_inference_server_checkout`: where the job's log said which tt-inference-server commit it checked
    out (the line `git.prerelease` quotes for its default `--from`)."""

    line_number: int
    line: str
    commit: str | None = None


@dataclass(frozen=True)
class ResultEntry:
    """One entry of the file: one model's artifact in one run, with its job and the CI log facts."""

    key: str  # the model_id it is filed under (or `_unidentified`)
    index: int  # position in the key's list: 0 is the newest
    run: RunInfo | None  # None: `ci_metadata` was null (the entry cannot be placed in a run)
    job: JobInfo | None
    summary: ResultSummary | None  # None: the artifact could not be parsed
    unparseable: str | None
    artifact: str | None
    timestamp: str | None = None
    docker_image: str | None = None
    firmware_bundle: str | None = None
    kmd_version: str | None = None
    runner_name: str | None = None
    checkout: CheckoutLine | None = None

    @property
    def model_id(self) -> str | None:
        return None if self.key == UNIDENTIFIED else self.key

    @property
    def is_passing(self) -> bool:
        return self.summary is not None and self.summary.is_passing


@dataclass(frozen=True)
class AllResults:
    source: str
    by_key: Mapping[str, tuple[ResultEntry, ...]]

    def entries(self) -> Iterator[ResultEntry]:
        for items in self.by_key.values():
            yield from items

    def of_job(self, model_id: str, job_id: int | None) -> Iterator[ResultEntry]:
        """The entries of `model_id` that came from the job `job_id`."""
        return (e for e in self.by_key.get(model_id, ()) if e.job is not None and e.job.job_id == job_id)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_key.values())


# ------------------------------------------------------------------------------------------------ reading


def read_all_results(path: Path) -> AllResults:
    """Read, bound and parse an all-results file; every problem is an InputError naming the file."""
    return parse_all_results(
        fsio.read_json(Path(path), what="all-results file", max_bytes=MAX_FILE_BYTES), source=str(path)
    )


def parse_all_results(data: Any, *, source: str) -> AllResults:
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a JSON object of model_id → list of entries (models_ci_all_results)")
    if len(data) > MAX_KEYS:
        raise InputError(f"{source}: {len(data)} model_ids is more than the {MAX_KEYS} this reader accepts")
    out: dict[str, tuple[ResultEntry, ...]] = {}
    total = 0
    for key, items in data.items():
        if not isinstance(key, str) or not key:
            raise InputError(f"{source}: a model_id key is empty")
        if not isinstance(items, list):
            raise InputError(f"{source}: {fsio.shown(key)}: expected a list of entries")
        total += len(items)
        if total > MAX_ENTRIES:
            raise InputError(f"{source}: more than {MAX_ENTRIES} entries")
        out[key] = tuple(_entry(_Where(source, key, i), raw) for i, raw in enumerate(items))
    return AllResults(source, out)


@dataclass(frozen=True)
class _Where:
    source: str
    key: str
    index: int

    def fail(self, field: str, problem: str) -> InputError:
        return InputError(f"{self.source}: {fsio.shown(self.key)}[{self.index}].{field}: {problem}")


def _entry(where: _Where, raw: Any) -> ResultEntry:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where.source}: {fsio.shown(where.key)}[{where.index}]: expected an object")
    meta = _object(where, raw, "ci_metadata")
    logs = _object(where, raw, "ci_logs") or {}
    wl = _object(where, raw, "workflow_logs") or {}
    run = _run(where, meta) if meta is not None else None
    job_raw = _object(where, meta, "ci_job_metadata", prefix="ci_metadata.") if meta is not None else None
    summary_raw = _object(where, wl, "summary", prefix="workflow_logs.")
    checkout_raw = _object(where, logs, "tt_inference_server_checkout", prefix="ci_logs.")
    return ResultEntry(
        key=where.key,
        index=where.index,
        run=run,
        job=_job(where, job_raw) if job_raw is not None else None,
        summary=_summary(where, summary_raw) if summary_raw is not None else None,
        unparseable=_text(where, wl, "unparseable", "workflow_logs."),
        artifact=_text(where, wl, "dir_name", "workflow_logs."),
        timestamp=_text(where, raw, "job_run_datetimestamp"),
        docker_image=_text(where, logs, "docker_image", "ci_logs."),
        firmware_bundle=_text(where, logs, "firmware_bundle", "ci_logs."),
        kmd_version=_text(where, logs, "kmd_version", "ci_logs."),
        runner_name=_text(where, logs, "runner_name", "ci_logs."),
        checkout=_checkout(where, checkout_raw) if checkout_raw is not None else None,
    )


def _run(where: _Where, meta: Mapping[str, Any]) -> RunInfo:
    p = "ci_metadata."
    run_id = _int(where, meta, "run_id", p)
    run_number = _int(where, meta, "run_number", p)
    if run_id is None or run_number is None:
        raise where.fail(f"{p}{'run_id' if run_id is None else 'run_number'}", "missing (needed to place the entry)")
    return RunInfo(
        run_id=run_id,
        run_number=run_number,
        url=_text(where, meta, "ci_run_url", p),
        created_at=_text(where, meta, "created_at", p),
        updated_at=_text(where, meta, "updated_at", p),
        owner=_text(where, meta, "owner", p),
        repo=_text(where, meta, "repo", p),
        workflow_file=_text(where, meta, "workflow_file", p),
        head_sha=_text(where, meta, "head_sha", p),
    )


def _job(where: _Where, job: Mapping[str, Any]) -> JobInfo:
    p = "ci_metadata.ci_job_metadata."
    return JobInfo(
        job_id=_int(where, job, "job_id", p),
        name=_text(where, job, "job_name", p),
        url=_text(where, job, "job_url", p),
        status=_text(where, job, "job_status", p),
        conclusion=_text(where, job, "job_conclusion", p),
        started_at=_text(where, job, "started_at", p),
        completed_at=_text(where, job, "completed_at", p),
    )


def _checkout(where: _Where, c: Mapping[str, Any]) -> CheckoutLine | None:
    """None when the line itself is missing (nothing to quote)."""
    p = "ci_logs.tt_inference_server_checkout."
    number, line = _int(where, c, "line_number", p), _text(where, c, "line", p)
    if number is None or line is None:
        return None
    return CheckoutLine(number, line, _text(where, c, "commit", p))


def _summary(where: _Where, s: Mapping[str, Any]) -> ResultSummary:
    p = "workflow_logs.summary."
    return ResultSummary(
        is_passing=bool(_bool(where, s, "is_passing", p)),
        perf_status=_text(where, s, "perf_status", p),
        perf_unknown=bool(_bool(where, s, "perf_unknown", p)),
        accuracy_status=_bool(where, s, "accuracy_status", p),
        benchmarks_completed=_bool(where, s, "benchmarks_completed", p),
        evals_completed=_bool(where, s, "evals_completed", p),
        docker_image=_text(where, s, "docker_image", p),
        tt_metal_commit=_text(where, s, "tt_metal_commit", p),
        vllm_commit=_text(where, s, "vllm_commit", p),
    )


# ------------------------------------------------------------------------------------------------ fields


def _object(where: _Where, raw: Mapping[str, Any], field: str, *, prefix: str = "") -> Mapping[str, Any] | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise where.fail(prefix + field, "expected an object or null")
    return value


def _text(where: _Where, raw: Mapping[str, Any], field: str, prefix: str = "") -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise where.fail(prefix + field, f"expected a string or null, got {type(value).__name__}")
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def _int(where: _Where, raw: Mapping[str, Any], field: str, prefix: str = "") -> int | None:
    value = raw.get(field)
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise where.fail(prefix + field, f"expected a non-negative integer, got {fsio.shown(repr(value))}")
    return value


def _bool(where: _Where, raw: Mapping[str, Any], field: str, prefix: str = "") -> bool | None:
    value = raw.get(field)
    if value is None or isinstance(value, bool):
        return value
    raise where.fail(prefix + field, f"expected true, false or null, got {fsio.shown(repr(value))}")
