"""The git flows: observe → plan → show → apply → plan again, which must then be empty.

`converge` is the loop every flow shares; each flow (pre-release, RC, hot-fix, applying a fix, committing and
pushing the release files) only says how to make its plan. A re-run plans again: what already happened shows up
as `Skip`, so an interrupted run converges when started again, and a finished one plans nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from release import branch_point
from release.errors import ConfigError, GitStateError
from release.gitflow.apply import ApplyResult, apply_git_plan
from release.gitflow.branching import (
    plan_cherry_pick,
    plan_commit,
    plan_hotfix,
    plan_prerelease,
    plan_push,
    plan_rc,
)
from release.gitflow.facts import CommitFacts, RepoFacts, remote_sha, require_remote
from release.gitflow.files import ReleaseFiles
from release.gitflow.names import hotfix_branch, newest_rc, prerelease_branch, rc_branch
from release.gitflow.observe import (
    default_user,
    observe_branch,
    observe_cherry_pick,
    observe_commit,
    observe_merge,
    observe_repo,
    refresh,
    resolve_commit,
)
from release.gitflow.plan import GitPlan
from release.github_types import RepoRef
from release.version import Version

if TYPE_CHECKING:
    from release.git import Git
    from release.github import GitHubClient

Show = Callable[[str], None]


@dataclass(frozen=True)
class Flow:
    """What every git task needs: the clients, the branch names of the repository and how to talk."""

    git: Git
    github: GitHubClient | None  # writes this repository (GITHUB_TOKEN, else GH_PAT)
    remote: str
    dev: str
    main: str
    project: RepoRef
    dry_run: bool
    on_event: Callable[[str], None] = lambda _: None

    def need_github(self, why: str) -> GitHubClient:
        if self.github is None:  # a missing token is a configuration error (exit 2)
            raise ConfigError(f"{why} needs the GitHub API: set GITHUB_TOKEN (or GH_PAT)")
        return self.github


@dataclass(frozen=True)
class FlowOutcome:
    plan: GitPlan
    result: ApplyResult | None  # None for a dry run or when there was nothing to do


def converge(flow: Flow, make_plan: Callable[[], GitPlan], *, show: Show) -> FlowOutcome:
    """Plan, show the plan, apply it (unless dry run), then plan again: a non-empty second plan is an error."""
    plan = make_plan()
    show(plan.render())
    if flow.dry_run or plan.converged:
        return FlowOutcome(plan, None)
    result = apply_git_plan(plan, git=flow.git, github=flow.github, project=flow.project, on_event=flow.on_event)
    again = make_plan()
    if not again.converged:
        raise GitStateError(
            "the steps ran, but the repository still differs from the plan; run the command again or inspect:\n"
            + again.render()
        )
    return FlowOutcome(plan, result)


def observe(flow: Flow) -> RepoFacts:
    refresh(flow.git, flow.remote, dry_run=flow.dry_run, on_event=flow.on_event)
    repo = observe_repo(flow.git, flow.remote)
    require_remote(repo)
    return repo


def prerelease_flow(
    flow: Flow,
    version: Version,
    files: ReleaseFiles,
    *,
    source: str | None,
    show: Show,
) -> FlowOutcome:
    """`inv git.prerelease`: `source` is the --from commit; None takes the tt-inference-server commit that the
    newest Models CI run among the last-good records tested (release.branch_point)."""
    point = None
    facts: tuple[tuple[str, str], ...] = ()
    if source:
        label = f"--from {source}"
    else:
        results = files.all_results_records()
        point = branch_point.choose(files.last_good_records(), results, source=str(files.release_logs))
        label, facts = point.label, point.facts()

    def make() -> GitPlan:
        repo = observe(flow)
        sha = branch_point.resolve(flow.git, point) if point else resolve_commit(flow.git, str(source), what=label)
        b = observe_branch(flow.git, repo, prerelease_branch(version), sha)
        return plan_prerelease(version, repo, b, source_label=label, source_facts=facts)

    return converge(flow, make, show=show)


def rc_flow(flow: Flow, version: Version, *, show: Show) -> FlowOutcome:
    def make() -> GitPlan:
        repo = observe(flow)
        pre = prerelease_branch(version)
        pre_sha = (
            repo.remote_heads.get(pre)
            or flow.git.rev_parse(f"refs/heads/{pre}")
            or merged_pr_head(flow, pre, flow.dev)  # GitHub may have deleted the branch after the merge
        )
        if pre_sha is None:
            raise GitStateError(
                f"{pre} exists neither on {flow.remote} nor locally: run `inv git.prerelease --version {version}`"
            )
        dev_sha = remote_sha(repo, flow.dev, hint="check [git] dev_branch in release.toml")
        merged = observe_merge(flow.git, pre, pre_sha, flow.dev, dev_sha)
        b = observe_branch(flow.git, repo, rc_branch(version), pre_sha)
        return plan_rc(version, repo, merged, b)

    return converge(flow, make, show=show)


def _rc_for(flow: Flow, repo: RepoFacts, version: Version | None) -> str:
    if version is not None:
        return rc_branch(version)
    rc = newest_rc(list(repo.remote_heads))
    if rc is None:
        raise GitStateError(f"no rc-vX.Y.Z branch on {flow.remote}: run `inv git.rc` first, or pass --version")
    return rc


def hotfix_flow(flow: Flow, desc: str, user: str | None, version: Version | None, *, show: Show) -> FlowOutcome:
    branch = hotfix_branch(user or default_user(flow.git), desc)

    def make() -> GitPlan:
        repo = observe(flow)
        rc = _rc_for(flow, repo, version)
        start = remote_sha(repo, rc, hint="run `inv git.rc` first (or check --version)")
        return plan_hotfix(repo, rc, observe_branch(flow.git, repo, branch, start))

    return converge(flow, make, show=show)


_PR_REF = re.compile(r"^(?:#|pr|PR)?(\d{1,6})$")


def apply_hotfix_flow(flow: Flow, target: str, version: Version | None, *, show: Show) -> FlowOutcome:
    m = _PR_REF.match(target.strip())
    if m:
        number = int(m[1])
        pr = flow.need_github(f"--apply {target}").get_pull(flow.project, number)
        if not pr.merged:
            raise GitStateError(
                f"PR #{number} ({pr.html_url}) is not merged: merge it into {flow.dev} with 'Create a merge commit', "
                "then apply it"
            )
        if pr.base_ref != flow.dev:
            raise GitStateError(
                f"PR #{number} was merged into {pr.base_ref}, not {flow.dev}; hot-fixes go to {flow.dev} first"
            )
        if not pr.merge_commit_sha:
            raise GitStateError(f"GitHub reports no merge commit for PR #{number}; run again in a minute")
        if not flow.need_github("--apply").get_commit(flow.project, pr.merge_commit_sha).is_merge:
            raise GitStateError(
                f"PR #{number} was squash- or rebase-merged ({pr.merge_commit_sha[:12]} has one parent); the runbook "
                "needs 'Create a merge commit' so dev and the RC branch share commit ids. Apply it by hand "
                f"(git cherry-pick -x {pr.merge_commit_sha[:12]}) if that is acceptable"
            )
        sha_ref, source = pr.merge_commit_sha, f"PR #{number}"
    else:
        sha_ref, source = target.strip(), target.strip()[:12]

    def make() -> GitPlan:
        repo = observe(flow)
        rc = _rc_for(flow, repo, version)
        sha = resolve_commit(flow.git, sha_ref, what="--apply")
        return plan_cherry_pick(repo, observe_cherry_pick(flow.git, repo, rc, flow.dev, sha, source))

    return converge(flow, make, show=show)


def merged_pr_head(flow: Flow, head: str, base: str) -> str | None:
    """The head commit of the merged PR `head` → `base`, when GitHub is configured."""
    if flow.github is None:
        return None
    pulls = flow.github.list_pulls(flow.project, head=f"{flow.project.owner}:{head}", base=base, state="closed")
    merged = [p for p in pulls if p.merged]
    return str(merged[0].head_sha) if merged else None


@dataclass(frozen=True)
class CommitOutcome(FlowOutcome):
    files: tuple[str, ...] = ()  # what the commit holds (none: there was nothing to commit)


def commit_flow(
    flow: Flow, branch: str, paths: Sequence[str], *, step: str, version: Version, show: Show
) -> CommitOutcome:
    """Commit the release files `paths` (relative to the checkout) on `branch`, which must be checked out."""
    seen: list[CommitFacts] = []

    def make() -> GitPlan:
        seen.append(observe_commit(flow.git, branch, paths))
        return plan_commit(seen[-1], step=step, version=version)

    out = converge(flow, make, show=show)
    return CommitOutcome(out.plan, out.result, seen[0].staged)


def push_flow(flow: Flow, branch: str, *, show: Show) -> FlowOutcome:
    """Push `branch`, which must be checked out, to the remote (a fast-forward)."""

    def make() -> GitPlan:
        repo = observe(flow)
        local = flow.git.rev_parse(f"refs/heads/{branch}")
        return plan_push(repo, observe_branch(flow.git, repo, branch, local or ""))

    return converge(flow, make, show=show)
