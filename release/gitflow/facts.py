"""Pure: what the git flow knows of the world (frozen facts, read by `release.gitflow.observe`), and the checks
every planner makes of them before it plans anything."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from release.errors import GitStateError
from release.github_types import Release
from release.version import Version


@dataclass(frozen=True)
class RepoFacts:
    remote: str
    remote_url: str | None
    dirty: tuple[str, ...]
    current_branch: str | None
    remote_heads: Mapping[str, str]  # branch → sha on the remote
    remote_tags: Mapping[str, str]  # tag → commit sha (peeled) on the remote


@dataclass(frozen=True)
class BranchFacts:
    """Where branch `name` is, locally and on the remote, relative to the commit it should start from."""

    name: str
    start: str
    local: str | None
    remote: str | None
    local_has_start: bool  # start is (an ancestor of) the local branch
    remote_has_start: bool
    remote_in_local: bool  # the remote branch is (an ancestor of) the local one
    local_in_remote: bool


@dataclass(frozen=True)
class MergeFacts:
    """How `branch` (at `branch_sha`) reached `into` (at `into_sha`)."""

    branch: str
    branch_sha: str
    into: str
    into_sha: str
    contained: bool
    merge_commit: str | None  # a merge commit on `into` with branch_sha as a non-first parent


@dataclass(frozen=True)
class PickCommit:
    sha: str
    subject: str
    parents: tuple[str, ...]
    applied: bool  # already on the RC branch (same commit, or the same patch)


@dataclass(frozen=True)
class CherryPickFacts:
    source: str  # what the user named: "PR #12" or a sha
    rc: BranchFacts
    dev: str
    dev_sha: str
    in_dev: bool
    via_merge_commit: bool
    commits: tuple[PickCommit, ...]  # oldest first


@dataclass(frozen=True)
class CommitFacts:
    """What committing the release files on `branch` would record."""

    branch: str
    current_branch: str | None
    head: str | None
    paths: tuple[str, ...]  # the release files that exist, relative to the checkout
    staged: tuple[str, ...]  # the files the commit would hold once `paths` are added (sorted)


@dataclass(frozen=True)
class PublishFacts:
    version: Version
    tag: str
    target: str  # the commit the tag must point at (the rc merge commit on main)
    merged: MergeFacts
    local_tag: str | None
    remote_tag: str | None
    release: Release | None  # the GitHub release of the tag, draft or not
    assets: tuple[tuple[str, bytes, str], ...]  # (name, data, content type) to attach


def remote_sha(repo: RepoFacts, branch: str, *, hint: str) -> str:
    sha = repo.remote_heads.get(branch)
    if sha is None:
        require_remote(repo)
        raise GitStateError(f"{repo.remote}/{branch} does not exist: {hint}")
    return sha


def require_remote(repo: RepoFacts) -> None:
    if repo.remote_url is None:
        raise GitStateError(
            f"this checkout has no remote {repo.remote!r}: add it (git remote add {repo.remote} URL) or set "
            "[git] remote in release.toml"
        )


def require_clean(repo: RepoFacts) -> None:
    if repo.dirty:
        shown = ", ".join(line[3:] for line in repo.dirty[:5]) + (" …" if len(repo.dirty) > 5 else "")
        raise GitStateError(
            f"the working tree has uncommitted changes ({len(repo.dirty)} file(s): {shown}); commit or stash them "
            "first (git stash), then run the command again"
        )


def require_merged(m: MergeFacts, remote: str, *, next_step: str) -> None:
    if not m.contained:
        raise GitStateError(
            f"{m.branch} ({m.branch_sha[:12]}) is not merged into {remote}/{m.into}: merge its PR with "
            f"'Create a merge commit' (a squash or rebase merge does not count), then {next_step}"
        )
    if m.merge_commit is None:
        raise GitStateError(
            f"{m.branch} ({m.branch_sha[:12]}) reached {remote}/{m.into} without a merge commit (fast-forward or "
            f"direct push). The runbook needs a merge commit on {m.into}; ask a maintainer before going on."
        )


def require_branch(current: str | None, expected: str, *, step: str) -> None:
    """Refuse to run `step` anywhere but on branch `expected` (for steps that commit release changes)."""
    if current != expected:
        where = "HEAD is detached" if current is None else f"{current} is checked out"
        raise GitStateError(
            f"{step} must run on {expected}, but {where}: git switch {expected} (or run `inv git.prerelease` / "
            "`inv git.rc` first)"
        )
