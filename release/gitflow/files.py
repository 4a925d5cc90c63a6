"""Where the earlier steps' outputs are (`release_logs/`, the catalogue), read as committed on a branch (what a PR
shows) or as they are in the working tree, each through its one reader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release import catalogue, ci_results_file, fsio, last_good_file, models_diff, notes, release_inputs
from release.ci_results_file import AllResults
from release.last_good_file import LastGoodRecords
from release.models_diff import ModelsDiff
from workflows.model_spec import Catalogue

if TYPE_CHECKING:
    from release.config import Config
    from release.git import Git


@dataclass(frozen=True)
class ReleaseFiles:
    """Where the earlier steps' outputs are: `release_logs/`, and the catalogue with its VERSION (all in the repo)."""

    repo_root: Path
    release_logs: Path
    catalogue_path: Path
    version_file: Path
    last_good: Path | None = None  # default: the newest models_ci_last_good_*.json in release_logs
    all_results: Path | None = None

    @classmethod
    def from_config(cls, cfg: Config, *, last_good: Path | None = None) -> ReleaseFiles:
        return cls(cfg.repo_root, cfg.release_logs, cfg.catalogue_path, cfg.version_file, last_good=last_good)

    def rel(self, path: Path) -> str | None:
        try:
            return Path(path).resolve().relative_to(self.repo_root.resolve()).as_posix()
        except ValueError:
            return None

    def text(self, git: Git, rev: str | None, path: Path) -> str | None:
        """The file as committed at `rev` (what a PR shows), else as it is in the working tree."""
        rel = self.rel(path)
        if rev and rel:
            committed = git.show_file(rev, rel)
            if committed is not None:
                return committed
        return release_inputs.read_text(path)

    def read_models_diff(self, git: Git, rev: str | None) -> ModelsDiff | None:
        """The typed models diff `inv spec.update` wrote (release_models_diff.json), as committed at `rev`."""
        path = self.release_logs / "release_models_diff.json"
        data = self.json_text(git, rev, path)
        return models_diff.parse(data, source=str(path)) if data is not None else None

    def last_good_records(self) -> LastGoodRecords | None:
        """The records of the last-good file (None: there is none)."""
        path = self.last_good or release_inputs.newest_ci_file(self.release_logs, "last_good")
        return last_good_file.read_last_good(path) if path is not None and path.exists() else None

    def health_page(self) -> Path | None:
        """The CI health page `inv ci.read` wrote next to the last-good file, when it is there."""
        path = self.last_good or release_inputs.newest_ci_file(self.release_logs, "last_good")
        name = release_inputs.health_page_name(path) if path is not None else None
        return path.with_name(name) if path is not None and name and path.with_name(name).is_file() else None

    def all_results_path(self) -> Path | None:
        """The all-results file given, else the one written with the last-good file, else the newest."""
        sibling = None
        if self.last_good is not None:
            candidate = self.last_good.with_name(self.last_good.name.replace("_last_good_", "_all_results_", 1))
            sibling = candidate if candidate != self.last_good and candidate.exists() else None
        return self.all_results or sibling or release_inputs.newest_ci_file(self.release_logs, "all_results")

    def all_results_records(self) -> AllResults | None:
        """The all-results file, read by its one reader (None: there is none)."""
        path = self.all_results_path()
        return ci_results_file.read_all_results(path) if path is not None and path.exists() else None

    def json_text(self, git: Git, rev: str | None, path: Path) -> Any | None:
        text = self.text(git, rev, path)
        return fsio.parse_json(text, source=str(path)) if text is not None else None

    def catalogue_at(self, git: Git, rev: str | None) -> Catalogue | None:
        """The catalogue as committed at `rev` (else as it is in the working tree); None when it or VERSION is not
        there."""
        text, version = self.text(git, rev, self.catalogue_path), self.text(git, rev, self.version_file)
        if text is None or version is None:
            return None
        return catalogue.load_path(self.catalogue_path, version=version.strip(), text=text)


def waivers_for(files: ReleaseFiles, git: Git, rev: str | None) -> list[notes.Waiver] | None:
    """The waivers of the CI results, with the catalogue (at `rev`) saying which models are the default impl."""
    results = files.all_results_records()
    cat = files.catalogue_at(git, rev) if results is not None else None
    if results is None or cat is None:
        return None
    return notes.find_waivers(results, cat.specs)
