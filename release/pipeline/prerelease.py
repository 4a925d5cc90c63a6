"""`inv prerelease`, the command: the pre-release in one run, resumable.

ci.read → git.prerelease → spec.update → images.promote --dev --increment → images.build --push (what promotion
could not provide) → spec.update --output-only → commit → push → PR pre-release → dev. (ci.read runs first: the
pre-release branch starts from the commit of the newest CI run that supplied a last good record.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from release import catalogue
from release.config import Config, at_least
from release.errors import ConfigError
from release.gitflow.names import prerelease_branch
from release.pipeline import steps
from release.pipeline.run import Clients, Run, execute
from release.pipeline.runner import Step, StepReport, find_finished, find_resumable
from release.version import Increment, Version, parse_increment


@dataclass(frozen=True, kw_only=True)
class PrereleaseRequest:
    increment: Increment
    max_runs: int = 90
    source: str | None = None  # --from
    branch: str | None = None  # CI run filters
    event: str | None = None
    keep_existing: bool = False  # the decision on promotion conflicts (not part of the run's arguments)
    dry_run: bool = False

    @classmethod
    def from_flags(
        cls,
        *,
        increment: str | None,
        max_runs: int,
        source: str | None,
        branch: str | None,
        event: str | None,
        keep_existing: bool,
        dry_run: bool,
    ) -> PrereleaseRequest:
        """The task's flags, checked: an increment is required, at least one CI run."""
        parsed = parse_increment(increment)
        if parsed is None:
            raise ConfigError("--increment is required: major, minor or patch")
        at_least(int(max_runs), 1, "--max-runs")
        return cls(
            increment=parsed, max_runs=int(max_runs), source=source, branch=branch, event=event,
            keep_existing=keep_existing, dry_run=dry_run,
        )  # fmt: skip

    def arguments(self) -> dict[str, Any]:
        """What identifies the run in its state file (a run started again with them resumes)."""
        return {
            "increment": self.increment, "max_runs": self.max_runs, "from": self.source, "branch": self.branch,
            "event": self.event,
        }  # fmt: skip


def prerelease_steps(run: Run, request: PrereleaseRequest) -> list[Step]:
    branch = prerelease_branch(run.version)
    return [
        steps.ci_read_step(run, max_runs=request.max_runs, branch=request.branch, event=request.event),
        steps.git_prerelease_step(run, source=request.source),
        steps.spec_update_step(run),
        steps.promote_step(run, mode="dev", increment=request.increment, keep_existing=request.keep_existing),
        steps.build_step(run, release=False),
        steps.outputs_step(run),
        steps.commit_step(run, branch=branch, step_label="prerelease", summary_prefix="dev"),
        steps.push_step(run, branch=branch),
        steps.pr_step(run, kind="prerelease"),
    ]


def run_prerelease(cfg: Config, request: PrereleaseRequest, *, on_event: Callable[[object], None]) -> list[StepReport]:
    """The version is VERSION bumped by the increment, unless an unfinished (or finished) run with the same
    arguments says which version it is making: then that run resumes (or shows what it did)."""
    arguments = request.arguments()
    current = catalogue.read_version(cfg.version_file)
    resumable = find_resumable(cfg.release_logs, "prerelease", arguments)
    finished = find_finished(cfg.release_logs, "prerelease", arguments, version=str(current))
    version = Version.parse(resumable or finished or str(current.bump(request.increment)), source="release state")
    if resumable:
        on_event(f"resuming the unfinished pre-release of v{version}")
    run = Run(cfg, Clients(cfg, on_event), version)
    return execute(
        run, f"pre-release v{version}", prerelease_steps(run, request), command="prerelease", arguments=arguments,
        dry_run=request.dry_run,
    )  # fmt: skip
