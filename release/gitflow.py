"""The release's git choreography: observe → plan (pure) → apply.

Runbook (release-README.md "Git Workflow") and original-behaviour.md §9:
  pre-release-vX.Y.Z from a commit that passed Models CI → PR into `dev`, merged with a merge commit →
  rc-vX.Y.Z from pre-release → PR into `main` (merge commit) → hot-fixes: `<user>/hot-fix-<desc>` from the RC
  branch, merged into `dev` with a merge commit, then put onto the RC branch → tag `vX.Y.Z` + GitHub release.

`observe_*` functions read the repository (and GitHub) and return frozen facts; `plan_*` functions are pure and
turn facts into a `GitPlan` of named steps, or raise `GitStateError` written as advice; `apply_git_plan` runs the
steps, announcing each command before it runs. A re-run plans again: what already happened shows up as `Skip`,
so an interrupted run converges when started again, and a finished one plans nothing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from release import (
    artifacts_summary,
    branch_point,
    ci_results_file,
    fsio,
    last_good_file,
    models_diff,
    notes,
    record,
    release_inputs,
)
from release.ci_results_file import AllResults
from release.errors import ConfigError, GitError, GitStateError, InputError, TagConflict
from release.github_types import RepoRef
from release.last_good_file import LastGoodRecords
from release.models_diff import ModelsDiff
from release.version import Version

# A plan line longer than this puts its `# why` comment on the next line (a normal terminal's width).
PLAN_WIDTH = 100

# ---------------------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------------------


def prerelease_branch(version: Version) -> str:
    return f"pre-release-v{version}"


def rc_branch(version: Version) -> str:
    return f"rc-v{version}"


def release_tag(version: Version) -> str:
    return f"v{version}"


def slug(text: str) -> str:
    """A branch-name-safe form of free text: `Fix Qwen OOM!` → `fix-qwen-oom`."""
    s = re.sub(r"[^a-z0-9._]+", "-", text.strip().lower()).strip("-._")
    s = re.sub(r"\.{2,}", ".", s)
    return s


def hotfix_branch(user: str, desc: str) -> str:
    u, d = slug(user), slug(desc)
    if not u:
        raise InputError(f"--user {user!r} gives an empty branch prefix; use letters or digits")
    if not d:
        raise InputError(f"--name {desc!r} gives an empty branch name; describe the fix in a few words")
    return f"{u}/hot-fix-{d}"


_RC = re.compile(r"^rc-v(\d+\.\d+\.\d+)$")


def newest_rc(branches: Sequence[str]) -> str | None:
    """The `rc-vX.Y.Z` branch with the highest version among `branches`."""
    found = [(Version.parse(m[1]), b) for b in branches if (m := _RC.match(b))]
    return max(found)[1] if found else None


# ---------------------------------------------------------------------------------------------------------
# plan steps
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunGit:
    """Run `git <args>` in the checkout."""

    args: tuple[str, ...]
    why: str
    advice: str = ""  # appended to the error when the command fails

    def describe(self) -> str:
        return "git " + shlex.join(self.args)


@dataclass(frozen=True)
class Skip:
    """Nothing to do: the world already looks as the step would make it."""

    what: str

    def describe(self) -> str:
        return f"skip: {self.what}"


@dataclass(frozen=True)
class OpenPull:
    head: str
    base: str
    title: str
    body: str
    draft: bool

    def describe(self) -> str:
        return f"GitHub: open {'draft ' if self.draft else ''}PR {self.head} → {self.base}: {self.title!r}"


@dataclass(frozen=True)
class UpdatePull:
    number: int
    url: str
    title: str
    body: str

    def describe(self) -> str:
        return f"GitHub: update PR #{self.number} title and body ({self.url})"


@dataclass(frozen=True)
class CreateRelease:
    tag: str
    target: str
    name: str
    body: str
    draft: bool

    def describe(self) -> str:
        return f"GitHub: create {'draft ' if self.draft else ''}release {self.name!r} for tag {self.tag}"


@dataclass(frozen=True)
class UpdateRelease:
    tag: str
    release_id: int
    name: str
    body: str
    publish: bool = False  # turn a draft into a published release

    def describe(self) -> str:
        what = "publish the draft release" if self.publish else "update the notes of release"
        return f"GitHub: {what} {self.tag} (id {self.release_id})"


@dataclass(frozen=True)
class UploadAsset:
    tag: str
    name: str
    data: bytes = field(repr=False)
    content_type: str = "application/json"
    replaces: int | None = None  # id of an asset of the same name with other content

    def describe(self) -> str:
        what = "replace" if self.replaces is not None else "upload"
        return f"GitHub: {what} release asset {self.name} ({len(self.data)} bytes) on {self.tag}"


Step = RunGit | Skip | OpenPull | UpdatePull | CreateRelease | UpdateRelease | UploadAsset


@dataclass(frozen=True)
class GitPlan:
    title: str
    facts: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]

    @property
    def actions(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if not isinstance(s, Skip))

    @property
    def converged(self) -> bool:
        return not self.actions

    def render(self) -> str:
        width = max((len(k) for k, _ in self.facts), default=0)
        lines = [self.title]
        lines += [f"  {k.ljust(width)}  {v}" for k, v in self.facts]
        lines.append("plan:" if self.actions else "plan: nothing to do")
        for n, step in enumerate(self.steps, 1):
            if isinstance(step, Skip):
                lines.append(f"  -  {step.describe()}")
            else:
                line = f"  {n}. {step.describe()}"
                if isinstance(step, RunGit) and step.why:  # the reason beside the command, or under it if too long
                    beside = f"{line}   # {step.why}"
                    line = beside if len(beside) <= PLAN_WIDTH else f"{line}\n     # {step.why}"
                lines.append(line)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        def step_json(s: Step) -> dict[str, Any]:
            d: dict[str, Any] = {"kind": type(s).__name__, "describe": s.describe()}
            if isinstance(s, RunGit):
                d["argv"] = ["git", *s.args]
            return d

        return {"title": self.title, "facts": dict(self.facts), "steps": [step_json(s) for s in self.steps]}


# ---------------------------------------------------------------------------------------------------------
# clients (typed as the little they must do)
# ---------------------------------------------------------------------------------------------------------


class CommitLike(Protocol):
    @property
    def sha(self) -> str: ...
    @property
    def parents(self) -> tuple[str, ...]: ...
    @property
    def subject(self) -> str: ...
    @property
    def is_merge(self) -> bool: ...


class GitClient(Protocol):
    def run(self, *args: str, input: str | None = None, ok: Sequence[int] = (0,)) -> str: ...
    def rev_parse(self, ref: str) -> str | None: ...
    def current_branch(self) -> str | None: ...
    def status_porcelain(self, *, untracked: bool = False) -> list[str]: ...
    def remote_url(self, remote: str) -> str | None: ...
    def config_get(self, key: str) -> str | None: ...
    def ls_remote(self, remote: str, *patterns: str) -> dict[str, str]: ...
    def is_ancestor(self, ancestor: str, descendant: str) -> bool: ...
    def has_commit(self, sha: str) -> bool: ...
    def rev_list(self, *args: str) -> list[str]: ...
    def commit(self, ref: str) -> Any: ...
    def cherry(self, upstream: str, head: str) -> list[tuple[str, str]]: ...
    def tag_target(self, tag: str) -> str | None: ...
    def show_file(self, rev: str, path: str) -> str | None: ...
    def commits(self, *rev_args: str) -> list[Any]: ...


class PullLike(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def merged(self) -> bool: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def html_url(self) -> str: ...
    @property
    def head_ref(self) -> str: ...
    @property
    def head_sha(self) -> str: ...
    @property
    def base_ref(self) -> str: ...
    @property
    def merge_commit_sha(self) -> str | None: ...


class AssetLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...


class ReleaseLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def tag_name(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def draft(self) -> bool: ...
    @property
    def html_url(self) -> str: ...
    @property
    def assets(self) -> Sequence[AssetLike]: ...


class GitHubClient(Protocol):
    """The part of `release.github.GitHubClient` the git flow uses (runs, pulls, commits, releases)."""

    def get_run(self, repo: RepoRef, run_id: int) -> Any: ...
    def list_pulls(self, repo: RepoRef, *, head: str, base: str, state: str = "all") -> Sequence[Any]: ...
    def get_pull(self, repo: RepoRef, number: int) -> Any: ...
    def create_pull(self, repo: RepoRef, *, head: str, base: str, title: str, body: str, draft: bool) -> Any: ...
    def update_pull(self, repo: RepoRef, number: int, *, title: str, body: str) -> Any: ...
    def get_commit(self, repo: RepoRef, ref: str) -> Any: ...
    def get_ref(self, repo: RepoRef, ref: str) -> Any | None: ...
    def find_release(self, repo: RepoRef, tag: str) -> Any | None: ...
    def create_release(self, repo: RepoRef, *, tag: str, target: str, name: str, body: str, draft: bool) -> Any: ...
    def update_release(
        self, repo: RepoRef, release_id: int, *, name: str, body: str, draft: bool | None = None
    ) -> Any: ...
    def upload_release_asset(self, release: Any, *, name: str, data: bytes, content_type: str) -> Any: ...
    def delete_release_asset(self, repo: RepoRef, asset_id: int) -> None: ...


# ---------------------------------------------------------------------------------------------------------
# facts
# ---------------------------------------------------------------------------------------------------------


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


def observe_repo(git: GitClient, remote: str) -> RepoFacts:
    url = git.remote_url(remote)
    heads: dict[str, str] = {}
    tags: dict[str, str] = {}
    if url is not None:
        for ref, sha in git.ls_remote(remote, "refs/heads/*", "refs/tags/*").items():
            if ref.startswith("refs/heads/"):
                heads[ref.removeprefix("refs/heads/")] = sha
            elif ref.startswith("refs/tags/"):
                name = ref.removeprefix("refs/tags/")
                if name.endswith("^{}"):
                    tags[name[:-3]] = sha  # the peeled commit wins over the tag object
                else:
                    tags.setdefault(name, sha)
    return RepoFacts(
        remote=remote,
        remote_url=url,
        dirty=tuple(git.status_porcelain()),
        current_branch=git.current_branch(),
        remote_heads=heads,
        remote_tags=tags,
    )


def refresh(git: GitClient, remote: str, *, dry_run: bool, on_event: Callable[[str], None]) -> None:
    """Fetch first, so every check sees the remote as it is. A dry run fetches objects but moves no ref."""
    if git.remote_url(remote) is None:
        return  # the planner refuses with advice
    args = ("fetch", "--prune", *(("--dry-run",) if dry_run else ()), "--quiet", remote)
    on_event("$ git " + shlex.join(args))
    git.run(*args)


def observe_branch(git: GitClient, repo: RepoFacts, name: str, start: str) -> BranchFacts:
    local = git.rev_parse(f"refs/heads/{name}")
    remote = repo.remote_heads.get(name)

    def anc(a: str | None, b: str | None) -> bool:
        return bool(a and b and (a == b or (git.has_commit(a) and git.has_commit(b) and git.is_ancestor(a, b))))

    return BranchFacts(
        name=name,
        start=start,
        local=local,
        remote=remote,
        local_has_start=anc(start, local),
        remote_has_start=anc(start, remote),
        remote_in_local=anc(remote, local),
        local_in_remote=anc(local, remote),
    )


def observe_merge(git: GitClient, branch: str, branch_sha: str, into: str, into_sha: str) -> MergeFacts:
    contained = git.is_ancestor(branch_sha, into_sha)
    merge_commit = None
    if contained:
        # Merge commits on `into` that are not on `branch`, with their parents; the oldest that has the branch
        # tip as a non-first parent is the PR's merge.
        for line in git.rev_list("--merges", "--parents", f"{branch_sha}..{into_sha}"):
            sha, *parents = line.split()
            if branch_sha in parents[1:]:
                merge_commit = sha
    return MergeFacts(branch, branch_sha, into, into_sha, contained, merge_commit)


def resolve_commit(git: GitClient, ref: str, *, what: str) -> str:
    sha = git.rev_parse(ref)
    if sha is None:
        raise InputError(
            f"{what} {ref!r} is not a commit of this repository (fetched from the remote first). Check the SHA: "
            "it must be a tt-inference-server commit, as printed in the Models CI job log."
        )
    return sha


def remote_sha(repo: RepoFacts, branch: str, *, hint: str) -> str:
    sha = repo.remote_heads.get(branch)
    if sha is None:
        _require_remote(repo)
        raise GitStateError(f"{repo.remote}/{branch} does not exist: {hint}")
    return sha


# ---------------------------------------------------------------------------------------------------------
# planners (pure)
# ---------------------------------------------------------------------------------------------------------


def _require_remote(repo: RepoFacts) -> None:
    if repo.remote_url is None:
        raise GitStateError(
            f"this checkout has no remote {repo.remote!r}: add it (git remote add {repo.remote} URL) or set "
            "[git] remote in release.toml"
        )


def _require_clean(repo: RepoFacts) -> None:
    if repo.dirty:
        shown = ", ".join(line[3:] for line in repo.dirty[:5]) + (" …" if len(repo.dirty) > 5 else "")
        raise GitStateError(
            f"the working tree has uncommitted changes ({len(repo.dirty)} file(s): {shown}); commit or stash them "
            "first (git stash), then run the command again"
        )


def _branch_steps(repo: RepoFacts, b: BranchFacts, *, start_label: str, checkout: bool = True) -> list[Step]:
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
    # checkout
    if checkout:
        if repo.current_branch == b.name:
            steps.append(Skip(f"{b.name} is checked out"))
        else:
            steps.append(RunGit(("switch", b.name), "work on the new branch"))
    # remote branch
    if b.remote is None:
        steps.append(RunGit(("push", "--set-upstream", r, f"{b.name}:refs/heads/{b.name}"), f"publish it on {r}"))
    elif b.remote == tip:
        steps.append(Skip(f"{r}/{b.name} is at {tip[:12]}"))
    elif b.local is not None and b.remote_in_local:
        steps.append(RunGit(("push", r, f"{b.name}:refs/heads/{b.name}"), f"fast-forward {r}/{b.name}"))
    elif b.local is not None and b.local_in_remote:
        raise GitStateError(
            f"{r}/{b.name} ({b.remote[:12]}) is ahead of your local {b.name} ({b.local[:12]}): update it "
            f"(git switch {b.name} && git merge --ff-only {r}/{b.name}) and run the command again"
        )
    else:
        raise GitStateError(
            f"{b.name} and {r}/{b.name} have diverged ({(b.local or '?')[:12]} vs {b.remote[:12]}); the kit never "
            "rewrites a published branch. Reconcile them by hand first."
        )
    return steps


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
    _require_remote(repo)
    _require_clean(repo)
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


def _require_merged(m: MergeFacts, remote: str, *, next_step: str) -> None:
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


def plan_rc(version: Version, repo: RepoFacts, merged: MergeFacts, branch: BranchFacts) -> GitPlan:
    """rc-vX.Y.Z from pre-release-vX.Y.Z, once the pre-release PR was merged into dev with a merge commit."""
    _require_remote(repo)
    _require_clean(repo)
    _require_merged(merged, repo.remote, next_step="run `inv git.rc` again")
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
    _require_remote(repo)
    _require_clean(repo)
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
    _require_remote(repo)
    _require_clean(repo)
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


def plan_pull_request(
    *, head: str, base: str, title: str, body: str, draft: bool, existing: Sequence[PullLike]
) -> GitPlan:
    """Open the PR, or bring the open one up to date; never a second PR for the same branch."""
    facts = (("head", head), ("base", base), ("title", title))
    open_prs = [p for p in existing if p.state == "open"]
    merged = [p for p in existing if p.merged]
    if merged:
        p = merged[0]
        return GitPlan(f"PR {head} → {base}", facts, (Skip(f"PR #{p.number} is already merged ({p.html_url})"),))
    if len(open_prs) > 1:
        raise GitStateError(
            f"{len(open_prs)} open PRs from {head} into {base} (#{', #'.join(str(p.number) for p in open_prs)}): "
            "close all but one, then run the command again"
        )
    if open_prs:
        p = open_prs[0]
        if p.title == title and (p.body or "") == body:
            step: Step = Skip(f"PR #{p.number} is up to date ({p.html_url})")
        else:
            step = UpdatePull(p.number, p.html_url, title, body)
        return GitPlan(f"PR {head} → {base}", facts, (step,))
    return GitPlan(f"PR {head} → {base}", facts, (OpenPull(head, base, title, body, draft),))


@dataclass(frozen=True)
class PublishFacts:
    version: Version
    tag: str
    target: str  # the commit the tag must point at (the rc merge commit on main)
    merged: MergeFacts
    local_tag: str | None
    remote_tag: str | None
    release: Any | None  # ReleaseLike
    assets: tuple[tuple[str, bytes, str], ...]  # (name, data, content type) to attach


def plan_publish(repo: RepoFacts, f: PublishFacts, *, notes: str, problem: str | None, draft: bool) -> GitPlan:
    """Tag vX.Y.Z on main (annotated) and create the GitHub release with the notes; idempotent."""
    _require_remote(repo)
    if problem:
        raise GitStateError(f"the release notes are not ready to publish: {problem}. Edit them and run again.")
    _require_merged(f.merged, repo.remote, next_step="publish again")
    r, tag = repo.remote, f.tag
    steps: list[Step] = []
    if f.local_tag is None:
        if f.remote_tag is None:
            steps.append(
                RunGit(
                    ("tag", "-a", tag, "-m", f"Release {tag}", f.target),
                    f"tag the release on {f.merged.into}",
                )
            )
        else:
            steps.append(Skip(f"tag {tag} exists on {r} only"))
    elif f.local_tag != f.target:
        raise TagConflict(
            f"local tag {tag} points at {f.local_tag[:12]}, not at {f.target[:12]}; the kit never moves a tag. "
            f"If it is a mistake: git tag -d {tag}"
        )
    else:
        steps.append(Skip(f"tag {tag} exists at {f.target[:12]}"))
    if f.remote_tag is None:
        steps.append(RunGit(("push", r, f"refs/tags/{tag}"), f"publish the tag on {r}"))
    elif f.remote_tag != f.target:
        raise TagConflict(
            f"{r} has tag {tag} at {f.remote_tag[:12]}, not at {f.target[:12]}; the kit never moves a published "
            "tag. Bump the version (a patch release) instead."
        )
    else:
        steps.append(Skip(f"{r} has tag {tag} at {f.target[:12]}"))
    name = f"v{f.version}"
    rel = f.release
    if rel is None:
        steps.append(CreateRelease(tag, f.target, name, notes, draft))
        existing_assets: dict[str, Any] = {}
    else:
        existing_assets = {a.name: a for a in rel.assets}
        publish = bool(rel.draft) and not draft  # --no-draft on a draft publishes it; a release never goes back
        if rel.name == name and (rel.body or "") == notes and not publish:
            steps.append(Skip(f"release {tag} is up to date ({rel.html_url})"))
        else:
            steps.append(UpdateRelease(tag, rel.id, name, notes, publish=publish))
    for asset_name, data, ctype in f.assets:
        have = existing_assets.get(asset_name)
        if have is not None and have.size == len(data):
            steps.append(Skip(f"asset {asset_name} is attached"))
        else:
            steps.append(UploadAsset(tag, asset_name, data, ctype, replaces=have.id if have is not None else None))
    return GitPlan(
        f"publish release {tag}",
        (
            ("tag", f"{tag} → {f.target[:12]} (merge of {f.merged.branch} into {f.merged.into})"),
            ("release", "draft" if draft else "published"),
        ),
        tuple(steps),
    )


# ---------------------------------------------------------------------------------------------------------
# executor
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyResult:
    done: tuple[str, ...]
    urls: tuple[str, ...]


def apply_git_plan(
    plan: GitPlan,
    *,
    git: GitClient,
    github: GitHubClient | None = None,
    project: RepoRef | None = None,
    on_event: Callable[[str], None] = lambda _: None,
) -> ApplyResult:
    """Run the plan's steps in order; each is announced through `on_event` before it runs."""
    done: list[str] = []
    urls: list[str] = []
    releases: dict[str, Any] = {}
    for step in plan.steps:
        if isinstance(step, Skip):
            continue
        on_event(("$ " if isinstance(step, RunGit) else "→ ") + step.describe())
        if isinstance(step, RunGit):
            try:
                git.run(*step.args)
            except GitError as e:
                if step.advice:
                    raise GitError(f"{e}\n  {step.advice}", stderr=e.stderr, returncode=e.returncode) from None
                raise
        else:
            if github is None or project is None:
                raise GitStateError("this step needs GitHub: set GITHUB_TOKEN (or GH_PAT)")
            if isinstance(step, OpenPull):
                pr = github.create_pull(
                    project,
                    head=step.head,
                    base=step.base,
                    title=step.title,
                    body=step.body,
                    draft=step.draft,
                )
                urls.append(pr.html_url)
            elif isinstance(step, UpdatePull):
                pr = github.update_pull(project, step.number, title=step.title, body=step.body)
                urls.append(pr.html_url)
            elif isinstance(step, CreateRelease):
                rel = github.create_release(
                    project,
                    tag=step.tag,
                    target=step.target,
                    name=step.name,
                    body=step.body,
                    draft=step.draft,
                )
                releases[step.tag] = rel
                urls.append(rel.html_url)
            elif isinstance(step, UpdateRelease):
                rel = github.update_release(
                    project, step.release_id, name=step.name, body=step.body, draft=False if step.publish else None
                )
                releases[step.tag] = rel
                urls.append(rel.html_url)
            elif isinstance(step, UploadAsset):
                rel = releases.get(step.tag) or github.find_release(project, step.tag)
                if rel is None:
                    raise GitStateError(f"release {step.tag} vanished while uploading {step.name}; run again")
                if step.replaces is not None:
                    github.delete_release_asset(project, step.replaces)
                github.upload_release_asset(rel, name=step.name, data=step.data, content_type=step.content_type)
        done.append(step.describe())
    return ApplyResult(tuple(done), tuple(urls))


