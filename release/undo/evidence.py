"""Pure: what a run provably created, from its state file (`release.run_state`: its ledger, release/undo/ledger.py)
and, for a release, its release record (`release.record`).

The state file is the kit's own, but it may have been edited, truncated or written by an older kit: a ledger entry
not shaped as expected is ignored and said in `gaps` (the undo then skips what it cannot prove, with that reason).
A state file without a ledger (an older kit) proves nothing but the images a release record lists as promoted or
built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from release.errors import InputError
from release.record import ReleaseRecord
from release.run_state import ReleaseState, RunState
from release.undo import ledger

COMMANDS = ("prerelease", "release")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class BranchEvidence:
    name: str
    created_local: bool = False
    created_remote: bool = False
    local_tip: str | None = None
    remote_tip: str | None = None


@dataclass(frozen=True)
class PullEvidence:
    number: int
    url: str
    head: str
    base: str


@dataclass(frozen=True)
class ImageEvidence:
    destination: str  # as recorded: after RELEASE_REGISTRY_REWRITE
    digest: str
    by: str  # images.promote | images.build | the release record


@dataclass(frozen=True)
class Evidence:
    command: str  # prerelease | release
    version: str
    started_at: str | None
    finished: bool
    run_branch: str  # pre-release-vX.Y.Z | rc-vX.Y.Z
    base: str  # where its PR goes: dev | main
    checkout: str | None  # the branch checked out when the run started
    branches: tuple[BranchEvidence, ...] = ()
    pulls: tuple[PullEvidence, ...] = ()
    touched_pulls: tuple[str, ...] = ()  # URLs of PRs the run opened or updated (its `pr` step's outputs)
    images: tuple[ImageEvidence, ...] = ()  # created by the run, newest first (builds before promotions)
    existed: Mapping[str, str] = field(default_factory=dict)  # destination → digest before the run
    releases: Mapping[int, str] = field(default_factory=dict)  # draft release id → tag, created by the run
    later: tuple[str, ...] = ()  # other commands of this version in the state file, run after this one
    gaps: tuple[str, ...] = ()  # what the state file does not say

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    def branch(self, name: str) -> BranchEvidence | None:
        return next((b for b in self.branches if b.name == name), None)


def branch_names(command: str, version: str) -> tuple[str, str]:
    """(the run's branch, the base of its PR)."""
    return (f"pre-release-v{version}", "dev") if command == "prerelease" else (f"rc-v{version}", "main")


def from_state(
    state: ReleaseState,
    *,
    command: str,
    version: str,
    source: str,
    record: ReleaseRecord | None = None,
    dev_branch: str = "dev",
    main_branch: str = "main",
) -> Evidence:
    """The evidence of `command`'s run of `version` in a state file (`record`: the release record)."""
    if command not in COMMANDS:
        raise InputError(f"cannot undo {command!r}: only prerelease and release runs")
    run = state.runs.get(command)
    if run is None:
        raise InputError(f"{source}: has no `{command}` run of v{version}; nothing to undo")
    branch, _ = branch_names(command, version)
    base = dev_branch if command == "prerelease" else main_branch
    book: Mapping[str, Any] = run.ledger
    gaps: list[str] = []
    if not book:
        gaps.append(
            "the state file has no undo ledger (written by an older kit): the run's branches, PRs and "
            "images cannot be proven its own"
        )
        book = {}
    images = _images(_section(book, ledger.IMAGES, gaps))
    existed = {k: v for k, v in _section(book, ledger.EXISTED, gaps).items() if isinstance(v, str) and _DIGEST.match(v)}
    if record is not None:
        more, before = _record_images(record)
        known = {i.destination for i in images}
        images += [i for i in more if i.destination not in known]
        existed = {**before, **existed}
    order = list(COMMANDS)
    later = tuple(c for c in order[order.index(command) + 1 :] if c in state.runs)
    checkout = _section(book, ledger.CHECKOUT, gaps).get("branch")
    return Evidence(
        command=command,
        version=version,
        started_at=run.started_at,
        finished=run.finished,
        run_branch=branch,
        base=base,
        checkout=checkout if isinstance(checkout, str) and checkout else None,
        branches=_branches(_section(book, ledger.BRANCHES, gaps)),
        pulls=_pulls(_section(book, ledger.PULLS, gaps)),
        touched_pulls=_touched(run),
        images=tuple(sorted(images, key=lambda i: i.by != "images.build")),
        existed=existed,
        releases={
            int(k): v.get("tag", "")
            for k, v in _section(book, ledger.RELEASES, gaps).items()
            if k.isdigit() and len(k) < 12 and isinstance(v, Mapping)
        },
        later=later,
        gaps=tuple(gaps),
    )


def _section(book: Mapping[str, Any], name: str, gaps: list[str]) -> Mapping[str, Any]:
    value = book.get(name, {})
    if not isinstance(value, Mapping):
        gaps.append(f"the ledger's {name!r} is not an object: ignored")
        return {}
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _sha(value: Any) -> str | None:
    return value if isinstance(value, str) and _SHA.match(value) else None


def _branches(section: Mapping[str, Any]) -> tuple[BranchEvidence, ...]:
    out = []
    for name, facts in section.items():
        if isinstance(facts, Mapping):
            out.append(
                BranchEvidence(
                    name=str(name),
                    created_local=facts.get("created_local") is True,
                    created_remote=facts.get("created_remote") is True,
                    local_tip=_sha(facts.get("local_tip")),
                    remote_tip=_sha(facts.get("remote_tip")),
                )
            )
    return tuple(out)


def _pulls(section: Mapping[str, Any]) -> tuple[PullEvidence, ...]:
    out = []
    for number, facts in section.items():
        if str(number).isdigit() and len(str(number)) < 10 and isinstance(facts, Mapping):
            url, head, base = (_str(facts.get(k)) for k in ("url", "head", "base"))
            if url and head and base:
                out.append(PullEvidence(int(number), url, head, base))
    return tuple(sorted(out, key=lambda p: p.number))


def _images(section: Mapping[str, Any]) -> list[ImageEvidence]:
    out = []
    for dst, facts in section.items():
        digest = facts.get("digest") if isinstance(facts, Mapping) else None
        if isinstance(digest, str) and _DIGEST.match(digest):
            out.append(ImageEvidence(str(dst), digest, _str(facts.get("by")) or "the run"))
    return out


def _touched(run: RunState) -> tuple[str, ...]:
    pr = run.steps.get("pr")
    urls = pr.outputs.get("urls") if pr is not None else None
    return tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else ()


def _record_images(record: ReleaseRecord) -> tuple[list[ImageEvidence], dict[str, str]]:
    """The release record's images: promoted or built ones were created by the release run (a promotion copies
    only to a destination it saw missing; a build pushes only a tag that is missing); existing and kept ones were
    there before it."""
    created: list[ImageEvidence] = []
    before: dict[str, str] = {}
    for image in record.images:
        if image.digest is None or not _DIGEST.match(image.digest):
            continue
        if image.how in ("promoted", "built"):
            by = "images.build" if image.how == "built" else "images.promote"
            created.append(ImageEvidence(image.destination, image.digest, by))
        elif image.how in ("existing", "kept"):
            before[image.destination] = image.digest
    return created, before
