"""The state file of composite runs, `release_logs/release_state_vX.Y.Z.json`: one typed value with one reader
(`read` / `parse`) and one writer (`to_json`). release/pipeline.py runs the steps and updates it.

    {"schema": 1, "version": "0.6.0", "runs": {"prerelease": {"arguments": {...}, "started_at": "...",
     "finished": false, "steps": {"ci.read": {"status": "done", "result": "...", "outputs": {...}, ...}}}}}

A file that is not shaped like this is an InputError naming the file and the key, with what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release import fsio
from release.errors import InputError

SCHEMA = 1


@dataclass
class StepState:
    status: str  # running | done | failed
    started_at: str | None = None
    result: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    links: tuple[str, ...] = ()
    duration_s: float | None = None
    error: str | None = None
    finished_at: str | None = None

    @property
    def done(self) -> bool:
        return self.status == "done"

    def to_json(self) -> dict[str, Any]:
        if self.done:
            return {
                "status": self.status, "result": self.result, "outputs": self.outputs, "links": list(self.links),
                "duration_s": self.duration_s, "finished_at": self.finished_at,
            }  # fmt: skip
        out: dict[str, Any] = {"status": self.status, "started_at": self.started_at}
        if self.status == "failed":
            out.update(error=self.error, finished_at=self.finished_at)
        return out


@dataclass
class RunState:
    """One command's run of this version: its arguments and its steps."""

    arguments: dict[str, Any]
    started_at: str | None = None
    finished: bool = False
    steps: dict[str, StepState] = field(default_factory=dict)
    finished_at: str | None = None
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)  # what the run created, for its undo

    def done_steps(self) -> dict[str, StepState]:
        return {name: step for name, step in self.steps.items() if step.done}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "arguments": self.arguments,
            "started_at": self.started_at,
            "finished": self.finished,
            "steps": {name: step.to_json() for name, step in self.steps.items()},
        }
        if self.finished_at is not None:
            out["finished_at"] = self.finished_at
        if self.ledger:
            out["ledger"] = self.ledger
        return out


@dataclass
class ReleaseState:
    version: str
    runs: dict[str, RunState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "version": self.version, "runs": {c: r.to_json() for c, r in self.runs.items()}}


def read(path: Path) -> ReleaseState | None:
    """The state file at `path` (None when there is none)."""
    if not Path(path).exists():
        return None
    return parse(fsio.read_json(path, what="release state file"), source=str(path))


def write(path: Path, state: ReleaseState) -> None:
    fsio.write_json(path, state.to_json())


def parse(data: Any, *, source: str) -> ReleaseState:
    def refuse(where: str, wanted: str, value: Any) -> InputError:
        return InputError(
            f"{source}: {where}: expected {wanted}, got {fsio.json_kind(value)} (not a release state file?); move it "
            "away to start over"
        )

    def mapping(value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise refuse(where, "an object", value)
        return value

    def optional(value: Any, kind: type | tuple[type, ...], where: str, wanted: str) -> Any:
        if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
            raise refuse(where, wanted, value)
        return value

    def step(value: Any, where: str) -> StepState:
        raw = mapping(value, where)
        status = optional(raw.get("status"), str, f"{where}.status", "a string")
        links = raw.get("links", [])
        if not isinstance(links, list) or not all(isinstance(link, str) for link in links):
            raise refuse(f"{where}.links", "a list of strings", links)
        return StepState(
            status=status or "",
            started_at=optional(raw.get("started_at"), str, f"{where}.started_at", "a string"),
            result=optional(raw.get("result"), str, f"{where}.result", "a string") or "",
            outputs=dict(mapping(raw.get("outputs", {}), f"{where}.outputs")),
            links=tuple(links),
            duration_s=optional(raw.get("duration_s"), (int, float), f"{where}.duration_s", "a number"),
            error=optional(raw.get("error"), str, f"{where}.error", "a string"),
            finished_at=optional(raw.get("finished_at"), str, f"{where}.finished_at", "a string"),
        )

    def run(value: Any, where: str) -> RunState:
        raw = mapping(value, where)
        steps = mapping(raw.get("steps", {}), f"{where}.steps")
        return RunState(
            arguments=dict(mapping(raw.get("arguments", {}), f"{where}.arguments")),
            started_at=optional(raw.get("started_at"), str, f"{where}.started_at", "a string"),
            finished=bool(optional(raw.get("finished"), bool, f"{where}.finished", "true or false")),
            steps={name: step(s, f"{where}.steps.{fsio.shown(name)}") for name, s in steps.items()},
            finished_at=optional(raw.get("finished_at"), str, f"{where}.finished_at", "a string"),
            ledger={
                k: dict(v) if isinstance(v, Mapping) else v
                for k, v in mapping(raw.get("ledger", {}), f"{where}.ledger").items()
            },  # read by release/undo/evidence.py, which checks each entry
        )

    data = mapping(data, "the file")
    runs = mapping(data.get("runs"), "runs")
    return ReleaseState(
        version=str(optional(data.get("version"), str, "version", "a string") or ""),
        runs={command: run(r, f"runs.{fsio.shown(command)}") for command, r in runs.items()},
    )
