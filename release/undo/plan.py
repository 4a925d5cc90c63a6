"""Pure: plan the undo of a run — `plan_undo(evidence, observed) → UndoPlan` — and render it.

Reverse order of creation: the run's PRs (closed with a comment), a draft release it created, its branch on the
remote, the image tags it created (builds first, then promotions), then the checkout (uncommitted changes of the
files the run writes restored, the branch checked out before the run switched back to, the run's local branch
deleted: its commits go with it; nothing is ever force-pushed) and last the run's state files, archived.

Each step names what it does and why it is safe. Only what is still exactly what the run created is undone:
- a PR the run opened, still open, with the run's head commit; a merged PR stops the whole undo (the release is
  in the base branch now: fix forward with the hot-fix flow);
- a branch the run created, whose tip is still the commit the run recorded;
- an image tag the run created that still points at the digest the run recorded (on ghcr.io: a package version
  carrying no other tag); a tag that was there before the run is never touched.
What the run did not provably create, or what changed since, is skipped with the reason (exit 3); what was there
before the run and was left as it was is listed as kept (exit 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from release.imageref import ImageRef
from release.undo.evidence import BranchEvidence, Evidence, ImageEvidence

# ---------------------------------------------------------------------------------------------- observed


@dataclass(frozen=True)
class PullSeen:
    number: int
    state: str  # open | closed
    merged: bool
    head: str
    base: str
    head_sha: str
    url: str


@dataclass(frozen=True)
class ReleaseSeen:
    id: int
    tag: str
    draft: bool
    url: str


@dataclass(frozen=True)
class ImageSeen:
    """An image tag as it is now, and what its deletion route needs."""

    destination: str
    digest: str | None  # what the tag points at now; None: it is gone
    route: str  # "registry" (the distribution API) | "packages" (GitHub Packages, for ghcr.io)
    shared_with: tuple[str, ...] = ()  # registry: the repository's other tags at the same digest
    package: str = ""  # packages: ORG/PACKAGE
    version_id: int | None = None  # packages: the version carrying the tag
    version_tags: tuple[str, ...] = ()  # packages: every tag of that version
    problem: str | None = None  # why the route cannot be used


@dataclass(frozen=True)
class Observed:
    remote: str
    current_branch: str | None
    dirty: tuple[tuple[str, str], ...]  # (status, path) of `git status --porcelain`, untracked included
    local: Mapping[str, str | None]  # branch → local tip
    remote_heads: Mapping[str, str | None]  # branch → tip on the remote
    home: str  # where the checkout goes back to: the branch checked out before the run, else the dev branch
    kit_files: tuple[str, ...]  # the files the run's steps write (the catalogue, VERSION, outputs, summaries)
    leftovers: tuple[str, ...]  # the run's local files to archive (state, record, notes, promote state)
    pulls: tuple[PullSeen, ...] = ()  # the PRs from the run's branch into its base, and the ones it opened
    releases: tuple[ReleaseSeen, ...] = ()  # releases of the run's tag
    images: Mapping[str, ImageSeen] = field(default_factory=dict)
    remote_tag: str | None = None  # the run's tag vX.Y.Z on the remote, when it is there


# ---------------------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class ClosePull:
    number: int
    url: str
    head: str
    base: str
    head_sha: str
    why: str

    def describe(self) -> str:
        return f"close PR #{self.number} {self.head} → {self.base}, with a comment naming the undo"


@dataclass(frozen=True)
class DeleteDraft:
    release_id: int
    tag: str
    why: str

    def describe(self) -> str:
        return f"delete the draft release {self.tag} (id {self.release_id}) on GitHub"


@dataclass(frozen=True)
class DeleteRemoteBranch:
    remote: str
    name: str
    sha: str
    why: str

    def describe(self) -> str:
        return f"delete branch {self.name} on {self.remote}, only while it is at {self.sha[:12]}"


@dataclass(frozen=True)
class DeleteImage:
    """Through the distribution API: DELETE by tag, else (a registry that does not delete tags) by digest when no
    other tag of the repository points at it."""

    destination: str
    digest: str
    shared_with: tuple[str, ...]
    why: str

    def describe(self) -> str:
        how = "by tag only" if self.shared_with else "by tag, else by digest"
        return f"delete {self.destination} ({self.digest[:19]}…, {how})"


@dataclass(frozen=True)
class DeletePackageVersion:
    """Through GitHub Packages (ghcr.io): the package version carrying the tag."""

    destination: str
    digest: str
    package: str  # ORG/PACKAGE
    version_id: int
    why: str

    def describe(self) -> str:
        return f"delete {self.destination} (version {self.version_id} of package {self.package}, {self.digest[:19]}…)"


@dataclass(frozen=True)
class RestoreFiles:
    tracked: tuple[str, ...]  # restored from HEAD (index and working tree)
    untracked: tuple[str, ...]  # moved into the archive
    why: str

    def describe(self) -> str:
        parts = [f"restore {', '.join(self.tracked)} from HEAD"] if self.tracked else []
        parts += [f"move {', '.join(self.untracked)} into the archive"] if self.untracked else []
        return "; ".join(parts) + " (a copy of each goes into the archive first)"


@dataclass(frozen=True)
class SwitchBranch:
    to: str
    why: str

    def describe(self) -> str:
        return f"check out {self.to} again"


@dataclass(frozen=True)
class DeleteLocalBranch:
    name: str
    sha: str
    why: str

    def describe(self) -> str:
        return f"delete the local branch {self.name} (at {self.sha[:12]}), with the run's commits on it"


@dataclass(frozen=True)
class Archive:
    files: tuple[str, ...]
    why: str

    def describe(self) -> str:
        return f"archive {', '.join(self.files)} into release_logs/undone/"


Action = (
    ClosePull
    | DeleteDraft
    | DeleteRemoteBranch
    | DeleteImage
    | DeletePackageVersion
    | RestoreFiles
    | SwitchBranch
    | DeleteLocalBranch
    | Archive
)


def key(step: Action) -> str:
    """A stable name for the undo's own state file."""
    match step:
        case ClosePull():
            return f"pull:{step.number}"
        case DeleteDraft():
            return f"release:{step.release_id}"
        case DeleteRemoteBranch():
            return f"remote-branch:{step.name}"
        case DeleteImage() | DeletePackageVersion():
            return f"image:{step.destination}"
        case DeleteLocalBranch():
            return f"local-branch:{step.name}"
        case _:
            return type(step).__name__


