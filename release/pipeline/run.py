"""One composite invocation (`inv prerelease`, `inv release`): its settings, its clients (built once, on first use,
through release/wiring.py), scratch copies of the files its steps edit for a dry run, and `execute`, which runs
the steps (release/pipeline/runner.py) between a `Started` and an `Ended` event for the caller to show."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release import ci_report, wiring
from release.config import Config
from release.errors import InputError
from release.github_types import RateLimitWait
from release.pipeline.runner import RunContext, Step, StepFailed, StepReport, run_steps, state_path
from release.version import Version

if TYPE_CHECKING:
    from release.git import Git
    from release.registry import RegistryClient

OnEvent = Callable[[object], None]


class Clients:
    """The clients a composite run needs, built on first use through release/wiring.py; `on_event` gets the
    progress lines of the git flow and the GitHub rate-limit waits."""

    def __init__(self, cfg: Config, on_event: OnEvent) -> None:
        self.cfg = cfg
        self.on_event = on_event

    @cached_property
    def registry(self) -> RegistryClient:
        return wiring.registry_client(self.cfg)

    @cached_property
    def git(self) -> Git:
        return wiring.git_client(self.cfg)

    def ci_event(self, event: object) -> None:
        """ci.read's events: only the rate-limit waits are worth a line in a composite run."""
        if isinstance(event, RateLimitWait):
            self.on_event(ci_report.progress_text(event) or "waiting for the GitHub rate limit")


@dataclass
class Run:
    """One composite invocation: settings, clients, and scratch space for a dry run."""

    cfg: Config
    clients: Clients
    version: Version
    prerelease_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def scratch_dir(self) -> Path:
        if self.scratch is None:
            self.scratch = tempfile.TemporaryDirectory(prefix="release-dry-run-")
        return Path(self.scratch.name)

    @cached_property
    def dry_cfg(self) -> Config:
        """For a dry run: the same settings over scratch copies of the files the steps edit.

        File-level steps (spec.update, the VERSION bump, spec.outputs) run for real on these copies, so each
        planned step sees what the steps before it would have done; git, registries and GitHub are only read.
        """
        root = self.scratch_dir() / "checkout"
        cfg = self.cfg
        files = (cfg.catalogue_path, cfg.version_file, cfg.readme_path, cfg.output_json_path)
        copies = {}
        for path in files:
            target = root / rel(cfg, path).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                target.write_bytes(path.read_bytes())
            copies[path] = target
        return dataclasses.replace(
            cfg,
            catalogue_path=copies[cfg.catalogue_path],
            version_file=copies[cfg.version_file],
            readme_path=copies[cfg.readme_path],
            output_json_path=copies[cfg.output_json_path],
            release_logs=root / "release_logs",
            workflow_logs=root / "workflow_logs",
        )

    def files_cfg(self, dry_run: bool) -> Config:
        return self.dry_cfg if dry_run else self.cfg

    def shown(self, path: Path) -> str:
        """A path relative to the checkout (scratch copies of a dry run are shown as the files they stand for)."""
        if self.scratch is not None:
            try:
                return str(Path(path).relative_to(Path(self.scratch.name) / "checkout"))
            except ValueError:
                pass
        return rel(self.cfg, path)

    def close(self) -> None:
        if self.scratch is not None:
            self.scratch.cleanup()


def rel(cfg: Config, path: Path) -> str:
    """A path relative to the checkout, as the state file and the record keep it."""
    try:
        return str(Path(path).resolve().relative_to(cfg.repo_root))
    except ValueError:
        return str(path)


def last_good_of(ctx: RunContext) -> Path:
    """The last-good JSON of this run: ci.read's output, else the inputs step's."""
    path = ctx.output("ci.read", "last_good") or ctx.output("inputs", "last_good")
    if not path:
        raise InputError("no last-good JSON from ci.read: run `inv ci.read` or give --last-good")
    return Path(path)


@dataclass(frozen=True)
class Started:
    command: str  # prerelease | release
    title: str
    version: str
    dry_run: bool


@dataclass(frozen=True)
class Ended:
    title: str
    reports: list[StepReport]
    failed: bool
    state: Path | None  # the state file (None on a dry run)


def execute(
    run: Run, title: str, steps: Sequence[Step], *, command: str, arguments: Mapping[str, Any], dry_run: bool
) -> list[StepReport]:
    """Run (or plan) the steps; `Ended` carries the reports, also when a step failed (StepFailed is raised)."""
    on_event = run.clients.on_event
    on_event(Started(command, title, str(run.version), dry_run))
    state = None if dry_run else state_path(run.cfg.release_logs, str(run.version))
    try:
        reports = run_steps(
            steps, release_logs=run.cfg.release_logs, command=command, version=str(run.version), arguments=arguments,
            dry_run=dry_run, on_event=on_event,
        )  # fmt: skip
    except StepFailed as e:
        on_event(Ended(title, e.reports, True, state))
        raise
    finally:
        run.close()
    on_event(Ended(title, reports, False, state))
    return reports
