"""Pure renderers for `inv spec.update`: the plan table, the disagreement warnings, and the typed models diff
(release/models_diff.py renders it as release_models_diff.md)."""

from __future__ import annotations

from tabulate import tabulate

from release.models_diff import DiffRow, Disagreement, Downgrade, HeldBack, ModelsDiff, Rejected
from release.spec_plan import SpecUpdatePlan, TemplateUpdate
from workflows.model_spec import Catalogue, ModelSpecTemplate, weight_basename


def rows_from_plan(plan: SpecUpdatePlan) -> list[DiffRow]:
    return [_row(u) for u in plan.changed]


def _row(u: TemplateUpdate) -> DiffRow:
    rec = u.source.record
    return DiffRow(
        u.impl_id, weight_basename(u.weights[0]), u.weights, u.devices, u.tt_metal_before, u.tt_metal_after,
        u.vllm_before, u.vllm_after, u.status_before, u.status_after if u.status_after != u.status_before else None,
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
                weight_basename(t.weights[0]),
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


def models_diff(rows: list[DiffRow], plan: SpecUpdatePlan, *, against: str | None = None) -> ModelsDiff:
    """The typed models diff: `rows`, and the plan's downgrades, held-back commits, rejections and disagreements."""
    downgrades = tuple(
        Downgrade(u.label, u.status_before, u.proposed_status, u.source.record.perf_status, u.source.model_id,
                  u.source.record.ci_run_number, u.source.record.ci_job_url or u.source.record.ci_run_url)
        for u in plan.updates
        if u.proposed_status
    )  # fmt: skip
    held = tuple(
        HeldBack(u.label, u.ci_tt_metal, u.explicit_image or "", u.tt_metal_before)
        for u in plan.updates
        if u.commits_held_back
    )
    disagreements = tuple(
        Disagreement(u.label, c.model_id, c == u.source, c.record.tt_metal_commit, c.record.vllm_commit,
                     c.record.ci_run_number, c.record.ci_job_url)
        for u in plan.updates
        for c in u.disagreements
    )  # fmt: skip
    rejected = tuple(Rejected(r.template_label, r.model_id, r.reason) for r in plan.rejected)
    return ModelsDiff(tuple(rows), against, downgrades, held, rejected, disagreements)


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
