"""Pure: the Models CI health grid (model × run) from an all-results file, the catalogue and the last good.

`build_grid(results, rows, last_good=...)` returns a HealthGrid: one row per catalogue model (catalogue order,
grouped by model name), one column per run found in the file (newest first), and in every cell a state:

- a pass, at its perf level: `target`, `complete`, `functional` or `experimental` (summary.perf_status);
- `fail`: a report that does not pass (accuracy check failed, evals missing, perf checks missing);
- `incomplete`: the model's job (or the whole run) did not complete: cancelled, timed out or still running;
- `no-report`: no entry for the model in that run (job missing, artifact expired or not read), or an artifact
  whose report could not be parsed.

When a run holds several entries of one model, the cell shows the one `ci.read` would choose (a passing one
first, then the newest). The last good run of each model comes from the last-good file when one is given, else
it is computed with `last_good.select_last_good`, the rule `inv ci.read` applies. Per model: the current streak
(passes or failures, runs without a report skipped), the run it has been failing since, and whether that is a
regression (failing now after a last good run). Per run: passed / failed / missing counts over the catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from release import last_good as last_good_rule
from release.ci_model import CiEntry, ModelRef
from release.ci_parse import PERF_LEVELS, ArtifactParse
from release.ci_results_file import AllResults, ResultEntry
from release.last_good_file import LastGoodRecord

TARGET, COMPLETE, FUNCTIONAL, EXPERIMENTAL = (*PERF_LEVELS, "experimental")
FAIL = "fail"
INCOMPLETE = "incomplete"
NO_REPORT = "no-report"
PASS_STATES = (TARGET, COMPLETE, FUNCTIONAL, EXPERIMENTAL)
STATES = (*PASS_STATES, FAIL, INCOMPLETE, NO_REPORT)
STATE_LABELS = {
    TARGET: "pass at perf target",
    COMPLETE: "pass, perf complete",
    FUNCTIONAL: "pass, perf functional",
    EXPERIMENTAL: "pass, perf experimental",
    FAIL: "fail",
    INCOMPLETE: "run not completed",
    NO_REPORT: "no report",
}
_SAFE_URL = re.compile(r"https?://[^\s\"'<>`\\\x00-\x1f\x7f]+")
UNFINISHED_CONCLUSIONS = frozenset({"cancelled", "timed_out", "skipped", "stale"})


@dataclass(frozen=True)
class CatalogueRow:
    """What the page shows of one catalogue model."""

    model_id: str
    model_name: str  # the weight's basename, e.g. Llama-3.1-8B-Instruct
    device: str
    impl_name: str
    status: str | None = None  # the catalogue's status (EXPERIMENTAL … TOP_PERF)


@dataclass(frozen=True)
class RunColumn:
    run_number: int
    run_id: int
    url: str | None
    date: str | None  # YYYY-MM-DD of the run's creation
    completed: bool  # False when an entry's job of this run had not completed
    passed: int = 0
    failed: int = 0
    incomplete: int = 0
    missing: int = 0


@dataclass(frozen=True)
class Cell:
    run_number: int
    state: str
    entry: ResultEntry | None = None
    reasons: tuple[str, ...] = ()
    last_good: bool = False

    @property
    def passed(self) -> bool:
        return self.state in PASS_STATES


@dataclass(frozen=True)
class LastGoodMark:
    """A model's last good run and what the page says about it."""

    run_number: int
    source: str  # "file" | "computed"
    in_columns: bool
    perf_status: str | None = None
    tt_metal_commit: str | None = None
    vllm_commit: str | None = None
    docker_image: str | None = None
    job_url: str | None = None
    job_name: str | None = None
    run_url: str | None = None
    firmware_bundle: str | None = None
    kmd_version: str | None = None


@dataclass(frozen=True)
class Streak:
    outcome: str | None  # "pass" | "fail" | None (no report in any run)
    length: int = 0
    since: int | None = None  # the oldest run of the streak


