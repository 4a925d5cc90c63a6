"""Pure: the plan of `inv spec.update` — per template, the CI record chosen and the fields it changes — and
`plan_spec_update`, which computes it; `spec_report` renders it; `spec_edit` applies its field changes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from release.imageref import ImageRef
from release.imagetags import commits_disagree, parse_commit_tag
from release.last_good_file import LastGoodRecord, LastGoodRecords
from release.spec_edit import FieldChange
from workflows.model_spec import STATUSES, Catalogue


@dataclass(frozen=True)
class Candidate:
    model_id: str
    weight: str
    device: str
    record: LastGoodRecord


@dataclass(frozen=True)
class Rejected:
    template_label: str
    model_id: str
    reason: str


@dataclass(frozen=True)
class TemplateUpdate:
    template_index: int
    label: str
    impl_id: str
    weights: tuple[str, ...]
    devices: tuple[str, ...]
    source: Candidate
    tt_metal_before: str
    tt_metal_after: str
    vllm_before: str | None
    vllm_after: str | None
    status_before: str
    status_after: str
    proposed_status: str | None  # a downgrade that was not applied
    explicit_image: str | None
    ci_tt_metal: str
    ci_vllm: str | None
    disagreements: tuple[Candidate, ...]

    @property
    def commits_held_back(self) -> bool:
        """An explicit-image template whose CI run used other commits than its image (not written)."""
        return self.explicit_image is not None and (self.ci_tt_metal, self.ci_vllm) != (
            self.tt_metal_before,
            self.vllm_before,
        )

    @property
    def changed(self) -> bool:
        return (self.tt_metal_before, self.vllm_before, self.status_before) != (
            self.tt_metal_after,
            self.vllm_after,
            self.status_after,
        )

    @property
    def commits_changed(self) -> bool:
        return (self.tt_metal_before, self.vllm_before) != (self.tt_metal_after, self.vllm_after)

    def field_changes(self) -> list[FieldChange]:
        out = []
        if self.tt_metal_after != self.tt_metal_before:
            out.append(FieldChange(self.template_index, "tt_metal_commit", self.tt_metal_after))
        if self.vllm_after is not None and self.vllm_after != self.vllm_before:
            out.append(FieldChange(self.template_index, "vllm_commit", self.vllm_after))
        if self.status_after != self.status_before:
            out.append(FieldChange(self.template_index, "status", self.status_after))
        return out


@dataclass(frozen=True)
class SpecUpdatePlan:
    updates: tuple[TemplateUpdate, ...]
    rejected: tuple[Rejected, ...]
    allow_downgrade: bool

    @property
    def changed(self) -> tuple[TemplateUpdate, ...]:
        return tuple(u for u in self.updates if u.changed)

    def field_changes(self) -> list[FieldChange]:
        return [fc for u in self.updates for fc in u.field_changes()]


# --------------------------------------------------------------------------------------------------- the planner

STATUS_FROM_PERF = {
    "experimental": "EXPERIMENTAL",
    "functional": "FUNCTIONAL",
    "complete": "COMPLETE",
    "target": "TOP_PERF",
}


def plan_spec_update(
    catalogue: Catalogue,
    last_good: LastGoodRecords,
    *,
    allow_downgrade: bool = False,
    only: Sequence[str] = (),
) -> SpecUpdatePlan:
    """Per template, the record of the highest CI run (ties: first in template order), guarded (pure)."""
    updates: list[TemplateUpdate] = []
    rejected: list[Rejected] = []
    for template in catalogue.templates:
        candidates: list[Candidate] = []
        for model_id, weight, device in template.model_ids():
            if only and not any(fnmatch.fnmatchcase(model_id, pattern) for pattern in only):
                continue
            record = last_good.get(model_id)
            if record is None or not (record.tt_metal_commit or record.vllm_commit):
                continue
            problem = tag_problem(record)
            if problem:
                rejected.append(Rejected(template.label, model_id, problem))
                continue
            candidates.append(Candidate(model_id, weight, device, record))
        if not candidates:
            continue
        best = max(candidates, key=lambda c: c.record.ci_run_number)  # max keeps the first of equals
        rec = best.record
        distinct = {(_short(c.record.tt_metal_commit), _short(c.record.vllm_commit)) for c in candidates}
        ci_tm = _short(rec.tt_metal_commit) or template.tt_metal_commit
        ci_vllm = template.vllm_commit
        if template.vllm_commit is not None and rec.vllm_commit:
            ci_vllm = _short(rec.vllm_commit)
        # A template with an explicit image (media, forge) keeps the commits its image carries: writing the CI's
        # commits would describe an image that does not exist. The difference is listed under "Needs attention".
        explicit = template.docker_image is not None
        tm_after = template.tt_metal_commit if explicit else ci_tm
        vllm_after = template.vllm_commit if explicit else ci_vllm
        status_after, proposed = template.status, None
        mapped = STATUS_FROM_PERF.get(rec.perf_status)
        if mapped is not None and mapped != template.status:
            if STATUSES.index(mapped) > STATUSES.index(template.status) or allow_downgrade:
                status_after = mapped
            else:
                proposed = mapped
        updates.append(
            TemplateUpdate(
                template_index=template.index,
                label=template.label,
                impl_id=template.impl.impl_id,
                weights=template.weights,
                devices=tuple(d.device for d in template.devices),
                source=best,
                tt_metal_before=template.tt_metal_commit,
                tt_metal_after=tm_after,
                vllm_before=template.vllm_commit,
                vllm_after=vllm_after,
                status_before=template.status,
                status_after=status_after,
                proposed_status=proposed,
                explicit_image=template.docker_image,
                ci_tt_metal=ci_tm,
                ci_vllm=ci_vllm,
                disagreements=tuple(candidates) if len(distinct) > 1 else (),
            )
        )
    return SpecUpdatePlan(tuple(updates), tuple(rejected), allow_downgrade)


def _short(commit: str | None) -> str | None:
    return commit[:7] if commit else None


def tag_problem(record: LastGoodRecord) -> str | None:
    """Why a record may not be applied: its CI image tag must carry commits that agree with the record."""
    if not record.docker_image:
        return "the CI record has no docker_image to read its commits from"
    tag = ImageRef.parse(record.docker_image).tag or ""
    parsed = parse_commit_tag(tag, has_vllm=record.vllm_commit is not None)
    if parsed is None:
        return f"CI image tag of {record.docker_image} carries no parseable commits"
    differs = commits_disagree(parsed, tt_metal=record.tt_metal_commit or None, vllm=record.vllm_commit or None)
    if differs is None:
        return None
    which, in_record, in_tag = differs
    return f"{which} commit {in_record} disagrees with the CI image tag ({in_tag})"
