"""`inv release`, the command: the release in one run, resumable.

git.rc → images.promote --release → images.build --push --release → spec diff against main → commit → push →
PR rc → main → release record → release notes draft (rendered from the record: one source of truth).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import catalogue, release_inputs
from release.config import Config
from release.errors import ConfigError
from release.gitflow.names import rc_branch
from release.pipeline import steps
from release.pipeline.record import record_step
from release.pipeline.run import Clients, Run, execute
from release.pipeline.runner import Step, StepReport, read_outputs
from release.version import Version


@dataclass(frozen=True, kw_only=True)
class ReleaseRequest:
    version: Version | None = None  # default: VERSION, as the merged pre-release left it
    last_good: str | None = None  # as given (it is an argument of the run); default: the pre-release's
    keep_existing: bool = False
    dry_run: bool = False

    @classmethod
    def from_flags(
        cls, *, version: str | None, last_good: str | None, keep_existing: bool, dry_run: bool
    ) -> ReleaseRequest:
        parsed = Version.parse(version, source="--version") if version else None
        return cls(version=parsed, last_good=last_good, keep_existing=keep_existing, dry_run=dry_run)


def release_steps(run: Run, *, last_good: Path, keep_existing: bool = False) -> list[Step]:
    branch = rc_branch(run.version)
    against = f"{run.cfg.git_remote}/{run.cfg.main_branch}"
    return [
        steps.inputs_step(last_good),
        steps.git_rc_step(run),
        steps.promote_step(run, mode="release", increment=None, keep_existing=keep_existing),
        steps.build_step(run, release=True),
        steps.spec_update_step(run, against=against),
        steps.commit_step(run, branch=branch, step_label="release", summary_prefix="release"),
        steps.push_step(run, branch=branch),
        steps.pr_step(run, kind="rc"),
        record_step(run),
        steps.notes_step(run),
    ]


def run_release(cfg: Config, request: ReleaseRequest, *, on_event: Callable[[object], None]) -> list[StepReport]:
    version = request.version or catalogue.read_version(cfg.version_file)
    pre_outputs = read_outputs(cfg.release_logs, str(version), "prerelease")
    run = Run(cfg, Clients(cfg, on_event), version, prerelease_outputs=pre_outputs)
    given = Path(request.last_good) if request.last_good else None
    last = release_last_good(cfg, version, given, pre_outputs)
    return execute(
        run, f"release v{version}", release_steps(run, last_good=last, keep_existing=request.keep_existing),
        command="release", arguments={"version": str(version), "last_good": request.last_good},
        dry_run=request.dry_run,
    )  # fmt: skip


def release_last_good(cfg: Config, version: Version, given: Path | None, prerelease_outputs: Mapping[str, Any]) -> Path:
    """--last-good, else the pre-release run's ci.read output, else the newest models_ci_last_good_*.json."""
    if given is not None:
        return given
    recorded = (prerelease_outputs.get("ci.read") or {}).get("last_good")
    if recorded and Path(recorded).exists():
        return Path(recorded)
    newest = release_inputs.newest_ci_file(cfg.release_logs, "last_good")
    if newest is None:
        raise ConfigError(
            f"no last-good JSON for v{version}: give --last-good release_logs/models_ci_last_good_*.json "
            "(the one the pre-release used)"
        )
    return newest