@dataclass(frozen=True)
class Line:
    """One thing the undo leaves: `what`, and why (skipped, kept) or what became of it (already undone)."""

    what: str
    reason: str = ""


@dataclass(frozen=True)
class UndoPlan:
    command: str
    version: str
    steps: tuple[Action, ...]
    skipped: tuple[Line, ...] = ()  # the run's, but not undone: changed since, merged, not provably its own
    kept: tuple[Line, ...] = ()  # there before the run: never touched
    undone: tuple[Line, ...] = ()  # already undone (an earlier undo, or by hand)
    stop: str | None = None  # the undo changes nothing at all
    gaps: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Applied, this plan leaves nothing of the run behind."""
        return self.stop is None and not self.skipped

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "version": self.version,
            "stop": self.stop,
            "steps": [{"key": key(s), "do": s.describe(), "why": s.why} for s in self.steps],
            "skipped": [{"what": s.what, "reason": s.reason} for s in self.skipped],
            "kept": [{"what": k.what, "reason": k.reason} for k in self.kept],
            "undone": [{"what": u.what, "reason": u.reason} for u in self.undone],
        }


# ---------------------------------------------------------------------------------------------- planner


@dataclass
class _Draft:
    steps: list[Action] = field(default_factory=list)
    skipped: list[Line] = field(default_factory=list)
    kept: list[Line] = field(default_factory=list)
    undone: list[Line] = field(default_factory=list)


def plan_undo(ev: Evidence, seen: Observed) -> UndoPlan:
    """The undo of `ev`'s run, given the world as `seen`. Pure."""
    stop = _stop(ev, seen)
    if stop is not None:
        return UndoPlan(ev.command, ev.version, (), stop=stop, gaps=ev.gaps)
    d = _Draft()
    closing = _pulls(ev, seen, d)
    _releases(ev, seen, d)
    _remote_branch(ev, seen, d, closing)
    for image in ev.images:
        _image(ev, seen, image, d)
    d.kept += [Line(dst, f"there before the run at {dg[:19]}…: never touched") for dst, dg in ev.existed.items()]
    if seen.remote_tag is not None:
        why = "no run creates it (`inv git.notes --publish` tags a merged release): the kit never deletes a tag"
        d.kept.append(Line(f"tag {ev.tag} on {seen.remote} (at {seen.remote_tag[:12]})", why))
    _checkout(ev, seen, d)
    if seen.leftovers:
        d.steps.append(
            Archive(
                seen.leftovers,
                "the run's own files; moved, not deleted, so that the same command starts afresh at this version",
            )
        )
    return UndoPlan(
        ev.command, ev.version, tuple(d.steps), tuple(d.skipped), tuple(d.kept), tuple(d.undone), gaps=ev.gaps
    )


def _stop(ev: Evidence, seen: Observed) -> str | None:
    if ev.later:
        return (
            f"v{ev.version} also has a `{ev.later[0]}` run, made after this one: undo it first "
            f"(inv {ev.later[0]} --undo --version {ev.version}), then this one"
        )
    merged = [p for p in seen.pulls if p.merged and p.head == ev.run_branch]
    if merged:
        p = merged[0]
        return (
            f"PR #{p.number} {p.head} → {p.base} was merged ({p.url}): v{ev.version} is part of {p.base} now, and "
            "taking back its branch or images would break it. The undo changes nothing; fix forward instead with "
            "the hot-fix flow (inv git.hotfix --name DESC, then inv git.hotfix --apply PR) or a new version"
        )
    return None


