"""Pure values: the plan of `inv spec.update` — per template, the CI record chosen and the fields it changes.

`spec_update.plan_spec_update` computes it; `spec_report` renders it; `spec_edit` applies its field changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from release.last_good_file import LastGoodRecord
from release.spec_edit import FieldChange


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
