"""`inv spec.update`, the command: request → config → plan → write. The task and the spec.update, spec.diff and
spec.outputs steps of `inv prerelease` / `inv release` call `update_specs`; it reports the files it is about to
write through `on_event` (`Planned`) before it writes them, and leaves the printing to its caller.

With a last-good file: apply its records to the catalogue (`spec_plan.plan_spec_update` plans, `spec_edit` edits the
TOML text), regenerate model_specs_output.json and the README table (`plan_outputs`: the new text of every
generated file, only the stale ones kept), and render release_models_diff.md (`against`: against the catalogue in
that git ref). With `output_only`: regenerate the outputs for VERSION. Every file is computed first, then written
atomically (`apply_file_changes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from release import catalogue as kit_catalogue
from release import fsio, models_diff, spec_edit, spec_outputs, spec_report, wiring
from release.config import Config
from release.errors import ConfigError, InputError
from release.events import OnEvent, ignore
from release.last_good_file import read_last_good
from release.models_diff import ModelsDiff
from release.spec_plan import SpecUpdatePlan, plan_spec_update
from workflows.model_spec import Catalogue


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


# --------------------------------------------------------------------------------------------------- the command


@dataclass(frozen=True, kw_only=True)
class SpecRequest:
    last_good: Path | None = None  # from `inv ci.read`; None with output_only
    output_only: bool = False
    allow_downgrade: bool = False
    only: tuple[str, ...] = ()  # model_id globs
    against: str | None = None  # a git ref: the diff is rendered against its catalogue
    diff_out: Path | None = None  # default: release_logs/release_models_diff.md
    version: str | None = None  # with output_only: the VERSION the outputs show (default: the VERSION file)
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not self.output_only and not self.last_good:
            raise ConfigError("give LAST_GOOD_JSON (from `inv ci.read`), or --output-only")


@dataclass(frozen=True)
class Planned:
    """What is about to be written (nothing on a dry run)."""

    changes: tuple[FileChange, ...]
    plan: SpecUpdatePlan | None  # None with output_only
    version: str
    specs: int  # catalogue entries (with output_only)
    dry_run: bool


def update_specs(cfg: Config, request: SpecRequest, *, on_event: OnEvent = ignore) -> Planned:
    """Plan the catalogue update (or only the outputs), tell `on_event`, then write the files that change."""
    if request.output_only:
        cat = kit_catalogue.load(cfg, version=request.version)
        changes, plan = plan_outputs_for(cfg, cat), None
    else:
        files = update_from_last_good(
            cfg,
            Path(request.last_good or ""),
            allow_downgrade=request.allow_downgrade,
            only=request.only,
            against=request.against,
            show_file=wiring.git_client(cfg).show_file if request.against else None,
            diff_out=request.diff_out or cfg.release_logs / "release_models_diff.md",
        )
        changes, plan, cat = files.changes, files.plan, files.new_catalogue
    planned = Planned(changes, plan, str(cat.version), len(cat.specs), request.dry_run)
    on_event(planned)
    if not request.dry_run:
        apply_file_changes(planned.changes)
    return planned
