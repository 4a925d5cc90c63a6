"""The `inv git.*` commands: settings → the flow's clients (release/wiring.py) → a flow of this package. The tasks and
the git steps of `inv prerelease` / `inv release` call the same functions.

Each takes `show` (where the plan, and the PR body or notes of a dry run, go) and `on_event` (each command as it
runs); a dry run fetches and plans, and changes nothing. Not imported by the package: the rest of it is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from release import wiring
from release.config import Config
from release.errors import ConfigError
from release.gitflow import flows
from release.gitflow.files import ReleaseFiles
from release.gitflow.flows import CommitOutcome, Flow, FlowOutcome, Show
from release.gitflow.notes_flow import NotesOutcome, notes_flow, pr_flow
from release.version import Version


def required_version(text: str | None) -> Version:
    """`--version X.Y.Z`, which every git task but git.hotfix needs."""
    if not text:
        raise ConfigError("--version X.Y.Z is required (the release being made, e.g. 0.6.0)")
    return Version.parse(text, source="--version")


def pr_kind(*, prerelease: bool, rc: bool) -> str:
    """`inv git.pr`'s two flags as the PR's kind: "prerelease" (pre-release → dev) or "rc" (rc → main)."""
    if prerelease == rc:
        raise ConfigError("give exactly one of --prerelease (pre-release → dev) or --rc (rc → main)")
    return "prerelease" if prerelease else "rc"


def _flow(cfg: Config, dry_run: bool, on_event: Show) -> Flow:
    return wiring.git_flow(cfg, dry_run=dry_run, on_event=on_event)


def _files(cfg: Config, last_good: Path | None) -> ReleaseFiles:
    return ReleaseFiles.from_config(cfg, last_good=last_good)


def prerelease(
    cfg: Config,
    version: Version,
    *,
    source: str | None = None,
    last_good: Path | None = None,
    dry_run: bool = False,
    show: Show,
    on_event: Show,
) -> FlowOutcome:
    """`inv git.prerelease`: pre-release-vX.Y.Z from `source` (default: the commit the newest last-good CI run
    tested), checked out and pushed."""
    flow = _flow(cfg, dry_run, on_event)
    return flows.prerelease_flow(flow, version, _files(cfg, last_good), source=source, show=show)


def rc(cfg: Config, version: Version, *, dry_run: bool = False, show: Show, on_event: Show) -> FlowOutcome:
    """`inv git.rc`: rc-vX.Y.Z from the pre-release branch once its PR was merged into dev with a merge commit."""
    return flows.rc_flow(_flow(cfg, dry_run, on_event), version, show=show)


def hotfix(
    cfg: Config,
    *,
    name: str | None,
    user: str | None,
    apply: str | None,
    version: Version | None,
    dry_run: bool = False,
    show: Show,
    on_event: Show,
) -> FlowOutcome:
    """`inv git.hotfix`: start a hot-fix branch (`name`), or put a fix merged into dev onto the RC branch (`apply`)."""
    if bool(name) == bool(apply):
        raise ConfigError("give either --name DESC (start a hot-fix) or --apply PR_OR_SHA (put it on the RC)")
    flow = _flow(cfg, dry_run, on_event)
    if apply:
        return flows.apply_hotfix_flow(flow, str(apply), version, show=show)
    return flows.hotfix_flow(flow, str(name), user, version, show=show)


def pr(
    cfg: Config,
    kind: str,
    version: Version,
    *,
    draft: bool = False,
    last_good: Path | None = None,
    dry_run: bool = False,
    show: Show,
    on_event: Show,
) -> FlowOutcome:
    """`inv git.pr`: open (or update) the pre-release PR (`kind` "prerelease") or the release PR ("rc")."""
    flow = _flow(cfg, dry_run, on_event)
    return pr_flow(flow, kind, version, _files(cfg, last_good), draft=draft, show=show)


def notes(
    cfg: Config,
    version: Version,
    *,
    publish: bool = False,
    draft: bool = True,
    last_good: Path | None = None,
    dry_run: bool = False,
    show: Show,
    on_event: Show,
) -> NotesOutcome:
    """`inv git.notes`: write the release notes; `publish`: tag vX.Y.Z on main and create the GitHub release."""
    flow = _flow(cfg, dry_run, on_event)
    return notes_flow(flow, version, _files(cfg, last_good), publish=publish, draft=draft, show=show)


def commit(
    cfg: Config, branch: str, paths: Sequence[str], *, step: str, version: Version, show: Show, on_event: Show
) -> CommitOutcome:
    """The composites' commit: the release files `paths` on `branch`, with the kit's message."""
    return flows.commit_flow(_flow(cfg, False, on_event), branch, paths, step=step, version=version, show=show)


def push(cfg: Config, branch: str, *, show: Show, on_event: Show) -> FlowOutcome:
    """The composites' push of `branch` (a fast-forward)."""
    return flows.push_flow(_flow(cfg, False, on_event), branch, show=show)
