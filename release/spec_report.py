"""Pure renderers for `inv spec.update`: the plan table, the disagreement warnings, release_models_diff.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tabulate import tabulate

from workflows.model_spec import Catalogue, ModelSpecTemplate, weight_basename

if TYPE_CHECKING:
    from release.spec_update import SpecUpdatePlan, TemplateUpdate


@dataclass(frozen=True)
class DiffRow:
    impl_id: str
    weights: tuple[str, ...]
    devices: tuple[str, ...]
    tt_metal_before: str | None
    tt_metal_after: str | None
    vllm_before: str | None
    vllm_after: str | None
    status_before: str | None
    status_after: str | None
    run_number: int | None = None
    job_url: str | None = None


def rows_from_plan(plan: SpecUpdatePlan) -> list[DiffRow]:
    return [_row(u) for u in plan.changed]


def _row(u: TemplateUpdate) -> DiffRow:
    rec = u.source.record
    return DiffRow(
        u.impl_id, u.weights, u.devices, u.tt_metal_before, u.tt_metal_after, u.vllm_before, u.vllm_after,
        u.status_before, u.status_after if u.status_after != u.status_before else None,
        rec.ci_run_number, rec.ci_job_url,
    )  # fmt: skip


def rows_against(old: Catalogue, new: Catalogue, plan: SpecUpdatePlan) -> list[DiffRow]:
    """Rows for every template of `new` that differs from its counterpart in `old` (e.g. main's catalogue)."""

    def devices(t: ModelSpecTemplate) -> tuple[str, ...]:
        return tuple(sorted(d.device for d in t.devices))

    # Match a template by impl + weights + devices, then impl + weights, then impl + first weight.
    exact = {(t.impl.impl_id, t.weights, devices(t)): t for t in reversed(old.templates)}
    by_weights = {(t.impl.impl_id, t.weights): t for t in reversed(old.templates)}
    by_first = {(t.impl.impl_id, t.weights[0]): t for t in reversed(old.templates)}
    provenance = {u.template_index: u.source.record for u in plan.updates}
    rows = []
    for t in new.templates:
        before: ModelSpecTemplate | None = (
            exact.get((t.impl.impl_id, t.weights, devices(t)))
            or by_weights.get((t.impl.impl_id, t.weights))
            or by_first.get((t.impl.impl_id, t.weights[0]))
        )
        same = before is not None and (before.tt_metal_commit, before.vllm_commit, before.status) == (
            t.tt_metal_commit,
            t.vllm_commit,
            t.status,
        )
        if same:
            continue
        rec = provenance.get(t.index)
        rows.append(
            DiffRow(
                t.impl.impl_id,
                t.weights,
                tuple(d.device for d in t.devices),
                before.tt_metal_commit if before else None,
                t.tt_metal_commit,
                before.vllm_commit if before else None,
                t.vllm_commit,
                before.status if before else None,
                t.status,
                rec.ci_run_number if rec else None,
                rec.ci_job_url if rec else None,
            )
        )
    return rows


def _commit_change(before: str | None, after: str | None) -> str:
    if after and before and before != after:
        return f"`{before}` → `{after}`"
    if after and before == after:
        return f"`{after}`"
    if after:
        return f"New: `{after}`"
    return "N/A"


def _status_change(before: str | None, after: str | None) -> str:
    if after and before and before != after:
        return f"{before} → {after}"
    if after and before == after:
        return f"{after} (no change)"
    if after:
        return f"New: {after}"
    return "No change"


def _ci_link(run_number: int | None, url: str | None) -> str:
    if url and run_number is not None:
        return f"[Run {run_number}]({url})"
    if url:
        return f"[View Job]({url})"
    return "N/A"


def render_diff(rows: Sequence[DiffRow], plan: SpecUpdatePlan, *, against: str | None = None) -> str:
    """release_models_diff.md: the §4.6 table plus vLLM, downgrades, needs-attention and disagreements."""
    lines = ["# Model Spec Release Updates", ""]
    if against:
        lines += [f"This document shows model specification updates against `{against}`.", ""]
    else:
        lines += ["This document shows model specification updates.", ""]
    if not rows:
        lines.append("No updates were made.")
    else:
        lines.append(
            "| Impl | Model Arch | Weights | Devices | TT-Metal Commit Change | vLLM Commit Change | Status Change "
            "| CI Job Link |"
        )
        lines.append("|------|------------|---------|---------|------------------------|--------------------|"
                     "---------------|-------------|")  # fmt: skip
        for r in rows:
            weights = "<br>".join(f"`{w}`" for w in r.weights)
            lines.append(
                f"| `{r.impl_id}` | `{weight_basename(r.weights[0])}` | {weights} | {', '.join(r.devices)} "
                f"| {_commit_change(r.tt_metal_before, r.tt_metal_after)} "
                f"| {_commit_change(r.vllm_before, r.vllm_after)} "
                f"| {_status_change(r.status_before, r.status_after)} | {_ci_link(r.run_number, r.job_url)} |"
            )
    downgrades = [u for u in plan.updates if u.proposed_status]
    if downgrades:
        lines += ["", "## Proposed status downgrades (not applied)", ""]
        lines.append("Run `inv spec.update ... --allow-downgrade` to apply them after review.")
        lines.append("")
        for u in downgrades:
            rec = u.source.record
            lines.append(
                f"- {u.label}: {u.status_before} → {u.proposed_status} (perf_status `{rec.perf_status}` of "
                f"`{u.source.model_id}`, {_ci_link(rec.ci_run_number, rec.ci_job_url or rec.ci_run_url)})"
            )
    attention = [u for u in plan.updates if u.commits_held_back]
    if attention or plan.rejected:
        lines += ["", "## Needs attention", ""]
        for u in attention:
            lines.append(
                f"- {u.label}: CI passed with tt-metal `{u.ci_tt_metal}`, but the template's explicit docker_image "
                f"`{u.explicit_image}` carries `{u.tt_metal_before}`; its commits were not changed. Publish an image "
                "for the new commit, then update docker_image and tt_metal_commit together"
            )
        for rejected in plan.rejected:
            lines.append(f"- {rejected.template_label}: `{rejected.model_id}` not applied: {rejected.reason}")
    disagreeing = [u for u in plan.updates if u.disagreements]
    if disagreeing:
        lines += ["", "## CI commit disagreements", ""]
        lines.append("| Template | model_id | tt-metal | vLLM | CI run |")
        lines.append("|----------|----------|----------|------|--------|")
        for u in disagreeing:
            for c in u.disagreements:
                rec = c.record
                chosen = " (chosen)" if c == u.source else ""
                lines.append(
                    f"| {u.label} | `{c.model_id}`{chosen} | `{(rec.tt_metal_commit or '')[:7]}` "
                    f"| `{(rec.vllm_commit or '')[:7]}` | {_ci_link(rec.ci_run_number, rec.ci_job_url)} |"
                )
    return "\n".join(lines) + "\n"


def plan_table(plan: SpecUpdatePlan) -> str:
    """The dry-run view: template → old/new commits and status, source run."""
    rows = []
    for u in plan.updates:
        status = u.status_before if u.status_after == u.status_before else f"{u.status_before} → {u.status_after}"
        if u.proposed_status:
            status += f" (downgrade to {u.proposed_status} not applied)"
        rows.append(
            (
                u.label,
                _arrow(u.tt_metal_before, u.tt_metal_after),
                _arrow(u.vllm_before, u.vllm_after),
                status,
                f"run {u.source.record.ci_run_number} ({u.source.model_id})",
            )
        )
    if not rows:
        return "no template has a last good CI record"
    return tabulate(rows, headers=["template", "tt-metal", "vLLM", "status", "source"])


def _arrow(before: str | None, after: str | None) -> str:
    return f"{before} → {after}" if before != after else f"{after or '-'}"


def disagreement_table(plan: SpecUpdatePlan) -> str | None:
    rows = [
        (u.label, c.model_id + (" (chosen)" if c == u.source else ""), (c.record.tt_metal_commit or "")[:7],
         (c.record.vllm_commit or "")[:7], c.record.ci_run_number)
        for u in plan.updates
        for c in u.disagreements
    ]  # fmt: skip
    if not rows:
        return None
    return tabulate(rows, headers=["template", "model_id", "tt-metal", "vLLM", "CI run"])
