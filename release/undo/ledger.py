"""What a composite run records for its undo: the `ledger` of its section in the state file.

    "ledger": {
      "checkout": {"branch": "dev"},                     # checked out when the run started
      "branches": {"pre-release-v0.6.0": {"created_local": true, "created_remote": true,
                                          "local_tip": SHA, "remote_tip": SHA}},
      "pulls":    {"12": {"url": URL, "head": "pre-release-v0.6.0", "base": "dev"}},   # PRs the run opened
      "images":   {DESTINATION: {"digest": DIGEST, "by": "images.promote"}},        # tags the run created
      "existed":  {DESTINATION: DIGEST},                                             # tags there before the run
      "releases": {"7": {"tag": "v0.6.0"}}                                           # draft releases it created
    }

Each fact is written the moment it becomes true (`RunContext.remember` saves the state file), so a run that fails
half-way still tells its undo what it made. Only positive facts are recorded: a resumed step that finds its branch
already there records nothing, and cannot erase what the first attempt recorded. A destination first seen by a
later attempt after an earlier attempt created it stays "created" (`existed` is not written over `images`).

The functions take the step's own results (duck-typed: plan steps with `args`, promotion and build outcomes) and
write through `ctx.remember`; `release/undo/evidence.py` reads the ledger back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

CHECKOUT, BRANCHES, PULLS, IMAGES, EXISTED, RELEASES = "checkout", "branches", "pulls", "images", "existed", "releases"


class Remember(Protocol):
    """`release.pipeline.RunContext` as the ledger sees it."""

    ledger: dict[str, dict[str, Any]]

    def remember(self, section: str, entries: Mapping[str, Any], *, keep_first: bool = False) -> None: ...


def checkout(ctx: Remember, branch: str | None, *, run_branch: str) -> None:
    """The branch checked out before the run switched to its own (kept from the first attempt)."""
    if branch and branch != run_branch:
        ctx.remember(CHECKOUT, {"branch": branch}, keep_first=True)


def branch_cut(ctx: Remember, name: str, steps: Iterable[Any], sha: str | None) -> None:
    """After `git.prerelease` / `git.rc`: the plan's `git branch NAME …` created it locally, `git push
    --set-upstream …` created it on the remote."""
    args = [tuple(getattr(s, "args", ())) for s in steps]
    facts: dict[str, Any] = {}
    if any(a[:2] == ("branch", name) for a in args):
        facts.update(created_local=True, local_tip=sha)
    if any(a[:2] == ("push", "--set-upstream") for a in args):
        facts.update(created_remote=True, remote_tip=sha)
    if facts:
        ctx.remember(BRANCHES, {name: facts})


def committed(ctx: Remember, branch: str, sha: str | None) -> None:
    if sha:
        ctx.remember(BRANCHES, {branch: {"local_tip": sha}})


def pushed(ctx: Remember, branch: str, sha: str | None) -> None:
    if sha:
        ctx.remember(BRANCHES, {branch: {"local_tip": sha, "remote_tip": sha}})


_PULL_NUMBER = re.compile(r"/pull/(\d{1,9})$")


def pulls_opened(ctx: Remember, steps: Iterable[Any], urls: Iterable[str]) -> None:
    """The PR the plan opened (an `OpenPull` step: it has `head`, `base` and `draft`); its URL ends in /pull/N."""
    opened = [s for s in steps if type(s).__name__ == "OpenPull"]
    if not opened:
        return
    found = {m[1]: {"url": url, "head": step.head, "base": step.base}
             for step, url in zip(opened, urls, strict=False) if (m := _PULL_NUMBER.search(url))}  # fmt: skip
    ctx.remember(PULLS, found)


def promoted(ctx: Remember, result: Any) -> None:
    """A promotion's copies (created: the plan saw each destination missing) and the destinations that were there
    (Skip, Conflict), with their digests."""
    copies = {
        str(o.step.dst): {"digest": o.digest, "by": "images.promote"} for o in result.outcomes if o.ok and o.digest
    }
    ctx.remember(IMAGES, copies)
    created = ctx.ledger.get(IMAGES, {})
    there = {}
    for step in result.plan.steps:
        digest = getattr(step, "dst_digest", None) or (getattr(step, "digest", None) if step.kind == "skip" else None)
        if digest and str(step.dst) not in created:
            there[str(step.dst)] = digest
    ctx.remember(EXISTED, there, keep_first=True)


def built(ctx: Remember, result: Any) -> None:
    """The images a build pushed (each was missing right before its push: release/build/push.py)."""
    pushed = {image.ref: {"digest": image.digest, "by": "images.build"}
              for unit in result.units for image in unit.images.values() if image.pushed and image.digest}  # fmt: skip
    ctx.remember(IMAGES, pushed)