@dataclass(frozen=True)
class ModelRow:
    model: CatalogueRow
    cells: tuple[Cell, ...]
    last_good: LastGoodMark | None
    streak: Streak

    @property
    def regression(self) -> bool:
        """Failing in its newest reported runs although it has a last good run."""
        return self.streak.outcome == "fail" and self.last_good is not None

    @property
    def failing_since(self) -> int | None:
        return self.streak.since if self.streak.outcome == "fail" else None


@dataclass(frozen=True)
class ModelGroup:
    name: str
    rows: tuple[ModelRow, ...]


@dataclass(frozen=True)
class HealthGrid:
    source: str  # the all-results file's name
    last_good_source: str | None  # the last-good file's name, None when computed
    runs: tuple[RunColumn, ...]
    groups: tuple[ModelGroup, ...]
    repo: str | None = None
    workflow_file: str | None = None
    not_in_catalogue: tuple[tuple[str, int], ...] = ()  # (key, entries) for CI keys the catalogue lacks
    unplaced: int = 0  # entries without ci_metadata
    last_good_not_in_catalogue: tuple[str, ...] = ()

    @property
    def rows(self) -> tuple[ModelRow, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    @property
    def without_last_good(self) -> tuple[ModelRow, ...]:
        return tuple(r for r in self.rows if r.last_good is None)

    @property
    def regressions(self) -> tuple[ModelRow, ...]:
        return tuple(r for r in self.rows if r.regression)


# ------------------------------------------------------------------------------------------------ building


def rows_from_specs(specs: Iterable[Any]) -> list[CatalogueRow]:
    """CatalogueRows from catalogue ModelSpecs (model_id, model_name, device_type, impl.impl_name, status)."""
    return [
        CatalogueRow(s.model_id, s.model_name, str(s.device_type), s.impl.impl_name, getattr(s, "status", None))
        for s in specs
    ]


def build_grid(
    results: AllResults,
    rows: Sequence[CatalogueRow],
    *,
    last_good: Mapping[str, LastGoodRecord | None] | None = None,
    last_good_source: str | None = None,
) -> HealthGrid:
    """The grid; `last_good` (a parsed last-good file) decides the marks, else they are computed."""
    runs = _run_columns(results)
    numbers = [r.run_number for r in runs]
    known = {r.model_id for r in rows}
    marks = _marks_from_file(results, rows, last_good, set(numbers)) if last_good is not None else None
    if marks is None:
        marks = _marks_computed(results, rows, set(numbers))
    model_rows = []
    for row in rows:
        by_run = _by_run(results.by_key.get(row.model_id, ()))
        mark = marks.get(row.model_id)
        cells = tuple(_cell(run, by_run.get(run.run_number, ()), mark) for run in runs)
        model_rows.append(ModelRow(row, cells, mark, _streak(cells)))
    runs = _with_counts(runs, model_rows)
    first = next((e.run for e in results.entries() if e.run is not None), None)
    return HealthGrid(
        source=results.source,
        last_good_source=last_good_source if last_good is not None else None,
        runs=runs,
        groups=_groups(model_rows),
        repo=f"{first.owner}/{first.repo}" if first and first.owner and first.repo else None,
        workflow_file=first.workflow_file if first else None,
        not_in_catalogue=tuple((k, len(v)) for k, v in results.by_key.items() if k not in known),
        unplaced=sum(1 for e in results.entries() if e.run is None),
        last_good_not_in_catalogue=tuple(sorted(k for k in (last_good or {}) if k not in known)),
    )


def _run_columns(results: AllResults) -> tuple[RunColumn, ...]:
    """Every run found in the file, newest first (the first entry seen of a run number names the run)."""
    first: dict[int, ResultEntry] = {}
    unfinished: set[int] = set()
    for entry in results.entries():
        if entry.run is None:
            continue
        first.setdefault(entry.run.run_number, entry)
        if entry.job is not None and entry.job.status not in (None, "completed"):
            unfinished.add(entry.run.run_number)
    columns = []
    for number in sorted(first, reverse=True):
        run = first[number].run
        assert run is not None
        columns.append(
            RunColumn(
                run_number=number,
                run_id=run.run_id,
                url=safe_url(run.url),
                date=_date(run.created_at),
                completed=number not in unfinished,
            )
        )
    return tuple(columns)


def _by_run(entries: Sequence[ResultEntry]) -> dict[int, list[ResultEntry]]:
    """A model's entries per run number, each list in file order (newest first)."""
    out: dict[int, list[ResultEntry]] = {}
    for entry in entries:
        if entry.run is not None:
            out.setdefault(entry.run.run_number, []).append(entry)
    return out


def _chosen(entries: Sequence[ResultEntry]) -> ResultEntry | None:
    """The entry a cell shows: the newest passing one, else the newest (the file lists newest first)."""
    return next((e for e in entries if e.is_passing), entries[0] if entries else None)


def _cell(run: RunColumn, entries: Sequence[ResultEntry], mark: LastGoodMark | None) -> Cell:
    is_last_good = mark is not None and mark.run_number == run.run_number
    entry = _chosen(entries)
    if entry is None:
        if not run.completed:
            return Cell(run.run_number, INCOMPLETE, None, ("the run had not completed",), is_last_good)
        return Cell(run.run_number, NO_REPORT, None, ("no result for this model in this run",), is_last_good)
    state, reasons = classify(entry)
    return Cell(run.run_number, state, entry, reasons, is_last_good)


def classify(entry: ResultEntry) -> tuple[str, tuple[str, ...]]:
    """The state of one entry and the reasons behind it."""
    summary = entry.summary
    if summary is not None and summary.is_passing:
        level = summary.perf_status if summary.perf_status in PERF_LEVELS else EXPERIMENTAL
        return level, (("perf unknown: the report has no tput_user_check",) if summary.perf_unknown else ())
    job = entry.job
    if job is not None and (job.status not in (None, "completed") or job.conclusion in UNFINISHED_CONCLUSIONS):
        return INCOMPLETE, (f"job {job.status or '?'}, conclusion {job.conclusion or 'none'}",)
    if summary is None:
        return NO_REPORT, (f"report unreadable: {entry.unparseable or 'no summary'}",)
    reasons = []
    if summary.benchmarks_completed is False:
        reasons.append("perf checks missing (no target_checks)")
    if summary.evals_completed is False:
        reasons.append("evals missing or without accuracy_check")
    elif summary.accuracy_status is False:
        reasons.append("accuracy check failed")
    return FAIL, tuple(reasons) or ("not passing",)


def _streak(cells: Sequence[Cell]) -> Streak:
    outcome: str | None = None
    length = 0
    since: int | None = None
    for cell in cells:  # newest first
        if cell.state in (NO_REPORT, INCOMPLETE):
            continue
        kind = "pass" if cell.passed else "fail"
        if outcome is None:
            outcome = kind
        elif kind != outcome:
            break
        length += 1
        since = cell.run_number
    return Streak(outcome, length, since)


def _with_counts(runs: Sequence[RunColumn], rows: Sequence[ModelRow]) -> tuple[RunColumn, ...]:
    out = []
    for i, run in enumerate(runs):
        states = [r.cells[i].state for r in rows]
        out.append(
            RunColumn(
                run.run_number,
                run.run_id,
                run.url,
                run.date,
                run.completed,
                passed=sum(s in PASS_STATES for s in states),
                failed=states.count(FAIL),
                incomplete=states.count(INCOMPLETE),
                missing=states.count(NO_REPORT),
            )
        )
    return tuple(out)


def _groups(rows: Sequence[ModelRow]) -> tuple[ModelGroup, ...]:
    """Rows grouped by model name, groups in the order of their first row, rows in catalogue order."""
    grouped: dict[str, list[ModelRow]] = {}
    for row in rows:
        grouped.setdefault(row.model.model_name, []).append(row)
    return tuple(ModelGroup(name, tuple(items)) for name, items in grouped.items())


# ------------------------------------------------------------------------------------------------ last good


def _marks_from_file(
    results: AllResults,
    rows: Sequence[CatalogueRow],
    records: Mapping[str, LastGoodRecord | None],
    columns: set[int],
) -> dict[str, LastGoodMark]:
    marks = {}
    for row in rows:
        rec = records.get(row.model_id)
        if rec is None:
            continue
        run_url = _text(rec.ci_run_url)
        if run_url is None:
            run_url = next(
                (
                    e.run.url
                    for e in results.by_key.get(row.model_id, ())
                    if e.run is not None and e.run.run_number == rec.ci_run_number
                ),
                None,
            )
        marks[row.model_id] = LastGoodMark(
            run_number=rec.ci_run_number,
            source="file",
            in_columns=rec.ci_run_number in columns,
            perf_status=_text(rec.perf_status),
            tt_metal_commit=_text(rec.tt_metal_commit),
            vllm_commit=_text(rec.vllm_commit),
            docker_image=_text(rec.docker_image),
            job_url=safe_url(_text(rec.ci_job_url)),
            job_name=_text(rec.ci_job_name),
            run_url=safe_url(run_url),
            firmware_bundle=_text(rec.firmware_bundle),
            kmd_version=_text(rec.driver_version),
        )
    return marks


def _marks_computed(results: AllResults, rows: Sequence[CatalogueRow], columns: set[int]) -> dict[str, LastGoodMark]:
    """The last good of every catalogue model by ci.read's own rule (`last_good.select_last_good`)."""
    by_entry: dict[int, ResultEntry] = {}
    ci_entries = []
    for items in results.by_key.values():
        for entry in items:
            ci_entry = as_ci_entry(entry, len(items))
            if ci_entry is not None:
                by_entry[id(ci_entry)] = entry
                ci_entries.append(ci_entry)
    models = [ModelRef(r.model_id, r.device, r.impl_name) for r in rows]
    chosen = last_good_rule.select_last_good(ci_entries, models)
    marks = {}
    for model_id, ci_entry in chosen.items():
        if ci_entry is None:
            continue
        entry = by_entry[id(ci_entry)]
        assert entry.run is not None and entry.summary is not None
        marks[model_id] = LastGoodMark(
            run_number=entry.run.run_number,
            source="computed",
            in_columns=entry.run.run_number in columns,
            perf_status=entry.summary.perf_status,
            tt_metal_commit=entry.summary.tt_metal_commit,
            vllm_commit=entry.summary.vllm_commit,
            docker_image=entry.summary.docker_image,
            job_url=safe_url(entry.job.url if entry.job else None),
            job_name=entry.job.name if entry.job else None,
            run_url=safe_url(entry.run.url),
            firmware_bundle=entry.firmware_bundle,
            kmd_version=entry.kmd_version,
        )
    return marks


def as_ci_entry(entry: ResultEntry, count: int) -> CiEntry | None:
    """A file entry as the CiEntry `select_last_good` compares (None when it names no run).

    The file does not keep artifact ids; it lists each model's entries in ci.read's order (newest first, ties
    by artifact id), so `count - index` stands in for the artifact id and breaks ties the same way.
    """
    if entry.run is None:
        return None
    parse = ArtifactParse(
        entry.artifact or "",
        entry.model_id,
        entry.summary.as_dict() if entry.summary is not None else None,
        None,
        None,
        entry.unparseable,
    )
    job = {"job_id": entry.job.job_id, "completed_at": entry.job.completed_at} if entry.job is not None else None
    return CiEntry(entry.run.run_id, entry.run.run_number, count - entry.index, entry.artifact or "", parse, job)


# ------------------------------------------------------------------------------------------------ values


def safe_url(url: Any) -> str | None:
    """An http(s) URL the page may link to; anything else (javascript:, data:, spaces, quotes) is dropped."""
    if isinstance(url, str) and len(url) <= 2000 and _SAFE_URL.fullmatch(url):
        return url
    return None


def _text(value: Any) -> str | None:
    """A string field of a last-good record (the reader checks only some of them), else None."""
    return value if isinstance(value, str) and value else None


def _date(ts: str | None) -> str | None:
    if ts and len(ts) >= 10 and ts[4] == "-" and ts[7] == "-" and ts[:4].isdigit():
        return ts[:10]
    return None
