"""Pure planners of branches: facts in, a `GitPlan` out (or `GitStateError` written as advice).

The pre-release, RC and hot-fix branches are made at their start commit, checked out and pushed; a fix merged into
dev is put onto the RC branch (fast-forward, else `cherry-pick -x`); the release files are committed and pushed.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from release import notes
from release.errors import GitStateError
from release.gitflow.facts import (
    BranchFacts,
    CherryPickFacts,
    CommitFacts,
    MergeFacts,
    PickCommit,
    RepoFacts,
    require_branch,
    require_clean,
    require_merged,
    require_remote,
)
from release.gitflow.plan import GitPlan, RunGit, Skip, Step
from release.version import Version


def _branch_steps(repo: RepoFacts, b: BranchFacts, *, start_label: str) -> list[Step]:
    """Create branch `b.name` at `b.start` (locally and on the remote) and check it out, or confirm it exists."""
    steps: list[Step] = []
    r = repo.remote
    # local branch
    if b.local is None:
        if b.remote is not None:
            if not b.remote_has_start:
                raise GitStateError(
                    f"{r}/{b.name} exists at {b.remote[:12]} and does not contain {start_label} ({b.start[:12]}). "
                    f"If it is stale, delete it (git push {r} --delete {b.name}); otherwise use that commit."
                )
            steps.append(RunGit(("branch", b.name, b.remote), f"local copy of {r}/{b.name}"))
            tip = b.remote
        else:
            steps.append(RunGit(("branch", b.name, b.start), f"new branch at {start_label}"))
            tip = b.start
    else:
        if not b.local_has_start:
            raise GitStateError(
                f"branch {b.name} already exists at {b.local[:12]} and was not made from {start_label} "
                f"({b.start[:12]}). If it is stale: git branch -D {b.name} (and delete it on {r}); "
                "otherwise start from its commit."
            )
        steps.append(Skip(f"branch {b.name} exists at {b.local[:12]} (contains {b.start[:12]})"))
        tip = b.local
    if repo.current_branch == b.name:
        steps.append(Skip(f"{b.name} is checked out"))
    else:
        steps.append(RunGit(("switch", b.name), "work on the new branch"))
    return [*steps, _publish(repo, b, tip)]


def _publish(repo: RepoFacts, b: BranchFacts, tip: str) -> Step:
    """Bring `b.name` on the remote to `tip`: push it when missing, fast-forward it, never rewrite it."""
    r = repo.remote
    if b.remote is None:
        return RunGit(("push", "--set-upstream", r, f"{b.name}:refs/heads/{b.name}"), f"publish it on {r}")
    if b.remote == tip:
        return Skip(f"{r}/{b.name} is at {tip[:12]}")
    if b.local is not None and b.remote_in_local:
        return RunGit(("push", r, f"{b.name}:refs/heads/{b.name}"), f"fast-forward {r}/{b.name}")
    if b.local is not None and b.local_in_remote:
        raise GitStateError(
            f"{r}/{b.name} ({b.remote[:12]}) is ahead of your local {b.name} ({b.local[:12]}): update it "
            f"(git switch {b.name} && git merge --ff-only {r}/{b.name}) and run the command again"
        )
    raise GitStateError(
        f"{b.name} and {r}/{b.name} have diverged ({(b.local or '?')[:12]} vs {b.remote[:12]}); the kit never "
        "rewrites a published branch. Reconcile them by hand first."
    )


def plan_prerelease(
    version: Version,
    repo: RepoFacts,
    branch: BranchFacts,
    *,
    source_label: str,
    source_facts: tuple[tuple[str, str], ...] = (),
) -> GitPlan:
    """pre-release-vX.Y.Z from the commit that passed Models CI, checked out and pushed; `source_facts` say where
    that commit came from."""
    require_remote(repo)
    require_clean(repo)
    steps = _branch_steps(repo, branch, start_label=source_label)
    return GitPlan(
        title=f"pre-release v{version}",
        facts=(
            ("branch", branch.name),
            ("from", f"{branch.start[:12]} ({source_label})"),
            *source_facts,
            ("remote", repo.remote),
        ),
        steps=tuple(steps),
    )


def plan_rc(version: Version, repo: RepoFacts, merged: MergeFacts, branch: BranchFacts) -> GitPlan:
    """rc-vX.Y.Z from pre-release-vX.Y.Z, once the pre-release PR was merged into dev with a merge commit."""
    require_remote(repo)
    require_clean(repo)
    require_merged(merged, repo.remote, next_step="run `inv git.rc` again")
    steps = _branch_steps(repo, branch, start_label=merged.branch)
    return GitPlan(
        title=f"release candidate v{version}",
        facts=(
            ("branch", branch.name),
            ("from", f"{merged.branch} at {merged.branch_sha[:12]}"),
            ("merged", f"into {merged.into} by merge commit {(merged.merge_commit or '')[:12]}"),
        ),
        steps=tuple(steps),
    )


def plan_hotfix(repo: RepoFacts, rc: str, branch: BranchFacts) -> GitPlan:
    """`<user>/hot-fix-<desc>` from the RC branch; the fix then goes to dev by PR (merge commit)."""
    require_remote(repo)
    require_clean(repo)
    steps = _branch_steps(repo, branch, start_label=f"{repo.remote}/{rc}")
    return GitPlan(
        title=f"hot-fix branch {branch.name}",
        facts=(
            ("branch", branch.name),
            ("from", f"{repo.remote}/{rc} at {branch.start[:12]}"),
            (
                "next",
                f"open a PR {branch.name} → dev, merge it with a merge commit, then `inv git.hotfix --apply <PR>`",
            ),
        ),
        steps=tuple(steps),
    )


def plan_cherry_pick(repo: RepoFacts, f: CherryPickFacts) -> GitPlan:
    """Put a fix that was merged into dev (by merge commit) onto the RC branch, without rewriting history.

    When the fix's first commit sits directly on the RC tip (a hot-fix branch made by `inv git.hotfix` and
    nothing applied since), the RC branch is fast-forwarded: dev and main then share the very same commit ids,
    which is what the runbook's cherry-pick is for. Otherwise the commits are cherry-picked with `-x`.
    """
    require_remote(repo)
    require_clean(repo)
    r, rc = repo.remote, f.rc
    if rc.remote is None:
        raise GitStateError(f"{r}/{rc.name} does not exist: run `inv git.rc` first")
    if not f.in_dev:
        raise GitStateError(
            f"{f.source} is not on {r}/{f.dev}: merge the fix into {f.dev} first (PR with 'Create a merge commit'), "
            "then apply it"
        )
    if not f.via_merge_commit:
        raise GitStateError(
            f"{f.source} reached {f.dev} without a merge commit (squash, rebase or direct push); the runbook needs "
            "the fix merged with a merge commit so dev and the RC branch share commit ids"
        )
    merges = [c for c in f.commits if len(c.parents) > 1]
    if merges:
        raise GitStateError(
            f"{f.source} contains merge commit(s) {', '.join(c.sha[:12] for c in merges)}; cherry-pick them by hand "
            "(git cherry-pick -m 1 -x ...) or rebuild the hot-fix branch without merges"
        )
    if rc.local is not None and rc.local != rc.remote and not (rc.remote_in_local or rc.local_in_remote):
        raise GitStateError(
            f"{rc.name} and {r}/{rc.name} have diverged; the kit never rewrites the RC branch. Reconcile by hand."
        )
    steps: list[Step] = []
    if rc.local is None:
        steps.append(RunGit(("branch", rc.name, rc.remote), f"local copy of {r}/{rc.name}"))
        base = rc.remote
    elif rc.local != rc.remote and rc.local_in_remote:
        base = rc.remote
    else:
        base = rc.local  # same as the remote, or ahead of it (an earlier run picked but did not push)
    if repo.current_branch == rc.name:
        steps.append(Skip(f"{rc.name} is checked out"))
    else:
        steps.append(RunGit(("switch", rc.name), "apply on the RC branch"))
    if rc.local is not None and rc.local != rc.remote and rc.local_in_remote:
        steps.append(RunGit(("merge", "--ff-only", rc.remote), f"catch up with {r}/{rc.name}"))

    pending = [c for c in f.commits if not c.applied]
    if not pending:
        steps.append(Skip(f"all {len(f.commits)} commit(s) of {f.source} are already on {rc.name}"))
    elif _is_chain(pending, base) and len(pending) == len(f.commits):
        steps.append(
            RunGit(
                ("merge", "--ff-only", pending[-1].sha),
                f"fast-forward onto {len(pending)} commit(s) of {f.source}: same commit ids as on {f.dev}",
            )
        )
    else:
        steps.append(
            RunGit(
                ("cherry-pick", "-x", *(c.sha for c in pending)),
                f"{len(pending)} commit(s) of {f.source}",
                advice="resolve the conflict, `git cherry-pick --continue`, then run the same command again to push",
            )
        )
    if pending or (rc.local is not None and rc.local != rc.remote and rc.remote_in_local):
        steps.append(RunGit(("push", r, f"{rc.name}:refs/heads/{rc.name}"), f"publish on {r}/{rc.name} (no force)"))
    else:
        steps.append(Skip(f"{r}/{rc.name} is up to date"))
    commits = ", ".join(f"{c.sha[:9]} {c.subject}" for c in f.commits)
    return GitPlan(
        title=f"apply {f.source} to {rc.name}",
        facts=(
            ("commits", commits or "(none)"),
            ("onto", f"{rc.name} at {base[:12]}"),
            ("source", f"on {r}/{f.dev}, merged with a merge commit"),
        ),
        steps=tuple(steps),
    )


def _is_chain(commits: Sequence[PickCommit], base: str) -> bool:
    parent = base
    for c in commits:
        if c.parents != (parent,):
            return False
        parent = c.sha
    return True


def plan_commit(f: CommitFacts, *, step: str, version: Version) -> GitPlan:
    """Commit the release files on `f.branch` with the kit's message (its trailer marks the commit as the kit's)."""
    require_branch(f.current_branch, f.branch, step=step)
    facts = (("branch", f.branch), ("files", ", ".join(f.staged) or "(none changed)"))
    if not f.staged:
        return GitPlan(f"commit on {f.branch}", facts, (Skip("nothing to commit"),))
    subject = notes.kit_commit_subject(step, str(version), f.staged)
    message = notes.kit_commit_message(step, subject, f.staged)
    return GitPlan(
        f"commit on {f.branch}",
        facts,
        (
            RunGit(("add", "--", *f.paths), "stage the release files"),
            RunGit(
                ("commit", "-q", "-m", message),
                f"{len(f.staged)} file(s)",
                shown=f"git commit -q -m {shlex.quote(subject)} (the files and the kit's trailer below it)",
            ),
        ),
    )


def plan_push(repo: RepoFacts, b: BranchFacts) -> GitPlan:
    """Push the checked-out branch `b.name` to the remote: a fast-forward, never a rewrite."""
    require_remote(repo)
    require_branch(repo.current_branch, b.name, step="push")
    if b.local is None:
        raise GitStateError(f"branch {b.name} does not exist here: run `inv git.prerelease` / `inv git.rc` first")
    return GitPlan(f"push {b.name}", (("branch", b.name), ("remote", repo.remote)), (_publish(repo, b, b.local),))