def _pulls(ev: Evidence, seen: Observed, d: _Draft) -> set[int]:
    """Close the PRs the run opened; returns their numbers."""
    by_number = {p.number: p for p in seen.pulls}
    tip = (ev.branch(ev.run_branch) or BranchEvidence(ev.run_branch)).remote_tip
    closing: set[int] = set()
    for rec in ev.pulls:
        what = f"PR #{rec.number} {rec.head} → {rec.base}"
        p = by_number.get(rec.number)
        if p is None:
            d.skipped.append(Line(what, "GitHub does not show it any more; nothing to close"))
        elif p.state != "open":
            d.undone.append(Line(what, "closed"))
        elif rec.head != ev.run_branch or p.head != rec.head:
            d.skipped.append(Line(what, f"its head is {p.head}, not the run's branch {ev.run_branch}: left open"))
        elif tip is None or p.head_sha != tip:
            now = f"is at {p.head_sha[:12]}" + (f", not at the run's {tip[:12]}" if tip else "")
            d.skipped.append(Line(what, f"its head {now}: someone pushed to it since the run; left open"))
        else:
            closing.add(p.number)
            why = f"the run opened it; it is open, unmerged, at the run's commit {tip[:12]}"
            d.steps.append(ClosePull(p.number, p.url, p.head, p.base, p.head_sha, why))
    opened = {rec.number for rec in ev.pulls}
    for p in seen.pulls:
        if p.number not in opened and p.state == "open" and p.url in ev.touched_pulls:
            why = "the run updated it but did not open it: left open (close it by hand if it should go)"
            d.skipped.append(Line(f"PR #{p.number} {p.head} → {p.base}", why))
    return closing


def _releases(ev: Evidence, seen: Observed, d: _Draft) -> None:
    by_id = {r.id: r for r in seen.releases}
    for rid, tag in ev.releases.items():
        r = by_id.get(rid)
        what = f"release {tag} (id {rid})"
        if r is None:
            d.undone.append(Line(what, "gone"))
        elif not r.draft:
            d.skipped.append(Line(what, f"published since ({r.url}): a published release is never undone"))
        else:
            d.steps.append(DeleteDraft(rid, r.tag, "the run created this draft and it is still a draft"))
    for r in seen.releases:
        if r.id not in ev.releases:
            kind = "draft" if r.draft else "published"
            d.kept.append(
                Line(
                    f"release {r.tag} ({kind}, {r.url})",
                    "not created by this run (`inv git.notes --publish` makes it): left as it is",
                )
            )


def _remote_branch(ev: Evidence, seen: Observed, d: _Draft, closing: set[int]) -> None:
    name, remote = ev.run_branch, seen.remote
    b = ev.branch(name)
    now = seen.remote_heads.get(name)
    what = f"branch {name} on {remote}"
    if b is None or not b.created_remote:
        if now is not None:
            d.skipped.append(
                Line(
                    what,
                    "not recorded as pushed by this run (it was there before, or the state file "
                    "predates the undo ledger): left as it is",
                )
            )
        return
    others = [p.number for p in seen.pulls if p.state == "open" and p.head == name and p.number not in closing]
    if now is None:
        d.undone.append(Line(what, "gone"))
    elif b.remote_tip is None or now != b.remote_tip:
        was = f", not at the run's {b.remote_tip[:12]}" if b.remote_tip else " (the run's tip is not recorded)"
        d.skipped.append(Line(what, f"it is at {now[:12]}{was}: someone pushed to it since; left as it is"))
    elif others:
        d.skipped.append(
            Line(
                what,
                f"PR #{others[0]} (not the run's) is open from it; deleting the branch would close it: left as it is",
            )
        )
    else:
        d.steps.append(
            DeleteRemoteBranch(
                remote,
                name,
                now,
                "the run pushed it and its tip is still the run's commit; git deletes it only while it is there",
            )
        )


