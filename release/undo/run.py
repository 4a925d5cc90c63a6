"""The undo command: evidence → observe → plan, and with `apply`: journal → apply → observe and plan again.

Without `apply` nothing is written anywhere (no file, no git ref, no GitHub or registry write): the plan is the
output. With it, the steps run in order, then the world is observed and planned again: a step that is still
planned (and was not skipped with a reason while applying) means the undo did not converge, an error. The run's
state files are archived last, so the same `inv prerelease --increment …` (or `inv release`) starts afresh at the
same version.

Where the evidence comes from: the run's section of `release_logs/release_state_vX.Y.Z.json` (and, for a release,
`release_record_vX.Y.Z.json`); once those are archived, the undo's own journal, which keeps a copy of both; once
that is archived too, the undo is reported as done, from the archive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import run_state, wiring
from release.config import Config
from release.errors import ConfigError, InputError, ReleaseError, UndoIncomplete
from release.github_types import RepoRef
from release.images.promotion_run import read_bump_state
from release.record import ReleaseRecord
from release.record import read as read_record
from release.run_state import ReleaseState
from release.undo import apply as executor
from release.undo import evidence, observe
from release.undo import plan as planner
from release.version import Version

Say = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class UndoRequest:
    command: str  # prerelease | release
    version: str
    apply: bool = False

    @classmethod
    def from_flags(cls, command: str, *, undo: bool, apply: bool, version: str | None, dry_run: bool) -> UndoRequest:
        """`--undo --version X.Y.Z [--apply]`: --apply and (for a pre-release) --version only with --undo, and
        --apply never with --dry-run."""
        if not undo or (apply and dry_run):
            raise ConfigError(
                f"the undo is `inv {command} --undo --version X.Y.Z` (the plan), then the same with --apply"
            )
        if not version:
            raise ConfigError(f"--undo needs --version X.Y.Z: the version whose {command} run to undo")
        return cls(command=command, version=str(Version.parse(version, source="--version")), apply=apply)


@dataclass(frozen=True)
class Undone:
    """The event a display prints: the plan, and what was done."""

    outcome: UndoOutcome


def run_undo(cfg: Config, request: UndoRequest, *, on_event: Callable[[object], None]) -> UndoOutcome:
    """The command: plan (and with `apply`, do) the undo; UndoIncomplete (exit 3) when something of the run is
    left, after the outcome went to `on_event`."""
    outcome = undo(cfg, UndoClients.from_config(cfg), command=request.command, version=request.version,
                   apply=request.apply, on_event=on_event)  # fmt: skip
    on_event(Undone(outcome))
    check(outcome)
    return outcome


@dataclass
class UndoClients:
    git: Any
    github: Any | None  # the project's token (GITHUB_TOKEN, else GH_PAT); None without one
    registry: Any

    @classmethod
    def from_config(cls, cfg: Config) -> UndoClients:
        github = wiring.project_github_client(cfg) if cfg.project_token is not None else None
        return cls(wiring.git_client(cfg), github, wiring.registry_client(cfg))


@dataclass(frozen=True)
class UndoOutcome:
    text: str
    plan: planner.UndoPlan | None  # None: the undo was finished earlier (reported from its archive)
    complete: bool  # nothing of the run is left (exit 0); else exit 3
    applied: bool


def check(outcome: UndoOutcome) -> None:
    """UndoIncomplete (exit 3) when the undo leaves something of the run, or stopped."""
    if outcome.complete:
        return
    if outcome.plan is not None and outcome.plan.stop:
        raise UndoIncomplete(f"the undo stopped and changed nothing: {outcome.plan.stop}")
    raise UndoIncomplete("the undo leaves part of the run (each item is listed above with the reason)")


def undo(
    cfg: Config, clients: UndoClients, *, command: str, version: str, apply: bool, on_event: Say = lambda _m: None
) -> UndoOutcome:
    files = _Files(cfg, command, version)
    source = files.source()
    if source is None:
        return files.finished_earlier()
    state, record, shown = source
    ev = evidence.from_state(state, command=command, version=version, source=shown, record=record,
                             dev_branch=cfg.dev_branch, main_branch=cfg.main_branch)  # fmt: skip
    project = RepoRef(cfg.project_owner, cfg.project_repo)

    def look() -> planner.UndoPlan:
        where = observe.Where(
            remote=cfg.git_remote,
            dev_branch=cfg.dev_branch,
            project=project,
            rewrite=cfg.registry_rewrite,
            kit_files=files.kit_files(),
            leftovers=files.leftovers(),
        )
        return planner.plan_undo(
            ev, observe.observe(ev, where, git=clients.git, github=clients.github, registry=clients.registry)
        )

    first = look()
    text = planner.render(first, source=shown)
    if not apply or first.stop:
        tail = "" if first.stop else "\n\nnothing was changed: run the same command with --apply to do it"
        return UndoOutcome(text + tail, first, first.complete, applied=False)
    saved = {"state": state.to_json(), "record": record.to_json() if record is not None else None}
    journal = executor.Journal.start(files.journal, source=saved,
                                     run_started_at=ev.started_at, archive=files.new_archive())  # fmt: skip
    journal.save()
    tools = executor.Tools(
        git=clients.git, github=clients.github, registry=clients.registry, project=project,
        root=cfg.repo_root, state_file=files.state, command=command, comment=_comment(command, version),
        journal=journal, on_event=on_event,
    )  # fmt: skip
    results = executor.apply_undo(first, tools)
    _converged(look(), results)
    archived = executor.finish(journal, plan=first, results=results)
    lines = [f"  {n}. {r.status}: {r.detail}" for n, r in enumerate(results, 1)]
    left = len(first.skipped) + sum(r.status != "done" for r in results)
    summary = f"\n\nundone: {sum(r.status == 'done' for r in results)} step(s) done, {left} item(s) left"
    text += "\n\napplied:\n" + "\n".join(lines) + summary + f"\nthe undo's record: {files.shown(archived)}"
    return UndoOutcome(text, first, left == 0, applied=True)


def _converged(again: planner.UndoPlan, results: list[executor.StepResult]) -> None:
    skipped = {planner.key(r.step) for r in results if r.status != "done"}
    left = [s for s in again.steps if planner.key(s) not in skipped]
    if left:
        raise ReleaseError(
            "the undo ran, but planned again it still has steps left; run the same command again, or look at:\n  "
            + "\n  ".join(s.describe() for s in left)
        )


def _comment(command: str, version: str) -> str:
    what = "pre-release" if command == "prerelease" else "release"
    return (
        f"Closed by the release kit's undo: `inv {command} --undo --version {version} --apply`.\n\n"
        f"This {what} run of v{version} is being taken back: its branch and the image tags it created are deleted "
        f"(only those still exactly as the run made them), so that v{version} can be made again."
    )


class _Files:
    """Where the run's files and the undo's own are."""

    def __init__(self, cfg: Config, command: str, version: str) -> None:
        self.cfg, self.command, self.version = cfg, command, version
        logs = cfg.release_logs
        self.state = logs / f"release_state_v{version}.json"
        self.record = logs / f"release_record_v{version}.json"
        self.notes = logs / f"release_notes_v{version}.md"
        self.promote_state = logs / "promote_state.json"
        self.journal = logs / f"undo_state_v{version}_{command}.json"
        self.undone = logs / executor.UNDONE_DIR

    def shown(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.cfg.repo_root))
        except ValueError:
            return str(path)

    def source(self) -> tuple[ReleaseState, ReleaseRecord | None, str] | None:
        """(state, record, where they come from), or None when the undo was finished earlier."""
        state = run_state.read(self.state)
        if state is not None and self.command in state.runs:
            record = None
            if self.command == "release" and self.record.exists():
                record = read_record(self.record, shown=self.shown(self.record))
            return state, record, self.shown(self.state)
        journal = executor.Journal.load(self.journal)
        source = journal.source if journal is not None else {}
        if isinstance(source.get("state"), Mapping):
            shown = self.shown(self.journal)
            kept = run_state.parse(source["state"], source=shown)
            rec = source.get("record")
            return kept, ReleaseRecord.from_json(rec, source=shown) if rec is not None else None, shown
        if self._archived() is None:
            raise InputError(
                f"{self.shown(self.state)} records no `{self.command}` run of v{self.version}: nothing to undo (the "
                "undo works from the state file the run wrote)"
            )
        return None

    def _archived(self) -> Path | None:
        found = sorted(self.undone.glob(f"v{self.version}-{self.command}-*/{self.journal.name}"))
        return found[-1] if found else None

    def finished_earlier(self) -> UndoOutcome:
        path = self._archived()
        journal = executor.Journal.load(path) if path is not None else None
        if path is None or journal is None:
            raise InputError(f"{path}: not the state of an undo; look at it, or move it away")
        left = journal.left
        text = f"the {self.command} run of v{self.version} was undone at {journal.data.get('finished_at', '?')}: "
        text += f"nothing left to do (its files are in {self.shown(path.parent)})"
        text += "".join(f"\n  left: {line}" for line in left)
        return UndoOutcome(text, None, not left, applied=False)

    def new_archive(self) -> Path:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return self.undone / f"v{self.version}-{self.command}-{stamp}"

    def kit_files(self) -> tuple[str, ...]:
        cfg, logs = self.cfg, self.cfg.release_logs
        paths = [cfg.catalogue_path, cfg.output_json_path, cfg.readme_path, cfg.version_file,
                 logs / "release_models_diff.md"]  # fmt: skip
        paths += [logs / f"{m}_artifacts_summary.{ext}" for m in ("dev", "release") for ext in ("md", "json")]
        return tuple(self.shown(p) for p in paths)

    def leftovers(self) -> tuple[str, ...]:
        found = [self.state] if self._has_run() else []
        if self.command == "release":
            found += [p for p in (self.record, self.notes) if p.exists()]
        elif self._promote_state_is_ours():
            found.append(self.promote_state)
        return tuple(self.shown(p) for p in found)

    def _has_run(self) -> bool:
        state = run_state.read(self.state)
        return state is not None and self.command in state.runs

    def _promote_state_is_ours(self) -> bool:
        """promote_state.json (the VERSION bump of `images.promote --increment`) of this version's dev promotion."""
        bump = read_bump_state(self.promote_state)
        return bump is not None and str(bump.to_version) == self.version and bump.mode == "dev"
