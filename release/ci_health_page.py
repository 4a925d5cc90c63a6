"""The Models CI health page: a HealthGrid rendered to one self-contained HTML file (Jinja2, autoescaped).

`render(grid)` is pure: grid → text. `write_page(all_results, rows=..., last_good=..., out=...)` reads the
files (bounded, validated), builds the grid, renders it and writes it atomically next to the JSON as
`models_ci_health_{min}_to_{max}.html` (the name of the all-results file with `all_results` → `health`).
`inv ci.read` calls it after writing its JSON; `inv ci.health` calls it on a file given by the user.

The page loads nothing: inline CSS and script, and a Content-Security-Policy that forbids any other source.
Every string that comes from CI is escaped by the template engine; links are kept only when they are http(s)
URLs (`ci_health.safe_url`). Cell details travel as one JSON block with a string table, so the per-cell markup
stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from release import __version__, fsio
from release.ci_health import (
    FAIL,
    INCOMPLETE,
    NO_REPORT,
    STATE_LABELS,
    STATES,
    CatalogueRow,
    Cell,
    HealthGrid,
    ModelRow,
    build_grid,
    safe_url,
)
from release.ci_results_file import RunInfo, read_all_results
from release.imagetags import image_tag
from release.last_good_file import read_last_good
from release.release_inputs import ci_span, health_page_name

SHOWN = 160  # longest CI string shown in the page (job names, images, reasons); the rest is cut with "…"
STATUS_SHORT = {"EXPERIMENTAL": "EXP", "FUNCTIONAL": "FUNC", "COMPLETE": "COMPL", "TOP_PERF": "TOP"}


@dataclass(frozen=True)
class PageResult:
    path: Path
    grid: HealthGrid
    size: int


# ------------------------------------------------------------------------------------------------ files


def page_path(all_results: Path) -> Path:
    """`…/models_ci_all_results_102_to_109.json` → `…/models_ci_health_102_to_109.html`; another name `x.json`
    gives `x.health.html`."""
    all_results = Path(all_results)
    return all_results.with_name(health_page_name(all_results) or f"{all_results.stem}.health.html")


def sibling_last_good(all_results: Path) -> Path | None:
    """The `models_ci_last_good_{same runs}.json` next to an all-results file, when it exists."""
    span = ci_span(all_results)
    if span is None:
        return None
    path = Path(all_results).with_name(f"models_ci_last_good_{span}.json")
    return path if path.is_file() else None


def write_page(
    all_results: Path,
    *,
    rows: Sequence[CatalogueRow],
    last_good: Path | None = None,
    out: Path | None = None,
    dry_run: bool = False,
) -> PageResult:
    """Read the all-results file (and the last-good file when given), render the page, write it atomically
    (`dry_run`: render only)."""
    results = read_all_results(Path(all_results))
    records = read_last_good(Path(last_good)) if last_good is not None else None
    grid = build_grid(
        replace(results, source=Path(all_results).name),  # the page never shows a machine's full path
        rows,
        last_good=records,
        last_good_source=Path(last_good).name if last_good is not None else None,
    )
    text = render(grid)
    target = Path(out) if out is not None else page_path(all_results)
    if not dry_run:
        fsio.atomic_write(target, text)
    return PageResult(target, grid, len(text.encode("utf-8")))


# ------------------------------------------------------------------------------------------------ rendering


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("release", "templates"),
        autoescape=True,  # every value from CI is escaped; only Markup built here is trusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # `tojson` escapes < > & ' (safe inside <script>); compact and in insertion order
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "separators": (",", ":"), "ensure_ascii": False}
    return env


def render(grid: HealthGrid) -> str:
    """The page's HTML text for a grid (deterministic: the same grid gives the same bytes)."""
    template = _environment().get_template("ci_health.html.j2")
    return template.render(**context(grid))


