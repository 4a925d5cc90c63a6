"""Pure: the models diff of a release — one typed value, saved as `release_logs/release_models_diff.json` and
rendered as `release_models_diff.md` (§4.6 plus vLLM, downgrades, needs-attention and disagreements).

`inv spec.update` computes it (`spec_report.models_diff`) and writes both files; the PR body and the release
notes read the JSON back with `parse` (one reader) and render from the value, never from the markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from release.errors import InputError
from release.fsio import json_kind
from release.markdown import code, table

SCHEMA = 1
STATUS_ORDER = ("EXPERIMENTAL", "FUNCTIONAL", "COMPLETE", "TOP_PERF")
TABLE_HEADERS = (
    "Impl", "Model Arch", "Weights", "Devices", "TT-Metal Commit Change", "vLLM Commit Change", "Status Change",
    "CI Job Link",
)  # fmt: skip


@dataclass(frozen=True)
class DiffRow:
    """One template whose commits or status changed (`status_after` None: the status did not change)."""

    impl_id: str
    model_arch: str  # the base name of the first weight
    weights: tuple[str, ...]
    devices: tuple[str, ...]
    tt_metal_before: str | None
    tt_metal_after: str | None
    vllm_before: str | None
    vllm_after: str | None
    status_before: str | None
    status_after: str | None
    ci_run_number: int | None = None
    ci_job_url: str | None = None

    @property
    def is_new(self) -> bool:
        return bool(self.status_after) and not self.status_before

    @property
    def status_changed(self) -> bool:
        return self.is_new or bool(self.status_before and self.status_after and self.status_before != self.status_after)

    @property
    def direction(self) -> str:
        """'up', 'down', 'new', or '' (no change, or a status outside STATUS_ORDER)."""
        if self.is_new:
            return "new"
        before, after = self.status_before, self.status_after
        if not self.status_changed or before not in STATUS_ORDER or after not in STATUS_ORDER:
            return ""
        return "up" if STATUS_ORDER.index(after) > STATUS_ORDER.index(before) else "down"

    # the cells of §4.6, shared by the diff and the release notes
    def weights_cell(self) -> str:
        return "<br>".join(code(w) for w in self.weights)

    def devices_cell(self) -> str:
        return ", ".join(self.devices)

    def tt_metal_cell(self) -> str:
        return commit_change(self.tt_metal_before, self.tt_metal_after)

    def vllm_cell(self) -> str:
        return commit_change(self.vllm_before, self.vllm_after)

    def status_cell(self) -> str:
        return _change(self.status_before, self.status_after, show=str, same=" (no change)", missing="No change")

    def ci_cell(self) -> str:
        return ci_link(self.ci_run_number, self.ci_job_url)


@dataclass(frozen=True)
class Downgrade:
    """A status downgrade CI suggests but `--allow-downgrade` was not given for."""

    template: str
    status_before: str
    proposed_status: str
    perf_status: str
    model_id: str
    ci_run_number: int | None
    ci_url: str | None


@dataclass(frozen=True)
class HeldBack:
    """An explicit-image template whose CI run used other commits than its image carries (not written)."""

    template: str
    ci_tt_metal: str
    docker_image: str
    tt_metal: str


@dataclass(frozen=True)
class Rejected:
    template: str
    model_id: str
    reason: str


@dataclass(frozen=True)
class Disagreement:
    """One candidate CI record of a template whose candidates carry different commits."""

    template: str
    model_id: str
    chosen: bool
    tt_metal_commit: str | None
    vllm_commit: str | None
    ci_run_number: int | None
    ci_job_url: str | None


@dataclass(frozen=True)
class ModelsDiff:
    rows: tuple[DiffRow, ...]
    against: str | None = None  # the git ref compared with (`--against`), else the catalogue before the update
    downgrades: tuple[Downgrade, ...] = ()
    held_back: tuple[HeldBack, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    disagreements: tuple[Disagreement, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "against": self.against,
            "rows": [_json(r) for r in self.rows],
            "downgrades": [_json(d) for d in self.downgrades],
            "held_back": [_json(h) for h in self.held_back],
            "rejected": [_json(r) for r in self.rejected],
            "disagreements": [_json(d) for d in self.disagreements],
        }


def commit_change(before: str | None, after: str | None) -> str:
    return _change(before, after, show=lambda commit: f"`{commit}`", same="", missing="N/A")


def _change(before: str | None, after: str | None, *, show: Callable[[str], str], same: str, missing: str) -> str:
    """A §4.6 change cell: `old → new`, `new` + `same` when equal, `New: new` without an old value, else `missing`."""
    if after and before and before != after:
        return f"{show(before)} → {show(after)}"
    if after and before == after:
        return show(after) + same
    if after:
        return f"New: {show(after)}"
    return missing


def ci_link(run_number: int | None, url: str | None) -> str:
    if url and run_number is not None:
        return f"[Run {run_number}]({url})"
    if url:
        return f"[View Job]({url})"
    return "N/A"


# ---------------------------------------------------------------------------------------------- rendering


def render(diff: ModelsDiff) -> str:
    """release_models_diff.md."""
    lines = ["# Model Spec Release Updates", ""]
    against = f" against {code(diff.against)}" if diff.against else ""
    lines += [f"This document shows model specification updates{against}.", ""]
    if not diff.rows:
        lines.append("No updates were made.")
    else:
        lines += table(TABLE_HEADERS, [_row_cells(r) for r in diff.rows], wide_rule=True)
    if diff.downgrades:
        lines += ["", "## Proposed status downgrades (not applied)", ""]
        lines += ["Run `inv spec.update ... --allow-downgrade` to apply them after review.", ""]
        for d in diff.downgrades:
            lines.append(
                f"- {d.template}: {d.status_before} → {d.proposed_status} (perf_status {code(d.perf_status)} of "
                f"{code(d.model_id)}, {ci_link(d.ci_run_number, d.ci_url)})"
            )
    if diff.held_back or diff.rejected:
        lines += ["", "## Needs attention", ""]
        for h in diff.held_back:
            lines.append(
                f"- {h.template}: CI passed with tt-metal {code(h.ci_tt_metal)}, but the template's explicit "
                f"docker_image {code(h.docker_image)} carries {code(h.tt_metal)}; its commits were not changed. "
                "Publish an image for the new commit, then update docker_image and tt_metal_commit together"
            )
        for r in diff.rejected:
            lines.append(f"- {r.template}: {code(r.model_id)} not applied: {r.reason}")
    if diff.disagreements:
        lines += ["", "## CI commit disagreements", ""]
        rows = [
            (d.template, code(d.model_id) + (" (chosen)" if d.chosen else ""), code((d.tt_metal_commit or "")[:7]),
             code((d.vllm_commit or "")[:7]), ci_link(d.ci_run_number, d.ci_job_url))
            for d in diff.disagreements
        ]  # fmt: skip
        lines += table(("Template", "model_id", "tt-metal", "vLLM", "CI run"), rows, wide_rule=True)
    return "\n".join(lines) + "\n"


def _row_cells(r: DiffRow) -> tuple[str, ...]:
    return (
        code(r.impl_id), code(r.model_arch), r.weights_cell(), r.devices_cell(), r.tt_metal_cell(), r.vllm_cell(),
        r.status_cell(), r.ci_cell(),
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ reading


def parse(data: Any, *, source: str) -> ModelsDiff:
    """The value of a `release_models_diff.json`; anything else is an InputError naming the file and the key."""
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a JSON object (a release_models_diff.json)")
    if data.get("schema") != SCHEMA:
        raise InputError(f"{source}: schema: expected {SCHEMA}, got {data.get('schema')!r}")
    return ModelsDiff(
        rows=_items(data, "rows", DiffRow, source),
        against=_check(data.get("against"), "str | None", f"{source}: against"),
        downgrades=_items(data, "downgrades", Downgrade, source),
        held_back=_items(data, "held_back", HeldBack, source),
        rejected=_items(data, "rejected", Rejected, source),
        disagreements=_items(data, "disagreements", Disagreement, source),
    )


T = TypeVar("T")
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {  # field annotation → (check, what it wants)
    "str": (lambda v: isinstance(v, str), "a string"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "int | None": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer or null"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "tuple[str, ...]": (lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v), "a list of strings"),
}


def _items(data: Mapping[str, Any], key: str, kind: type[T], source: str) -> tuple[T, ...]:
    raw = data.get(key, [])
    if not isinstance(raw, list):
        raise InputError(f"{source}: {key}: expected a list")
    out = []
    for n, item in enumerate(raw):
        where = f"{key}[{n}]"
        if not isinstance(item, Mapping):
            raise InputError(f"{source}: {where}: expected an object")
        values = {
            f.name: _check(item.get(f.name), str(f.type), f"{source}: {where}.{f.name}")
            for f in fields(kind)  # type: ignore[arg-type]
        }
        out.append(kind(**values))
    return tuple(out)


def _check(value: Any, annotation: str, where: str) -> Any:
    """`value` when it has the type the field's annotation names (a list becomes a tuple), else InputError."""
    check, wanted = _CHECKS[annotation]
    if not check(value):
        raise InputError(f"{where}: expected {wanted}, got {json_kind(value)}")
    return tuple(value) if isinstance(value, list) else value


def _json(item: Any) -> dict[str, Any]:
    return {f.name: list(v) if isinstance(v := getattr(item, f.name), tuple) else v for f in fields(item)}
