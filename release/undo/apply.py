"""The executor of an undo plan: each step looks again right before it acts, and does nothing when the world moved
since planning (it then reports the step skipped, with the reason).

- PR: re-read (still open, unmerged, at the planned head), commented on, closed.
- Draft release: re-read (still a draft), deleted.
- Remote branch: `git push --force-with-lease=refs/heads/B:SHA REMOTE :refs/heads/B`, a compare-and-delete: git
  deletes the branch only while it is at SHA (nothing is ever force-pushed).
- Image tag on a registry (the distribution API): HEAD again (still the run's digest), `DELETE …/manifests/TAG`;
  a registry that does not delete tags (distribution 2.x answers 400 DIGEST_INVALID) gets `DELETE
  …/manifests/DIGEST` when the repository's tags, listed again, show no other tag at that digest. A registry with
  deletion disabled (405 UNSUPPORTED) leaves the tag: skipped, with that reason.
- Image tag on ghcr.io: the package version is listed again (same digest, no other tag), then deleted.
- Checkout: a copy of each uncommitted file the run wrote goes into the archive, then `git restore` (or, for a file
  HEAD does not have, a move into the archive); `git switch` back; `git branch -D` the run's branch while it is
  at the planned tip.
- Archive: the run's files move into `release_logs/undone/vX.Y.Z-COMMAND-TIME/`; a state file that also holds
  another command's run keeps that run (a copy of the whole file goes into the archive).

The undo's own state (`release_logs/undo_state_vX.Y.Z_COMMAND.json`) records each step as it finishes, with the
evidence it started from, so an interrupted undo resumes (from it, once the run's state file is archived) and a
PR is never commented on twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from release import fsio, run_state
from release.errors import ConfigError, GitError, RegistryError, RegistryResponseError
from release.github_types import RepoRef
from release.imageref import ImageRef
from release.undo import plan as p
from release.undo.observe import package_of

UNDONE_DIR = "undone"


class GitWriter(Protocol):
    def run(self, *args: str, input: str | None = None, ok: Sequence[int] = (0,)) -> str: ...
    def rev_parse(self, ref: str) -> str | None: ...
    def current_branch(self) -> str | None: ...


class GitHubWriter(Protocol):
    def get_pull(self, repo: RepoRef, number: int) -> Any: ...
    def comment(self, repo: RepoRef, number: int, body: str) -> None: ...
    def close_pull(self, repo: RepoRef, number: int) -> Any: ...
    def list_releases(self, repo: RepoRef) -> Sequence[Any]: ...
    def delete_release(self, repo: RepoRef, release_id: int) -> bool: ...
    def list_package_versions(self, org: str, package: str) -> Sequence[Any]: ...
    def delete_package_version(self, org: str, package: str, version_id: int) -> bool: ...


class RegistryWriter(Protocol):
    def digest(self, ref: ImageRef) -> str | None: ...
    def list_tags(self, ref: ImageRef) -> list[str]: ...
    def delete_manifest(self, ref: ImageRef) -> bool: ...


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Journal:
    """The undo's own state file: the evidence it started from, where it archives, each finished step."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = Path(path)
        self.data = data

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        """The journal at `path`; None when there is none, or it is not one (then a new undo starts afresh)."""
        data = fsio.read_json(path, what="undo state") if Path(path).exists() else None
        if not isinstance(data, dict) or not isinstance(data.get("steps"), dict) or not data.get("archive"):
            return None
        return cls(path, data)

    @classmethod
    def start(cls, path: Path, *, source: dict[str, Any], run_started_at: str | None, archive: Path) -> Journal:
        """The journal of this undo: the one on disk when it undoes the same run, else a new one."""
        old = cls.load(path)
        if old is not None and old.data.get("run_started_at") == run_started_at:
            return old
        data = {"schema": 1, "run_started_at": run_started_at, "started_at": _now(), "archive": str(archive),
                "source": source, "steps": {}}  # fmt: skip
        return cls(path, data)

    @property
    def archive(self) -> Path:
        return Path(self.data["archive"])

    @property
    def source(self) -> Mapping[str, Any]:
        """The run's state file and release record (as JSON) the undo started from."""
        saved = self.data.get("source")
        return saved if isinstance(saved, Mapping) else {}

    @property
    def left(self) -> list[str]:
        """What the finished undo left of the run, one line each."""
        return [str(line) for line in self.data.get("left") or [] if isinstance(line, str)]

    def has(self, key: str) -> bool:
        return key in self.data["steps"]

    def note(self, key: str, status: str, detail: str) -> None:
        self.data["steps"][key] = {"status": status, "detail": detail, "at": _now()}
        self.save()

    def save(self) -> None:
        fsio.write_json(self.path, self.data)


@dataclass(frozen=True)
class StepResult:
    step: p.Action
    status: str  # done | skipped
    detail: str


