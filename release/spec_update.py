"""`inv spec.update`: keep the catalogue's generated outputs in step with workflows/model_specs.toml.

Plan, then apply: `plan_outputs` computes the new text of every generated file and keeps the stale ones;
`apply_file_changes` writes them atomically.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from release import catalogue as kit_catalogue
from release import fsio, models_diff, spec_edit, spec_outputs, spec_report
from release.config import Config
from release.errors import ConfigError, InputError
from release.imageref import ImageRef
from release.imagetags import parse_commit_tag, same_commit
from release.last_good_file import LastGoodRecord, LastGoodRecords, read_last_good
from release.models_diff import ModelsDiff
from release.spec_plan import Candidate, Rejected, SpecUpdatePlan, TemplateUpdate
from workflows.model_spec import STATUSES, Catalogue


@dataclass(frozen=True)
class FileChange:
    path: Path
    old: str | None
    new: str

    @property
    def label(self) -> str:
        return "create" if self.old is None else "update"


def _read(path: Path) -> str | None:
    return fsio.read_text_if_exists(path)


def plan_outputs(
    catalogue: Catalogue,
    *,
    output_json_path: Path,
    readme_path: Path,
    output_json_old: str | None,
    readme_old: str | None,
) -> tuple[FileChange, ...]:
    """The generated files whose content differs from what the catalogue renders (pure)."""
    changes: list[FileChange] = []
    new_json = spec_outputs.output_json(catalogue)
    if new_json != output_json_old:
        changes.append(FileChange(output_json_path, output_json_old, new_json))
    if readme_old is None:
        readme_old = ""
    new_readme = spec_outputs.replace_readme_table(
        readme_old, spec_outputs.readme_table(catalogue), source=str(readme_path)
    )
    if new_readme != readme_old:
        changes.append(FileChange(readme_path, readme_old, new_readme))
    return tuple(changes)


def plan_outputs_for(cfg: Config, catalogue: Catalogue) -> tuple[FileChange, ...]:
    """plan_outputs with the current files of `cfg` read from disk."""
    return plan_outputs(
        catalogue,
        output_json_path=cfg.output_json_path,
        readme_path=cfg.readme_path,
        output_json_old=_read(cfg.output_json_path),
        readme_old=_read(cfg.readme_path),
    )


def apply_file_changes(changes: tuple[FileChange, ...]) -> None:
    for change in changes:
        fsio.atomic_write(change.path, change.new)


# --------------------------------------------------------------------------------------------------- update plan

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
            problem = _tag_problem(record)
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


def _tag_problem(record: LastGoodRecord) -> str | None:
    """Why a record may not be applied: its CI image tag must carry commits that agree with the record."""
    if not record.docker_image:
        return "the CI record has no docker_image to read its commits from"
    tag = ImageRef.parse(record.docker_image).tag or ""
    parsed = parse_commit_tag(tag, has_vllm=record.vllm_commit is not None)
    if parsed is None:
        return f"CI image tag of {record.docker_image} carries no parseable commits"
    if record.tt_metal_commit and not same_commit(record.tt_metal_commit, parsed.tt_metal):
        return f"tt-metal commit {record.tt_metal_commit} disagrees with the CI image tag ({parsed.tt_metal})"
    if record.vllm_commit and not same_commit(record.vllm_commit, parsed.vllm or ""):
        return f"vLLM commit {record.vllm_commit} disagrees with the CI image tag ({parsed.vllm})"
    return None


# --------------------------------------------------------------------------------------------------- files


@dataclass(frozen=True)
class UpdateFiles:
    """Everything `inv spec.update LAST_GOOD_JSON` would write, computed without writing."""

    plan: SpecUpdatePlan
    new_catalogue: Catalogue
    changes: tuple[FileChange, ...]


def prepare_update(
    cfg: Config,
    plan: SpecUpdatePlan,
    *,
    catalogue_text: str,
    version: str,
    diff_out: Path,
    against: tuple[str, Catalogue] | None = None,
) -> UpdateFiles:
    """New TOML text, regenerated outputs and the models diff (markdown and JSON); only files whose content
    changes."""
    new_text = spec_edit.apply_changes(catalogue_text, plan.field_changes())
    new_cat = kit_catalogue.load_path(cfg.catalogue_path, version=version, text=new_text)
    changes: list[FileChange] = []
    if new_text != catalogue_text:
        changes.append(FileChange(cfg.catalogue_path, catalogue_text, new_text))
    changes.extend(plan_outputs_for(cfg, new_cat))
    diff: ModelsDiff | None = None
    if against is not None:
        ref, old_cat = against
        diff = spec_report.models_diff(spec_report.rows_against(old_cat, new_cat, plan), plan, against=ref)
    elif plan.changed:
        diff = spec_report.models_diff(spec_report.rows_from_plan(plan), plan)
    # nothing to report: a second run leaves the previous diff alone
    if diff is not None:
        texts = {diff_out: models_diff.render(diff), diff_json_path(diff_out): fsio.dump_json(diff.to_json())}
        for path, text in texts.items():
            old = _read(path)
            if text != old:
                changes.append(FileChange(path, old, text))
    return UpdateFiles(plan, new_cat, tuple(changes))


def diff_json_path(diff_out: Path) -> Path:
    """The typed models diff beside its markdown: release_models_diff.md → release_models_diff.json."""
    return diff_out.with_suffix(".json")


def update_from_last_good(
    cfg: Config,
    last_good_path: Path,
    *,
    allow_downgrade: bool,
    only: Sequence[str],
    against: str | None,
    diff_out: Path,
    show_file: Callable[[str, str], str | None] | None = None,
) -> UpdateFiles:
    """Read the inputs, plan, and compute the files (nothing is written here)."""
    version = str(kit_catalogue.read_version(cfg.version_file))
    catalogue_text = fsio.read_text(cfg.catalogue_path, what="catalogue")
    current = kit_catalogue.load_path(cfg.catalogue_path, version=version, text=catalogue_text)
    records = read_last_good(last_good_path, known=current.specs)
    plan = plan_spec_update(current, records, allow_downgrade=allow_downgrade, only=only)
    against_cat = None
    if against is not None:
        if show_file is None:
            raise ConfigError("--against needs a git checkout")
        rel = cfg.catalogue_path.relative_to(cfg.repo_root).as_posix()
        old_text = show_file(against, rel)
        if old_text is None:
            raise InputError(f"--against {against}: that ref has no {rel} (or the ref does not exist)")
        against_cat = (against, kit_catalogue.load_path(Path(f"{against}:{rel}"), version=version, text=old_text))
    return prepare_update(
        cfg, plan, catalogue_text=catalogue_text, version=version, diff_out=diff_out, against=against_cat
    )
