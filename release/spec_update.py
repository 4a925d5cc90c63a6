"""`inv spec.update`: keep the catalogue's generated outputs in step with workflows/model_specs.toml.

Plan, then apply: `plan_outputs` computes the new text of every generated file and keeps the stale ones;
`apply_file_changes` writes them atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from release import fsio, spec_outputs
from release.config import Config
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
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


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