@dataclass
class Tools:
    """What the executor works with."""

    git: GitWriter
    github: GitHubWriter | None
    registry: RegistryWriter
    project: RepoRef
    root: Path  # the checkout
    state_file: Path  # release_state_vX.Y.Z.json
    command: str
    comment: str  # the body of the comment on a PR the undo closes
    journal: Journal
    on_event: Callable[[str], None] = field(default=lambda _msg: None)

    def need_github(self) -> GitHubWriter:
        if self.github is None:  # observe() refused earlier; a guard for the type checker
            raise ConfigError("the undo needs the GitHub API: set GITHUB_TOKEN (or GH_PAT)")
        return self.github


def apply_undo(plan: p.UndoPlan, tools: Tools) -> list[StepResult]:
    """Run the plan's steps in order; each is announced, re-checked, done (or skipped) and journaled."""
    results = []
    for n, step in enumerate(plan.steps, 1):
        tools.on_event(f"[{n}/{len(plan.steps)}] {step.describe()}")
        status, detail = _ACTIONS[type(step)](step, tools)
        tools.journal.note(p.key(step), status, detail)
        if status != "done":
            tools.on_event(f"  skipped: {detail}")
        results.append(StepResult(step, status, detail))
    return results


Outcome = tuple[str, str]  # (done | skipped, detail)


def _close_pull(step: p.ClosePull, t: Tools) -> Outcome:
    gh = t.need_github()
    pr = gh.get_pull(t.project, step.number)
    if pr.merged:
        return "skipped", f"PR #{step.number} was merged since planning: use the hot-fix flow"
    if pr.state != "open":
        return "done", "already closed"
    if pr.head_sha != step.head_sha:
        return "skipped", f"PR #{step.number} moved to {pr.head_sha[:12]} since planning: left open"
    mark = f"{p.key(step)}:comment"
    if not t.journal.has(mark):
        gh.comment(t.project, step.number, t.comment)
        t.journal.note(mark, "done", "commented")
    gh.close_pull(t.project, step.number)
    return "done", f"closed {step.url}"


def _delete_draft(step: p.DeleteDraft, t: Tools) -> Outcome:
    gh = t.need_github()
    found = next((r for r in gh.list_releases(t.project) if r.id == step.release_id), None)
    if found is None:
        return "done", "already gone"
    if not found.draft:
        return "skipped", f"release {step.tag} was published since planning: never undone"
    gh.delete_release(t.project, step.release_id)
    return "done", f"deleted the draft release {step.tag}"


def _delete_remote_branch(step: p.DeleteRemoteBranch, t: Tools) -> Outcome:
    lease = f"--force-with-lease=refs/heads/{step.name}:{step.sha}"
    try:
        t.git.run("push", "--quiet", lease, step.remote, f":refs/heads/{step.name}")
    except GitError as e:
        if "stale info" not in e.stderr and "rejected" not in e.stderr:
            raise
        if not t.git.run("ls-remote", "--", step.remote, f"refs/heads/{step.name}").strip():
            return "done", f"{step.remote}/{step.name} is already gone"
        return "skipped", f"{step.remote}/{step.name} moved since planning: left as it is"
    return "done", f"deleted {step.remote}/{step.name} (was at {step.sha[:12]})"


def _delete_image(step: p.DeleteImage, t: Tools) -> Outcome:
    ref = ImageRef.parse(step.destination)
    now = t.registry.digest(ref)
    if now is None:
        return "done", "already gone"
    if now != step.digest:
        return "skipped", f"{ref} points at {now} since planning: left as it is"
    try:
        t.registry.delete_manifest(ref)  # by tag
    except RegistryResponseError as e:
        if e.status not in (400, 405):
            raise
        refused = f"{e.status} {' '.join(e.codes)}".strip()
        return _delete_by_digest(ref, step.digest, refused, t)
    return _gone(ref, "deleted the tag", t)


def _delete_by_digest(ref: ImageRef, digest: str, refused: str, t: Tools) -> Outcome:
    repo = ImageRef(ref.registry, ref.repository)
    others = [
        tag for tag in t.registry.list_tags(repo) if tag != ref.tag and t.registry.digest(repo.with_tag(tag)) == digest
    ]
    if others:
        return "skipped", (
            f"the registry does not delete tags ({refused}) and {', '.join(sorted(others))} point at the same digest: "
            "deleting the digest would delete them too; left as it is"
        )
    try:
        t.registry.delete_manifest(repo.with_digest(digest))
    except RegistryResponseError as e:
        if e.status == 405 or "UNSUPPORTED" in e.codes:
            codes = f"{e.status} {' '.join(e.codes)}".strip()
            return "skipped", (
                f"the registry refuses to delete ({codes}: deletion is disabled in its storage settings); enable it "
                f"or delete {ref} by hand"
            )
        raise
    return _gone(ref, f"the registry does not delete tags ({refused}): deleted the manifest {digest[:19]}…", t)