# ---------------------------------------------------------------------------------------------------------
# flows: observe → plan → show → apply → plan again (must be empty)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """What every git task needs: the clients, the branch names of the repository and how to talk."""

    git: GitClient
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


def converge(flow: Flow, make_plan: Callable[[], GitPlan], *, show: Callable[[str], None]) -> FlowOutcome:
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


def _observe(flow: Flow) -> RepoFacts:
    refresh(flow.git, flow.remote, dry_run=flow.dry_run, on_event=flow.on_event)
    repo = observe_repo(flow.git, flow.remote)
    _require_remote(repo)
    return repo


def prerelease_flow(
    flow: Flow,
    version: Version,
    files: ReleaseFiles,
    *,
    source: str | None,
    show: Callable[[str], None],
) -> FlowOutcome:
    """`inv git.prerelease`: `source` is the --from commit; None takes the tt-inference-server commit that the
    newest Models CI run among the last-good records tested (release.branch_point)."""
    point = None
    facts: tuple[tuple[str, str], ...] = ()
    if source:
        label = f"--from {source}"
    else:
        point = branch_point.choose(files.last_good_records(), files.all_results_data(), source=str(files.release_logs))
        label, facts = point.label, point.facts()

    def make() -> GitPlan:
        repo = _observe(flow)
        sha = branch_point.resolve(flow.git, point) if point else resolve_commit(flow.git, str(source), what=label)
        b = observe_branch(flow.git, repo, prerelease_branch(version), sha)
        return plan_prerelease(version, repo, b, source_label=label, source_facts=facts)

    return converge(flow, make, show=show)


