"""Reads of the repository that the planners need, returned as frozen facts (`release.gitflow.facts`).

Each function asks git (through `release.git.Git`) and decides nothing; a dry run fetches objects but moves no ref.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from release.errors import InputError
from release.gitflow.facts import (
    BranchFacts,
    CherryPickFacts,
    CommitFacts,
    MergeFacts,
    PickCommit,
    RepoFacts,
    remote_sha,
)
from release.gitflow.names import slug

if TYPE_CHECKING:
    from release.git import Git


def observe_repo(git: Git, remote: str) -> RepoFacts:
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


def refresh(git: Git, remote: str, *, dry_run: bool, on_event: Callable[[str], None]) -> None:
    """Fetch first, so every check sees the remote as it is. A dry run fetches objects but moves no ref."""
    if git.remote_url(remote) is None:
        return  # the planner refuses with advice
    args = ("fetch", "--prune", *(("--dry-run",) if dry_run else ()), "--quiet", remote)
    on_event("$ git " + shlex.join(args))
    git.run(*args)


def observe_branch(git: Git, repo: RepoFacts, name: str, start: str) -> BranchFacts:
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


def observe_merge(git: Git, branch: str, branch_sha: str, into: str, into_sha: str) -> MergeFacts:
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


def resolve_commit(git: Git, ref: str, *, what: str) -> str:
    sha = git.rev_parse(ref)
    if sha is None:
        raise InputError(
            f"{what} {ref!r} is not a commit of this repository (fetched from the remote first). Check the SHA: "
            "it must be a tt-inference-server commit, as printed in the Models CI job log."
        )
    return sha


def default_user(git: Git) -> str:
    """The hot-fix branch prefix: the local part of `git config user.email`, else `user.name`."""
    email = git.config_get("user.email") or ""
    name = email.split("@", 1)[0] if "@" in email else (git.config_get("user.name") or "")
    if not slug(name):
        raise InputError("no git user configured: pass --user NAME (the hot-fix branch prefix)")
    return name


def observe_cherry_pick(git: Git, repo: RepoFacts, rc: str, dev: str, sha: str, source: str) -> CherryPickFacts:
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


def _cherry(git: Git, upstream: str, head: str, limit: str) -> list[tuple[str, str]]:
    out = git.run("cherry", upstream, head, limit)
    return [(line[:1], line[2:].strip()) for line in out.splitlines() if line.strip()]


def observe_commit(git: Git, branch: str, paths: Sequence[str]) -> CommitFacts:
    """What `git add -- paths` then `git commit` would record: the files already staged, and those of `paths` that
    differ from HEAD (tracked or new; a path git ignores is not added)."""
    listed = set(paths)
    staged = {name for name in _names(git, "diff", "--cached", "--name-only") if name not in listed}
    if paths:
        staged.update(_names(git, "diff", "--name-only", "HEAD", "--", *paths))
        staged.update(_names(git, "ls-files", "--others", "--exclude-standard", "--", *paths))
    return CommitFacts(branch, git.current_branch(), git.rev_parse("HEAD"), tuple(paths), tuple(sorted(staged)))


def _names(git: Git, *args: str) -> list[str]:
    return [line for line in git.run(*args).splitlines() if line.strip()]