def context(grid: HealthGrid) -> dict[str, Any]:
    """What the template shows, with the strings prepared (cut, commits shortened, anchors)."""
    rows = grid.rows
    anchors = {r.model.model_id: f"r{i}" for i, r in enumerate(rows)}
    views = [_row_view(r, anchors[r.model.model_id]) for r in rows]
    groups = []
    n = 0
    for g in grid.groups:
        groups.append({"name": _cut(g.name), "rows": views[n : n + len(g.rows)]})
        n += len(g.rows)
    runs = grid.runs
    span = f"runs #{runs[-1].run_number}–#{runs[0].run_number}" if runs else "no runs"
    return {
        "version": __version__,
        "title_span": span,
        "repo": grid.repo,
        "workflow_file": grid.workflow_file,
        "source": grid.source,
        "last_good_source": grid.last_good_source,
        "runs": runs,
        "rows_total": len(rows),
        "groups": groups,
        "passing_now": sum(1 for r in rows if r.streak.outcome == "pass"),
        "regressions": [_link(r, anchors, since=r.failing_since) for r in grid.regressions],
        "without": [_link(r, anchors) for r in grid.without_last_good],
        "legend": [(s, STATE_LABELS[s]) for s in STATES],
        "footer": _footer(grid),
        "blob": _blob(grid, rows),
    }


