"""One run of `inv images.build` (also a step of `inv prerelease` / `inv release`): prepare → execute → check.

`prepare_build` selects the work units and plans with registry and engine reads only (the dry run prints it);
`execute_build` builds, pushes and writes the build summary; `check_build` fails on any failed unit, then plans
again and fails if the engines and the registry still differ from the plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import build_report, fsio
from release.builder import (
    BuildEvent,
    BuildFlags,
    BuildPlan,
    BuildResult,
    EngineLike,
    RecipeLike,
    RegistryLike,
    RegistryMap,
    ResolverLike,
    Selection,
    SpecLike,
    apply_builds,
    observe_and_plan,
    unconverged,
    work_units,
)
from release.errors import BuildError, PartialFailure, TagConflict


@dataclass(frozen=True)
class BuildRequest:
    """What `inv images.build` (or a composite step) asks for."""

    flags: BuildFlags
    only: tuple[str, ...] | None = None  # images_to_build of a promotion summary
    build_metal_commit: str | None = None


@dataclass(frozen=True)
class PreparedBuild:
    selection: Selection
    plan: BuildPlan
    engines: Mapping[str, EngineLike]
    registry: RegistryLike

    @property
    def listed_failures(self) -> list[str]:
        """Images a promotion summary listed that no unit can build."""
        return [f"{u.image}: {u.reason}" for u in self.plan.unbuildable if u.failed]

    @property
    def builds_anything(self) -> bool:
        return any(u.builds for u in self.plan.units)


@dataclass(frozen=True)
class BuildRun:
    result: BuildResult
    summary: dict[str, Any]
    summary_path: Path


def prepare_build(
    specs: Iterable[SpecLike],
    request: BuildRequest,
    *,
    registry_map: RegistryMap,
    engines: Mapping[str, EngineLike],
    registry: RegistryLike,
) -> PreparedBuild:
    """Select the work units, ping the engines and plan (registry and engine reads only)."""
    selection = work_units(
        specs,
        ubuntu_version=request.flags.ubuntu_version,
        registry_map=registry_map,
        build_metal_commit=request.build_metal_commit,
        only=list(request.only) if request.only is not None else None,
        release=request.flags.release,
    )
    for engine in engines.values():
        engine.ping()
    plan = observe_and_plan(selection, request.flags, engines=engines, registry=registry)
    return PreparedBuild(selection, plan, engines, registry)


def execute_build(
    prep: PreparedBuild,
    *,
    recipe: RecipeLike,
    resolver: ResolverLike,
    log_dir: Path,
    timestamp: str,
    jobs: int,
    on_event: Callable[[BuildEvent], None],
) -> BuildRun:
    """Build and push, write the build summary, then plan again: anything left to do is a BuildError."""
    if prep.builds_anything:
        recipe.check()
    result = apply_builds(
        prep.plan,
        engines=prep.engines,
        registry=prep.registry,
        recipe=recipe,
        resolver=resolver,
        log_dir=log_dir,
        timestamp=timestamp,
        open_log=fsio.open_log,
        jobs=jobs,
        on_event=on_event,
    )
    summary = build_report.build_summary(result, timestamp=timestamp, recipe=getattr(recipe, "name", "?"))
    summary_path = log_dir / f"build_summary_{timestamp}.json"
    fsio.write_json(summary_path, summary)
    return BuildRun(result, summary, summary_path)


def check_build(run: BuildRun, prep: PreparedBuild) -> None:
    """Failed units → PartialFailure (exit 3 when a tag would have moved, else 1); otherwise converge: planned
    again, nothing may be left to build or push."""
    if run.result.failure_lines():
        conflict = any(u.conflict for u in run.result.failures)
        raise PartialFailure.from_items(
            "image units", run.result.failure_lines(), exit_code=TagConflict.exit_code if conflict else None
        )
    flags = dataclasses.replace(prep.plan.flags, force_build=False)
    again = observe_and_plan(prep.selection, flags, engines=prep.engines, registry=prep.registry)
    left = unconverged(run.result, again)
    if left:
        raise BuildError("after building, the engines and the registry still differ from the plan: " + "; ".join(left))
