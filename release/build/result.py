"""Pure: what a build run reports while it runs (BuildEvent) and what it did (BuildResult), and the check that a
second plan after it has nothing left to do."""

from __future__ import annotations

from dataclasses import dataclass, field

from release.build.plan import BuildPlan, UnitPlan


@dataclass(frozen=True)
class BuildEvent:
    engine: str
    combination_id: str
    kind: str
    phase: str  # "unit" | "start" | "line" | "built" | "pulling" | "pushing" | "pushed" | "failed" | "done"
    message: str = ""


@dataclass
class ImageOutcome:
    kind: str
    ref: str
    build_attempted: bool = False
    build_succeeded: bool | None = None
    pushed: bool = False
    digest: str | None = None
    duration_s: float | None = None
    log_file: str | None = None
    error: str | None = None


@dataclass
class UnitOutcome:
    plan: UnitPlan
    engine: str | None = None
    tt_metal_sha: str | None = None
    images: dict[str, ImageOutcome] = field(default_factory=dict)
    error: str | None = None
    conflict: bool = False  # the error is a tag that would have moved (exit 3)
    duration_s: float = 0.0

    @property
    def success(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BuildResult:
    plan: BuildPlan
    units: tuple[UnitOutcome, ...]
    engines: tuple[str, ...]
    duration_s: float

    @property
    def failures(self) -> tuple[UnitOutcome, ...]:
        return tuple(u for u in self.units if not u.success)

    def failure_lines(self) -> list[str]:
        return [f"{u.plan.unit.combination_id}: {u.error}" for u in self.failures] + self.plan.listed_failures


def unconverged(result: BuildResult, again: BuildPlan) -> list[str]:
    """Units that succeeded but, planned again afterwards, still need a build or a push."""
    succeeded = {u.plan.unit.combination_id for u in result.units if u.success}
    return [
        f"{u.unit.combination_id}: still needs {', '.join([*u.builds, *(f'push {k}' for k in u.pushes)])}"
        for u in again.work
        if u.unit.combination_id in succeeded
    ]