def _link(row: ModelRow, anchors: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A model named in the boxes at the top, linking to its row."""
    mark = row.last_good.run_number if row.last_good else None
    return {"anchor": anchors[row.model.model_id], "model_id": row.model.model_id, "last_good": mark, **extra}


def _row_view(row: ModelRow, anchor: str) -> dict[str, Any]:
    model = row.model
    mark = row.last_good
    streak, kind = "", ""
    if row.streak.outcome == "pass":
        streak, kind = f"✓{row.streak.length}", "p"
    elif row.streak.outcome == "fail":
        streak, kind = f"✗{row.streak.length} since #{row.streak.since}", "f"
    last_good = ""
    if mark is not None:
        last_good = f"★ #{mark.run_number}" + ("" if mark.in_columns else " (older)")
    return {
        "anchor": anchor,
        "mid": Markup(escape(model.model_id)),  # escaped once, used by every cell of the row
        "device": model.device,
        "impl": model.impl_name,
        "status": STATUS_SHORT.get(model.status or "", model.status),
        "streak": streak,
        "streak_kind": kind,
        "last_good": last_good,
        "last_good_url": mark.job_url or mark.run_url if mark is not None else None,
        "regression": row.regression,
        "title": _row_title(row),
        "cells": row.cells,
    }


def _row_title(row: ModelRow) -> str:
    model, mark = row.model, row.last_good
    lines = [model.model_id, f"{model.model_name} on {model.device}, impl {model.impl_name}"]
    if model.status:
        lines.append(f"catalogue status {model.status}")
    if mark is None:
        lines.append("no last good run")
    else:
        where = "" if mark.in_columns else ", older than the runs shown"
        lines.append(f"last good: run #{mark.run_number}{where} ({mark.perf_status or 'perf ?'})")
        lines.append(_commits(mark.tt_metal_commit, mark.vllm_commit))
        if mark.firmware_bundle or mark.kmd_version:
            lines.append(f"firmware {mark.firmware_bundle or '?'}, KMD {mark.kmd_version or '?'}")
        if mark.job_name:
            lines.append(f"job {_cut(mark.job_name)}")
    if row.streak.outcome == "pass":
        lines.append(f"passing in the newest {row.streak.length} reported run(s)")
    elif row.streak.outcome == "fail":
        lines.append(f"failing in the newest {row.streak.length} reported run(s), since #{row.streak.since}")
    return "\n".join(lines)


def _commits(tt_metal: str | None, vllm: str | None) -> str:
    metal = tt_metal[:12] if tt_metal else "unknown"
    return f"tt-metal {metal}" + (f", vLLM {vllm[:12]}" if vllm else "")


def _footer(grid: HealthGrid) -> str:
    parts = [
        "Cells: the state of each catalogue model in each run; hover for details, click for links. "
        "Runs are those with at least one result in the file; ci.read stops reading a model's older runs once "
        "its last good run is known (--full-history reads them all), so older cells may say no report."
    ]
    if grid.not_in_catalogue:
        names = ", ".join(f"{_cut(k, 80)} ({n})" for k, n in grid.not_in_catalogue)
        parts.append(f"In the file but not in the catalogue (not shown): {names}.")
    if grid.last_good_not_in_catalogue:
        parts.append(f"In the last-good file but not in the catalogue: {', '.join(grid.last_good_not_in_catalogue)}.")
    if grid.unplaced:
        entries = "entry" if grid.unplaced == 1 else "entries"
        parts.append(f"{grid.unplaced} {entries} without ci_metadata (no run) left out.")
    return " ".join(parts)


class _Strings:
    """A string table: each distinct string once, cells refer to it by index (0 = none)."""

    def __init__(self) -> None:
        self.items: list[str | None] = [None]
        self._index: dict[str, int] = {}

    def ref(self, text: str | None) -> int:
        if not text:
            return 0
        text = _cut(text)
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.items)
            self.items.append(text)
        return found


def _blob(grid: HealthGrid, rows: Sequence[ModelRow]) -> dict[str, Any]:
    """Cell details for the page's script: {s: strings, runs: {n: url}, c: {row: [record or 0 per column]}}.

    A record is [job id, job name, image tag, commits, firmware/KMD, runner, reasons, job link] (indices into
    `s`, 0 = none; the job link is 0 when it is the run's URL + /job/<id>, -1 when there is none); trailing
    zeros are dropped.
    """
    strings = _Strings()
    runs = {str(r.run_number): r.url for r in grid.runs if r.url}
    cells: dict[str, list[list[int] | int]] = {}
    for i, row in enumerate(rows):
        mine: list[list[int] | int] = [_record(cell, strings) if _has_record(cell) else 0 for cell in row.cells]
        while mine and mine[-1] == 0:
            mine.pop()
        if mine:
            cells[str(i)] = mine
    return {
        "s": strings.items,
        "runs": runs,
        "c": cells,
        "labels": STATE_LABELS,
        "empty": {NO_REPORT: "no result for this model in this run", INCOMPLETE: "the run had not completed"},
    }


def _has_record(cell: Cell) -> bool:
    return cell.entry is not None or cell.state == FAIL


def _record(cell: Cell, strings: _Strings) -> list[int]:
    entry = cell.entry
    reasons = strings.ref("; ".join(cell.reasons))
    if entry is None:
        return [0, 0, 0, 0, 0, 0, reasons]
    summary, job = entry.summary, entry.job
    image = (summary.docker_image if summary else None) or entry.docker_image
    commits = _commits(summary.tt_metal_commit, summary.vllm_commit) if summary else None
    hw = None
    if entry.firmware_bundle or entry.kmd_version:
        hw = f"firmware {entry.firmware_bundle or '?'}, KMD {entry.kmd_version or '?'}"
    job_id = job.job_id if job is not None and job.job_id is not None else 0
    record = [
        job_id,
        strings.ref(job.name if job else None),
        strings.ref(image_tag(image) if image else None),
        strings.ref(commits),
        strings.ref(hw),
        strings.ref(entry.runner_name),
        reasons,
        _job_link(entry.run, job.url if job else None, job_id, strings),
    ]
    while record and record[-1] == 0:
        record.pop()
    return record


def _job_link(run: RunInfo | None, url: str | None, job_id: int, strings: _Strings) -> int:
    safe = safe_url(url)
    if safe is None:
        return -1
    run_url = safe_url(run.url if run else None)
    if job_id and run_url and safe == f"{run_url}/job/{job_id}":
        return 0
    return strings.ref(safe) if len(safe) <= SHOWN else -1


def _cut(text: str, limit: int = SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_line(page: PageResult) -> str:
    """One line for a task: what the page shows and where the last good came from."""
    g = page.grid
    source = f"from {g.last_good_source}" if g.last_good_source else "computed with ci.read's rule"
    return (
        f"CI health: {len(g.rows)} models × {len(g.runs)} runs, {len(g.regressions)} regressed, "
        f"{len(g.without_last_good)} without a last good run (last good {source}); {page.size // 1024} KiB"
    )
