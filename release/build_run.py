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

from release import build_report, fsio, promotion_report
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
    image_names,
    observe_and_plan,
    unconverged,
    work_units,
)
from release.errors import BuildError, PartialFailure, TagConflict
from release.imageref import ImageRef


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


def provided_images(
    run: BuildRun, listed: Iterable[str], registry: RegistryLike, *, shown: Callable[[str], str] = str
) -> dict[str, dict[str, Any]]:
    """The listed images (a promotion summary's `images_to_build`) the registry now holds after `run`: {listed name:
    {digest, build_log}}. An image pushed by this run carries the digest the push verified; one already there (a
    resumed run) is asked for."""
    out: dict[str, dict[str, Any]] = {}
    wanted = {name: image for image in listed for name in image_names(image, ())}
    for unit in run.result.units:
        for kind in ("dev", "release"):
            image = unit.images.get(kind)
            if image is None:
                continue
            names = image_names(image.ref, ()) | image_names(unit.plan.unit.tags.get(kind, image.ref), ())
            hits = {wanted[n] for n in names if n in wanted}
            if not hits:
                continue
            digest = image.digest if image.pushed else registry.digest(ImageRef.parse(image.ref))
            if not digest:
                continue
            entry: dict[str, Any] = {"digest": digest}
            if image.build_attempted and image.log_file:
                entry["build_log"] = shown(image.log_file)
            for listed_name in hits:
                out[listed_name] = entry
    return out


def update_summary(path: Path, run: BuildRun, registry: RegistryLike, *, shown: Callable[[str], str] = str) -> int:
    """Move what `run` provided out of the summary's `images_to_build` into its built section, JSON and markdown
    (`{dev,release}_artifacts_summary.{json,md}` beside each other). Returns how many images moved."""
    data = fsio.read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images_to_build"), list):
        return 0
    built = provided_images(run, data["images_to_build"], registry, shown=shown)
    if not built:
        return 0
    new = promotion_report.summary_with_builds(data, built)
    fsio.write_if_changed(path, fsio.dump_json(new))
    if path.name.endswith("_artifacts_summary.json"):
        fsio.write_if_changed(path.with_suffix(".md"), promotion_report.summary_markdown_from_json(new))
    return len(data["images_to_build"]) - len(new["images_to_build"])