def _image(ev: Evidence, seen: Observed, image: ImageEvidence, d: _Draft) -> None:
    dst = image.destination
    if dst in ev.existed:
        d.kept.append(Line(dst, "the state file records it as there before the run: never touched"))
        return
    s = seen.images.get(dst)
    made = "built and pushed it" if image.by == "images.build" else "promoted it from Models CI"
    if s is None:
        d.skipped.append(Line(dst, "not looked at (no registry answer)"))
    elif s.digest is None:
        d.undone.append(Line(dst, "gone"))
    elif s.digest != image.digest:
        d.skipped.append(
            Line(
                dst,
                f"points at {s.digest[:19]}… now, not at the run's {image.digest[:19]}…: "
                "changed since the run; left as it is",
            )
        )
    elif s.problem is not None:
        d.skipped.append(Line(dst, s.problem))
    elif s.route == "packages":
        if s.version_id is None:
            d.skipped.append(
                Line(dst, f"GitHub Packages lists no version of {s.package} carrying this tag: delete it by hand")
            )
        elif set(s.version_tags) - {_tag(dst)}:
            others = ", ".join(sorted(set(s.version_tags) - {_tag(dst)}))
            d.skipped.append(
                Line(
                    dst,
                    f"version {s.version_id} of {s.package} also carries {others}; deleting it "
                    "would delete them too: left as it is",
                )
            )
        else:
            d.steps.append(
                DeletePackageVersion(
                    dst,
                    image.digest,
                    s.package,
                    s.version_id,
                    f"the run {made}; the tag is still the run's digest and its package version carries no other tag",
                )
            )
    else:
        also = (
            f"; tags {', '.join(s.shared_with)} share the digest, so only a tag deletion is tried"
            if s.shared_with
            else "; no other tag of the repository points at the digest"
        )
        d.steps.append(
            DeleteImage(
                dst, image.digest, s.shared_with, f"the run {made}, and it still points at the run's digest{also}"
            )
        )


def _checkout(ev: Evidence, seen: Observed, d: _Draft) -> None:
    name = ev.run_branch
    b = ev.branch(name) or BranchEvidence(name)
    on_it = seen.current_branch == name
    switched = not on_it
    if on_it:
        kit = set(seen.kit_files)
        foreign = [path for _, path in seen.dirty if path not in kit]
        if foreign:
            shown = ", ".join(foreign[:4]) + (" …" if len(foreign) > 4 else "")
            d.skipped.append(
                Line(
                    f"the checkout (on {name})",
                    f"the working tree has changes the run did not make "
                    f"({shown}): commit or stash them, then run the undo again",
                )
            )
        elif seen.local.get(seen.home) is None:
            d.skipped.append(
                Line(
                    f"the checkout (on {name})",
                    f"{seen.home}, the branch to go back to, does not "
                    "exist locally: check out the branch you want, then run the undo again",
                )
            )
        else:
            tracked = tuple(p for s, p in seen.dirty if s != "??")
            untracked = tuple(p for s, p in seen.dirty if s == "??")
            if tracked or untracked:
                d.steps.append(
                    RestoreFiles(
                        tracked,
                        untracked,
                        "uncommitted changes of files the run writes, on the "
                        "run's branch (it started from a clean tree)",
                    )
                )
            where = "checked out when the run started" if ev.checkout == seen.home else "the dev branch"
            d.steps.append(SwitchBranch(seen.home, f"{seen.home} was {where}"))
            switched = True
    tip = seen.local.get(name)
    what = f"local branch {name}"
    if tip is None:
        if b.created_local:
            d.undone.append(Line(what, "gone"))
    elif not b.created_local:
        d.skipped.append(Line(what, "not recorded as created by this run: left as it is"))
    elif b.local_tip is None or tip != b.local_tip:
        was = f", not at the run's {b.local_tip[:12]}" if b.local_tip else ""
        d.skipped.append(Line(what, f"it is at {tip[:12]}{was}: it has commits the run did not make; left as it is"))
    elif not switched:
        d.skipped.append(Line(what, "still checked out (see the checkout above): left as it is"))
    else:
        d.steps.append(
            DeleteLocalBranch(
                name,
                tip,
                "the run created it and its tip is still the run's last commit "
                "(VERSION and catalogue changes live only there)",
            )
        )


def _tag(destination: str) -> str:
    return ImageRef.parse(destination).tag or ""


# ---------------------------------------------------------------------------------------------- rendering


def render(plan: UndoPlan, *, source: str) -> str:
    """The plan as the task prints it (and tests compare with golden files)."""
    what = "pre-release" if plan.command == "prerelease" else "release"
    lines = [f"undo of the {what} v{plan.version} (from {source})"]
    lines += [f"  note: {gap}" for gap in plan.gaps]
    if plan.stop:
        return "\n".join([*lines, f"stopped: {plan.stop}"])
    lines.append("plan, in reverse order of creation:" if plan.steps else "plan: nothing to do")
    for n, step in enumerate(plan.steps, 1):
        lines += [f"  {n}. {step.describe()}", f"     safe: {step.why}"]
    for title, items in (
        ("already undone", plan.undone),
        ("kept (there before the run)", plan.kept),
        ("skipped (not undone)", plan.skipped),
    ):
        if items:
            lines.append(f"{title}:")
            lines += [f"  - {i.what}" + (f": {i.reason}" if i.reason else "") for i in items]
    return "\n".join(lines)