def _gone(ref: ImageRef, detail: str, t: Tools) -> Outcome:
    if t.registry.digest(ref) is not None:
        raise RegistryError(f"{ref} is still there after its deletion was accepted; run the undo again")
    return "done", detail


def _delete_package_version(step: p.DeletePackageVersion, t: Tools) -> Outcome:
    gh = t.need_github()
    ref = ImageRef.parse(step.destination)
    org, package = package_of(ref) or ("", "")
    version = next((v for v in gh.list_package_versions(org, package) if v.id == step.version_id), None)
    if version is None:
        return "done", "the package version is already gone"
    if version.name != step.digest or set(version.tags) != {ref.tag}:
        return "skipped", f"version {step.version_id} of {step.package} changed since planning: left as it is"
    gh.delete_package_version(org, package, step.version_id)
    return "done", f"deleted version {step.version_id} of package {step.package}"


def _restore_files(step: p.RestoreFiles, t: Tools) -> Outcome:
    snapshot = t.journal.archive / "worktree"
    for rel in (*step.tracked, *step.untracked):
        path = t.root / rel
        if path.is_file():
            fsio.atomic_write_bytes(snapshot / rel, fsio.read_bytes(path))
    added = [rel for rel in step.tracked if rel not in _in_head(t, step.tracked)]
    restore = [rel for rel in step.tracked if rel not in added]
    if restore:
        t.git.run("restore", "--source=HEAD", "--staged", "--worktree", "--", *restore)
    if added:
        t.git.run("rm", "--cached", "--quiet", "--", *added)
    for rel in (*added, *step.untracked):
        if (t.root / rel).exists():
            fsio.move(t.root / rel, snapshot / rel)
    moved = len(added) + len(step.untracked)
    return "done", f"restored {len(restore)} file(s), moved {moved}; copies in {_shown(snapshot, t.root)}"


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _in_head(t: Tools, paths: Sequence[str]) -> set[str]:
    out = t.git.run("ls-tree", "-r", "--name-only", "HEAD", "--", *paths)
    return {line for line in out.splitlines() if line}


def _switch(step: p.SwitchBranch, t: Tools) -> Outcome:
    t.git.run("switch", "--quiet", step.to)
    return "done", f"checked out {step.to}"


def _delete_local_branch(step: p.DeleteLocalBranch, t: Tools) -> Outcome:
    tip = t.git.rev_parse(f"refs/heads/{step.name}")
    if tip is None:
        return "done", "already gone"
    if tip != step.sha or t.git.current_branch() == step.name:
        return "skipped", f"{step.name} moved or is checked out since planning: left as it is"
    t.git.run("branch", "--delete", "--force", step.name)
    return "done", f"deleted the local branch {step.name} (was at {step.sha[:12]})"


def _archive(step: p.Archive, t: Tools) -> Outcome:
    folder = t.journal.archive
    for rel in step.files:
        path = t.root / rel
        if not path.exists():
            continue
        if path == t.state_file:
            _archive_state(path, folder, t.command)
        else:
            fsio.move(path, folder / path.name)
    return "done", f"archived {len(step.files)} file(s) into {_shown(folder, t.root)}"


def _archive_state(path: Path, folder: Path, command: str) -> None:
    """The state file goes into the archive; another command's run in it stays in place."""
    state = run_state.read(path)
    if state is not None and set(state.runs) - {command}:
        run_state.write(folder / path.name, state)
        state.runs.pop(command, None)
        run_state.write(path, state)
    else:
        fsio.move(path, folder / path.name)


def finish(journal: Journal, *, plan: p.UndoPlan, results: Sequence[StepResult]) -> Path:
    """The journal, with what was left, goes into the archive beside the run's files; returns where."""
    journal.data["finished_at"] = _now()
    journal.data["left"] = [f"{s.what}: {s.reason}" for s in plan.skipped] + [
        f"{r.step.describe()}: {r.detail}" for r in results if r.status != "done"
    ]
    target = journal.archive / journal.path.name
    fsio.write_json(target, journal.data)
    journal.path.unlink(missing_ok=True)
    return target


_ACTIONS: dict[type, Callable[[Any, Tools], Outcome]] = {
    p.ClosePull: _close_pull,
    p.DeleteDraft: _delete_draft,
    p.DeleteRemoteBranch: _delete_remote_branch,
    p.DeleteImage: _delete_image,
    p.DeletePackageVersion: _delete_package_version,
    p.RestoreFiles: _restore_files,
    p.SwitchBranch: _switch,
    p.DeleteLocalBranch: _delete_local_branch,
    p.Archive: _archive,
}
