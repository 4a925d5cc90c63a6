"""Composite runs (`inv prerelease`, `inv release`): named steps, a state file, a lock, resume.

A run keeps its state in `release_logs/release_state_vX.Y.Z.json` (one file per version, one section per
command): the arguments, and per step its status, duration, outputs and links. Started again with the same
arguments, a run resumes at the first step that is not done and never repeats a finished step (each step is
itself idempotent, so a step interrupted half-way is simply planned again). The checkout's run lock
(release/runlock.py) stops two runs on one checkout. A dry run takes no lock and writes no state: it reads the state
file, shows the finished steps as done (asking nothing of git, registries or GitHub for them) and calls the `plan`
of every other step.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release import run_state, runlock
from release.errors import ConfigError, InputError, ReleaseError
from release.markdown import table
from release.redact import redact_text
from release.run_state import ReleaseState, RunState, StepState


@dataclass(frozen=True)
class StepOutcome:
    """What a step did: a one-line result, JSON-able outputs for later steps, and links for the user."""

    result: str
    outputs: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[str, ...] = ()


@dataclass
class RunContext:
    """Handed to every step: the run's identity, earlier steps' outputs, and a progress callback."""

    command: str
    version: str
    arguments: Mapping[str, Any]
    dry_run: bool
    outputs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    on_event: Callable[[str], None] = lambda _msg: None
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)  # the run's `ledger` in the state file
    on_ledger: Callable[[], None] = lambda: None  # saves the state file

    def output(self, step: str, key: str, default: Any = None) -> Any:
        return self.outputs.get(step, {}).get(key, default)

    def remember(self, section: str, entries: Mapping[str, Any], *, keep_first: bool = False) -> None:
        """Record at once, in the state file's ledger, what the run created (or found there before it): the undo
        (release/undo) deletes only what the ledger proves the run's. Each entry (key → facts) is merged into the
        section (mappings key by key); with `keep_first` an entry already there stays. One write of the state file
        per call; nothing is recorded in a dry run."""
        if self.dry_run or not entries:
            return
        book = self.ledger.setdefault(section, {})
        for key, facts in entries.items():
            old = book.get(key)
            if keep_first and old is not None:
                continue
            book[key] = {**old, **facts} if isinstance(old, dict) and isinstance(facts, Mapping) else facts
        self.on_ledger()


StepFn = Callable[[RunContext], StepOutcome]


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    apply: StepFn
    plan: StepFn


@dataclass(frozen=True)
class StepReport:
    name: str
    status: str  # done | done earlier | planned | failed | not reached
    result: str
    duration_s: float | None
    links: tuple[str, ...] = ()


def state_path(release_logs: Path, version: str) -> Path:
    return Path(release_logs) / f"release_state_v{version}.json"


def lock_path(release_logs: Path) -> Path:
    return runlock.lock_path(release_logs)


def find_resumable(release_logs: Path, command: str, arguments: Mapping[str, Any]) -> str | None:
    """The version of an unfinished run of the same command with the same arguments, if there is one.
    State files that cannot be read are skipped here (the run that uses one reports it)."""
    best: tuple[float, str] | None = None
    for path in Path(release_logs).glob("release_state_v*.json"):
        try:
            state = run_state.read(path)
        except InputError:
            continue
        run = state.runs.get(command) if state is not None else None
        if state is None or run is None or run.arguments != dict(arguments) or run.finished:
            continue
        mtime = path.stat().st_mtime
        if best is None or mtime > best[0]:
            best = (mtime, state.version)
    return best[1] if best else None


def _run_of(release_logs: Path, version: str, command: str) -> RunState | None:
    state = run_state.read(state_path(release_logs, version))
    return state.runs.get(command) if state is not None else None


def find_finished(release_logs: Path, command: str, arguments: Mapping[str, Any], *, version: str) -> str | None:
    """`version` if its run of `command` with these arguments has finished (so running it again repeats nothing)."""
    run = _run_of(release_logs, version, command)
    return version if run is not None and run.arguments == dict(arguments) and run.finished else None


def read_outputs(release_logs: Path, version: str, command: str) -> dict[str, Mapping[str, Any]]:
    """The outputs of another command's steps for this version (e.g. `release` reads `prerelease`'s)."""
    run = _run_of(release_logs, version, command)
    return {name: step.outputs for name, step in run.done_steps().items()} if run is not None else {}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load_state(path: Path, command: str, version: str, arguments: Mapping[str, Any]) -> ReleaseState:
    """The whole state file of this version; its section for `command` is created or checked."""
    state = run_state.read(path) or ReleaseState(version)
    run = state.runs.get(command)
    if run is None:
        state.runs[command] = RunState(dict(arguments), started_at=_now())
    elif run.arguments != dict(arguments):
        raise ConfigError(
            f"{path}: `{command}` for v{version} was started with arguments {run.arguments}; run it again "
            f"with those to resume it, or move the file away to start over"
        )
    return state


def run_steps(
    steps: Sequence[Step],
    *,
    release_logs: Path,
    command: str,
    version: str,
    arguments: Mapping[str, Any],
    dry_run: bool,
    on_event: Callable[[str], None] = lambda _msg: None,
) -> list[StepReport]:
    """Run (or, with dry_run, plan) the steps in order. Raises the first step's ReleaseError after saving state."""
    ctx = RunContext(command=command, version=version, arguments=arguments, dry_run=dry_run, on_event=on_event)
    path = state_path(release_logs, version)
    if dry_run:
        return _plan_all(steps, ctx, finished_steps(path, command, version, arguments))
    with runlock.hold(lock_path(release_logs), command=command):
        state = _load_state(path, command, version, arguments)
        run = state.runs[command]
        ctx.ledger = run.ledger
        ctx.on_ledger = lambda: run_state.write(path, state)
        reports: list[StepReport] = []
        for index, step in enumerate(steps):
            saved = run.steps.get(step.name)
            if saved is not None and saved.done:
                reports.append(_done_earlier(ctx, step.name, saved))
                continue
            on_event(f"[{index + 1}/{len(steps)}] {step.name}: {step.description}")
            current = run.steps[step.name] = StepState("running", started_at=_now())
            run_state.write(path, state)
            start = time.monotonic()
            try:
                outcome = step.apply(ctx)
            except ReleaseError as e:
                message = redact_text(str(e))
                current.status, current.error, current.finished_at = "failed", message, _now()
                run_state.write(path, state)
                reports.append(StepReport(step.name, "failed", message.splitlines()[0], time.monotonic() - start))
                reports.extend(StepReport(s.name, "not reached", "", None) for s in steps[index + 1 :])
                raise StepFailed(step.name, e, reports) from e
            duration = time.monotonic() - start
            ctx.outputs[step.name] = dict(outcome.outputs)
            run.steps[step.name] = StepState(
                "done", result=outcome.result, outputs=dict(outcome.outputs), links=tuple(outcome.links),
                duration_s=round(duration, 3), finished_at=_now(),
            )  # fmt: skip
            run_state.write(path, state)
            reports.append(StepReport(step.name, "done", outcome.result, duration, outcome.links))
        run.finished, run.finished_at = True, _now()
        run_state.write(path, state)
        return reports