def rc_flow(flow: Flow, version: Version, *, show: Callable[[str], None]) -> FlowOutcome:
    def make() -> GitPlan:
        repo = _observe(flow)
        pre = prerelease_branch(version)
        pre_sha = (
            repo.remote_heads.get(pre)
            or flow.git.rev_parse(f"refs/heads/{pre}")
            or _merged_pr_head(flow, pre, flow.dev)  # GitHub may have deleted the branch after the merge
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


def default_user(git: GitClient) -> str:
    """The hot-fix branch prefix: the local part of `git config user.email`, else `user.name`."""
    email = git.config_get("user.email") or ""
    name = email.split("@", 1)[0] if "@" in email else (git.config_get("user.name") or "")
    if not slug(name):
        raise InputError("no git user configured: pass --user NAME (the hot-fix branch prefix)")
    return name


def _rc_for(flow: Flow, repo: RepoFacts, version: Version | None) -> str:
    if version is not None:
        return rc_branch(version)
    rc = newest_rc(list(repo.remote_heads))
    if rc is None:
        raise GitStateError(f"no rc-vX.Y.Z branch on {flow.remote}: run `inv git.rc` first, or pass --version")
    return rc


def hotfix_flow(
    flow: Flow, desc: str, user: str | None, version: Version | None, *, show: Callable[[str], None]
) -> FlowOutcome:
    branch = hotfix_branch(user or default_user(flow.git), desc)

    def make() -> GitPlan:
        repo = _observe(flow)
        rc = _rc_for(flow, repo, version)
        start = remote_sha(repo, rc, hint="run `inv git.rc` first (or check --version)")
        return plan_hotfix(repo, rc, observe_branch(flow.git, repo, branch, start))

    return converge(flow, make, show=show)


_PR_REF = re.compile(r"^(?:#|pr|PR)?(\d{1,6})$")


def observe_cherry_pick(git: GitClient, repo: RepoFacts, rc: str, dev: str, sha: str, source: str) -> CherryPickFacts:
    dev_sha = remote_sha(repo, dev, hint="check [git] dev_branch in release.toml")
    rc_remote = repo.remote_heads.get(rc)
    rc_facts = observe_branch(git, repo, rc, rc_remote or sha)
    target = git.commit(sha)
    in_dev = git.is_ancestor(sha, dev_sha)
    if target.is_merge:
        via_merge = in_dev
        shas = git.rev_list("--reverse", "--topo-order", f"{target.parents[0]}..{target.parents[1]}")
    else:
        # A commit that sits on dev's first-parent line was committed (or squashed) there directly.
        first_parent = set(git.rev_list("--first-parent", dev_sha, "--not", *target.parents)) if in_dev else set()
        via_merge = in_dev and sha not in first_parent
        shas = [sha]
    if rc_facts.local is not None and rc_remote is not None and rc_facts.local_in_remote:
        base = rc_remote
    else:
        base = rc_facts.local or rc_remote or sha
    commits = []
    for s in shas:
        c = git.commit(s)
        applied = git.is_ancestor(s, base)
        if not applied and len(c.parents) == 1:
            applied = any(sign == "-" for sign, _ in _cherry(git, base, s, c.parents[0]))
        commits.append(PickCommit(s, c.subject, tuple(c.parents), applied))
    return CherryPickFacts(source, rc_facts, dev, dev_sha, in_dev, via_merge, tuple(commits))


def _cherry(git: GitClient, upstream: str, head: str, limit: str) -> list[tuple[str, str]]:
    out = git.run("cherry", upstream, head, limit)
    return [(line[:1], line[2:].strip()) for line in out.splitlines() if line.strip()]


def apply_hotfix_flow(flow: Flow, target: str, version: Version | None, *, show: Callable[[str], None]) -> FlowOutcome:
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
        repo = _observe(flow)
        rc = _rc_for(flow, repo, version)
        sha = resolve_commit(flow.git, sha_ref, what="--apply")
        return plan_cherry_pick(repo, observe_cherry_pick(flow.git, repo, rc, flow.dev, sha, source))

    return converge(flow, make, show=show)


# ---------------------------------------------------------------------------------------------------------
# pull requests and release notes
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseFiles:
    """Where the earlier steps' outputs are: `release_logs/` and model_specs_output.json (both in the repo)."""

    repo_root: Path
    release_logs: Path
    specs_json: Path
    last_good: Path | None = None  # default: the newest models_ci_last_good_*.json in release_logs
    all_results: Path | None = None

    @classmethod
    def from_config(cls, cfg: Any, *, last_good: Path | None = None) -> ReleaseFiles:
        return cls(cfg.repo_root, cfg.release_logs, cfg.output_json_path, last_good=last_good)

    def rel(self, path: Path) -> str | None:
        try:
            return Path(path).resolve().relative_to(self.repo_root.resolve()).as_posix()
        except ValueError:
            return None

    def text(self, git: GitClient, rev: str | None, path: Path) -> str | None:
        """The file as committed at `rev` (what a PR shows), else as it is in the working tree."""
        rel = self.rel(path)
        if rev and rel:
            committed = git.show_file(rev, rel)
            if committed is not None:
                return committed
        return release_inputs.read_text(path)

    def read_models_diff(self, git: GitClient, rev: str | None) -> ModelsDiff | None:
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

    def all_results_data(self) -> dict[str, Any] | None:
        """The raw all-results file, for the job log lines `branch_point` quotes (the typed reader keeps none)."""
        return release_inputs.read_mapping(self.all_results_path(), "all CI results")

    def json_text(self, git: GitClient, rev: str | None, path: Path) -> Any | None:
        text = self.text(git, rev, path)
        return fsio.parse_json(text, source=str(path)) if text is not None else None


def waivers_for(files: ReleaseFiles, git: GitClient, rev: str | None) -> list[notes.Waiver] | None:
    results = files.all_results_records()
    specs = files.json_text(git, rev, files.specs_json)
    if results is None or not isinstance(specs, dict):
        return None
    return notes.find_waivers(results, specs)


def pr_flow(
    flow: Flow, kind: str, version: Version, files: ReleaseFiles, *, draft: bool, show: Callable[[str], None]
) -> FlowOutcome:
    gh = flow.need_github("opening a PR")
    head = prerelease_branch(version) if kind == "prerelease" else rc_branch(version)
    base = flow.dev if kind == "prerelease" else flow.main
    summary = "dev_artifacts_summary.md" if kind == "prerelease" else "release_artifacts_summary.md"
    producer = "prerelease" if kind == "prerelease" else "rc"
    title = notes.pr_title(kind, str(version))

    def make() -> GitPlan:
        repo = _observe(flow)
        head_sha = remote_sha(repo, head, hint=f"run `inv git.{producer} --version {version}` first (it pushes it)")
        remote_sha(repo, base, hint=f"check [git] {'dev' if kind == 'prerelease' else 'main'}_branch in release.toml")
        dev_sha = remote_sha(repo, flow.dev, hint="check [git] dev_branch in release.toml")
        last_good = files.last_good_records() or {}
        body = notes.render_pr_body(
            notes.PrBodyInput(
                kind=kind,
                version=str(version),
                head=head,
                base=base,
                models_diff=files.read_models_diff(flow.git, head_sha),
                artifacts_summary_md=files.text(flow.git, head_sha, files.release_logs / summary),
                artifacts_summary_name=summary,
                manual_changes=notes.manual_changes(flow.git.commits("--reverse", f"{dev_sha}..{head_sha}")),
                waivers=waivers_for(files, flow.git, head_sha),
                ci_runs=notes.ci_runs_used(last_good),
                ci_health_page=page.name if (page := files.health_page()) else None,
            )
        )
        existing = gh.list_pulls(flow.project, head=f"{flow.project.owner}:{head}", base=base, state="all")
        return plan_pull_request(head=head, base=base, title=title, body=body, draft=draft, existing=existing)

    return converge(flow, make, show=show)


def _merged_pr_head(flow: Flow, head: str, base: str) -> str | None:
    """The head commit of the merged PR `head` → `base`, when GitHub is configured."""
    if flow.github is None:
        return None
    pulls = flow.github.list_pulls(flow.project, head=f"{flow.project.owner}:{head}", base=base, state="closed")
    merged = [p for p in pulls if p.merged]
    return str(merged[0].head_sha) if merged else None


def _rc_merge(flow: Flow, repo: RepoFacts, version: Version) -> MergeFacts | None:
    rc = rc_branch(version)
    rc_sha = repo.remote_heads.get(rc) or flow.git.rev_parse(f"refs/heads/{rc}") or _merged_pr_head(flow, rc, flow.main)
    main_sha = repo.remote_heads.get(flow.main)
    if rc_sha is None or main_sha is None or not flow.git.has_commit(rc_sha):
        return None
    return observe_merge(flow.git, rc, rc_sha, flow.main, main_sha)


def notes_path(files: ReleaseFiles, version: Version) -> Path:
    return files.release_logs / f"release_notes_v{version}.md"


def record_path(files: ReleaseFiles, version: Version) -> Path:
    return files.release_logs / f"release_record_v{version}.json"


def read_record(files: ReleaseFiles, version: Version) -> record.ReleaseRecord | None:
    path = record_path(files, version)
    data = release_inputs.read_json(path)
    return record.ReleaseRecord.from_json(data, source=str(path)) if data is not None else None


def render_notes(flow: Flow, version: Version, files: ReleaseFiles, repo: RepoFacts) -> str:
    """The notes for `version`, keeping what a person wrote in the vLLM section of an existing notes file.

    With a release record (`inv release` writes it before the notes), its images, commit and CI runs are the notes';
    without one, the release artifacts summary's images (built ones included) and the last-good file's runs."""
    merged = _rc_merge(flow, repo, version)
    rec = read_record(files, version)
    last_good = files.last_good_records()
    diff = files.read_models_diff(flow.git, None)
    fw, kmd = notes.hardware_versions(last_good or {})
    images: list[notes.ReleasedImage] | None
    if rec is not None:
        images = record.released_images(rec.images)
        ci_runs = list(rec.ci_runs)
    else:
        summary = artifacts_summary.read_if_exists(files.release_logs / "release_artifacts_summary.json")
        images = record.released_images(record.images_from_summary(summary)) if summary is not None else None
        ci_runs = notes.ci_runs_used(last_good or {})
    commit, commit_note = None, ""
    if merged is not None and merged.merge_commit:
        commit = merged.merge_commit
    elif rec is not None and rec.commit:
        commit = rec.commit
        commit_note = f"head of {rc_branch(version)}; the tag goes on its merge commit into {flow.main}"
    inp = notes.NotesInput(
        version=str(version),
        tag=release_tag(version),
        commit=commit,
        commit_note=commit_note,
        ci_runs=ci_runs,
        firmware=fw,
        kmd=kmd,
        changes=diff.rows if diff is not None else None,
        waivers=waivers_for(files, flow.git, None),
        images=images,
    )
    old = release_inputs.read_text(notes_path(files, version))
    return notes.render_release_notes(inp, human=notes.human_section(old) if old else None)


@dataclass(frozen=True)
class NotesOutcome:
    path: Path
    text: str
    written: bool
    publish: FlowOutcome | None


def notes_flow(
    flow: Flow,
    version: Version,
    files: ReleaseFiles,
    *,
    publish: bool,
    draft: bool,
    show: Callable[[str], None],
) -> NotesOutcome:
    gh = flow.need_github("publishing the release") if publish else None  # before anything is fetched or written
    path = notes_path(files, version)
    repo = _observe(flow)
    text = render_notes(flow, version, files, repo)
    written = False
    if not flow.dry_run:
        written = fsio.write_if_changed(path, text)
    if gh is None:
        return NotesOutcome(path, text, written, None)
    tag = release_tag(version)

    def make() -> GitPlan:
        repo = _observe(flow)
        current = text if flow.dry_run else (release_inputs.read_text(path) or text)
        merged = _rc_merge(flow, repo, version)
        if merged is None:
            raise GitStateError(
                f"{rc_branch(version)} was found neither on {flow.remote}, locally nor as a merged PR, or "
                f"{flow.remote}/{flow.main} is missing: run `inv git.rc` and merge the release PR first"
            )
        remote_tag = repo.remote_tags.get(tag)
        if remote_tag is not None and gh.get_ref(flow.project, f"tags/{tag}") is None:
            raise GitStateError(
                f"{flow.remote} has tag {tag} but GitHub's {flow.project} does not: check that [project] owner/repo "
                f"in release.toml is the repository behind {flow.remote}"
            )
        record_file = record_path(files, version)
        assets = ((record_file.name, record_file.read_bytes(), "application/json"),) if record_file.exists() else ()
        facts = PublishFacts(
            version=version,
            tag=tag,
            target=merged.merge_commit or "",
            merged=merged,
            local_tag=flow.git.tag_target(tag),
            remote_tag=remote_tag,
            release=gh.find_release(flow.project, tag),
            assets=assets,
        )
        return plan_publish(repo, facts, notes=current, problem=notes.unfinished(current), draft=draft)

    return NotesOutcome(path, text, written, converge(flow, make, show=show))


def branch_guard(git: GitClient, expected: str, *, step: str) -> None:
    """Refuse to run `step` anywhere but on branch `expected` (for steps that commit release changes)."""
    current = git.current_branch()
    if current != expected:
        where = "HEAD is detached" if current is None else f"{current} is checked out"
        raise GitStateError(
            f"{step} must run on {expected}, but {where}: git switch {expected} (or run `inv git.prerelease` / "
            "`inv git.rc` first)"
        )
