"""`inv spec.update`, the command: request → config → plan → write. The task and the spec.update, spec.diff and
spec.outputs steps of `inv prerelease` / `inv release` call `update_specs`; it reports the files it is about to
write through `on_event` (`Planned`) before it writes them, and leaves the printing to its caller.

With a last-good file: apply its records to the catalogue (release/spec_update.py plans, release/spec_edit.py edits
the TOML text), regenerate model_specs_output.json and the README table, and render release_models_diff.md
(`against`: against the catalogue in that git ref). With `output_only`: regenerate the outputs for VERSION.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from release import catalogue, spec_update, wiring
from release.config import Config
from release.errors import ConfigError
from release.spec_update import FileChange, SpecUpdatePlan


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


def _ignore(_event: object) -> None:
    return None


def update_specs(cfg: Config, request: SpecRequest, *, on_event: Callable[[object], None] = _ignore) -> Planned:
    """Plan the catalogue update (or only the outputs), tell `on_event`, then write the files that change."""
    if request.output_only:
        cat = catalogue.load(cfg, version=request.version)
        changes, plan = spec_update.plan_outputs_for(cfg, cat), None
    else:
        files = spec_update.update_from_last_good(
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
        spec_update.apply_file_changes(planned.changes)
    return planned