def finished_steps(path: Path, command: str, version: str, arguments: Mapping[str, Any]) -> dict[str, StepState]:
    """The steps a real run would not repeat, read without writing anything. A state file started with other
    arguments is refused as the real run would refuse it."""
    state = run_state.read(path)
    if state is None or command not in state.runs:
        return {}
    _load_state(path, command, version, arguments)  # raises the real run's ConfigError on other arguments
    return state.runs[command].done_steps()


def _done_earlier(ctx: RunContext, name: str, saved: StepState) -> StepReport:
    """A step the state file shows as done: its saved outputs go to the steps after it."""
    ctx.outputs[name] = saved.outputs
    return StepReport(name, "done earlier", saved.result, None, saved.links)


def _plan_all(steps: Sequence[Step], ctx: RunContext, done: Mapping[str, StepState]) -> list[StepReport]:
    """Plan each step; a step the state file shows as done is reported as done, with its saved outputs for the
    steps after it, and is neither planned nor asked anything."""
    reports: list[StepReport] = []
    for index, step in enumerate(steps):
        saved = done.get(step.name)
        if saved is not None:
            reports.append(_done_earlier(ctx, step.name, saved))
            continue
        ctx.on_event(f"[{index + 1}/{len(steps)}] plan {step.name}: {step.description}")
        start = time.monotonic()
        try:
            outcome = step.plan(ctx)
        except ReleaseError as e:
            reports.append(StepReport(step.name, "failed", str(e).splitlines()[0], time.monotonic() - start))
            reports.extend(StepReport(s.name, "not reached", "", None) for s in steps[index + 1 :])
            raise StepFailed(step.name, e, reports, dry_run=True) from e
        ctx.outputs[step.name] = dict(outcome.outputs)
        reports.append(StepReport(step.name, "planned", outcome.result, time.monotonic() - start, outcome.links))
    return reports


class StepFailed(ReleaseError):
    """A step of a composite run failed; the state file lets the same command resume there."""

    def __init__(self, step: str, cause: ReleaseError, reports: list[StepReport], *, dry_run: bool = False) -> None:
        advice = "" if dry_run else f"Fix the cause and run the same command again to resume at {step}."
        text = str(cause)
        if "\n" in text:  # a list of items: the advice goes after it, on its own line
            message = f"step {step} failed: {text}" + (f"\n{advice}" if advice else "")
        else:
            message = f"step {step} failed: {text}." + (f" {advice}" if advice else "")
        super().__init__(message, exit_code=cause.exit_code)
        self.step = step
        self.reports = reports


def report_table(reports: Sequence[StepReport], *, width: int | None = None) -> str:
    """The end table: step, status, duration and result, then the links one per line. With `width` (the terminal's)
    each result is cut to fit on one line, ending with `…`; the run log and the state file keep it whole."""
    from tabulate import tabulate

    def duration(r: StepReport) -> str:
        return f"{r.duration_s:.1f}s" if r.duration_s is not None else ""

    def render(cut: int | None) -> str:
        def result(text: str) -> str:
            line = text.splitlines()[0] if text else ""
            return line if cut is None or len(line) <= cut else line[: cut - 1] + "…"

        rows = [(r.name, r.status, duration(r), result(r.result)) for r in reports]
        return tabulate(rows, headers=["step", "status", "time", "result"], disable_numparse=True)

    table = render(None)
    if width is not None:
        start = table.splitlines()[0].index("result")  # where the result column begins
        table = render(max(width - start, 24))
    links = [(r.name, link) for r in reports for link in r.links]
    if not links:
        return table
    name_width = max(len(name) for name, _ in links)
    return table + "\n\nlinks:\n" + "\n".join(f"  {name.ljust(name_width)}  {link}" for name, link in links)


def report_markdown(title: str, reports: Sequence[StepReport]) -> str:
    """The same table for $GITHUB_STEP_SUMMARY."""
    rows = [
        (r.name, r.status, r.result, f"{r.duration_s:.1f}s" if r.duration_s is not None else "", "<br>".join(r.links))
        for r in reports
    ]
    return "\n".join([f"## {title}", "", *table(("Step", "Status", "Result", "Duration", "Links"), rows)]) + "\n"
