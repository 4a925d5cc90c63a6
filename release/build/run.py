"""`inv images.build`, the command: request → config → plan → apply → check. The task and the build step of
`inv prerelease` / `inv release` both call `build_images`; it reports through `on_event` (`Planned`, the
BuildEvents of the builds, `Built`, `SummaryUpdated`) and leaves the printing to its caller.

Its stages: `prepare` selects the work units and plans with registry and engine reads only (a dry run stops after
it); `execute` builds, pushes and writes the build summary; `check` fails on any failed unit, then plans again and
fails if the engines and the registry still differ from the plan; `update_summary` moves the images the run
provided out of the promotion summary's `images_to_build`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release import artifacts_summary, catalogue, fsio, wiring
from release.build import report
from release.build.apply import apply_builds
from release.build.observe import observe_and_plan
from release.build.plan import BuildFlags, BuildPlan
from release.build.recipes import Recipe
from release.build.result import BuildEvent, BuildResult, unconverged
from release.build.tt_metal import CommitResolver
from release.build.units import RegistryMap, Selection, image_names, images_to_build, work_units
from release.config import Config
from release.errors import BuildError, PartialFailure, TagConflict
from release.events import OnEvent, ignore
from release.imageref import ImageRef

if TYPE_CHECKING:
    from release.catalogue import SpecLike
    from release.docker_engine import DockerEngine
    from release.registry import RegistryClient


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    """What `inv images.build` (or a composite step) asks for; the Ubuntu version and the engines come from the
    configuration."""

    force_build: bool = False
    release: bool = False
    push: bool = False
    dry_run: bool = False
    only_missing_from: Path | None = None  # a promotion summary: build its images_to_build, update it after a push
    only: tuple[str, ...] | None = None  # the images to build, when the caller has them (else read from the summary)
    build_metal_commit: str | None = None
    jobs: int = 1

    def flags(self, cfg: Config) -> BuildFlags:
        return BuildFlags(
            force_build=self.force_build, release=self.release, push=self.push, ubuntu_version=cfg.ubuntu_version
        )

    def listed(self) -> tuple[str, ...] | None:
        """The images a promotion summary asks for, or None to consider every unit."""
        if self.only is not None or self.only_missing_from is None:
            return self.only
        source = str(self.only_missing_from)
        return tuple(images_to_build(artifacts_summary.read(self.only_missing_from), source=source))


@dataclass(frozen=True)
class PreparedBuild:
    selection: Selection
    plan: BuildPlan
    engines: Mapping[str, DockerEngine]
    registry: RegistryClient

    @property
    def builds_anything(self) -> bool:
        return any(u.builds for u in self.plan.units)


@dataclass(frozen=True)
class BuildRun:
    result: BuildResult
    summary: dict[str, Any]
    summary_path: Path


@dataclass(frozen=True)
class Planned:
    plan: BuildPlan
    engines: tuple[str, ...]
    dry_run: bool


@dataclass(frozen=True)
class Built:
    run: BuildRun


@dataclass(frozen=True)
class SummaryUpdated:
    path: Path
    moved: int  # images that left its images_to_build


def build_images(
    cfg: Config,
    request: BuildRequest,
    *,
    registry: RegistryClient | None = None,
    on_event: OnEvent = ignore,
) -> BuildRun | None:
    """Plan; stop there on a dry run or when a listed image cannot be built (PartialFailure); else build, push,
    write the build summary and check. Returns the run (None on a dry run)."""
    listed = request.listed()
    recipe = wiring.build_recipe(cfg)  # an unknown recipe is an error before anything is read
    registry = registry or wiring.registry_client(cfg)
    prep = prepare(
        catalogue.load(cfg).specs.values(),
        request.flags(cfg),
        only=listed,
        build_metal_commit=request.build_metal_commit,
        registry_map=cfg.registry_rewrite,
        engines=wiring.docker_engines(cfg),
        registry=registry,
    )
    on_event(Planned(prep.plan, tuple(prep.engines), request.dry_run))
    if prep.plan.listed_failures:
        raise PartialFailure.from_items("listed images", prep.plan.listed_failures)
    if request.dry_run:
        return None
    run = execute(
        prep,
        recipe=recipe,
        resolver=wiring.commit_resolver(cfg),
        log_dir=cfg.workflow_logs / "docker_build_logs",
        timestamp=datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S"),
        jobs=request.jobs,
        on_event=on_event,
    )
    on_event(Built(run))
    check(run, prep)
    if request.push and request.only_missing_from is not None:
        path = request.only_missing_from
        moved = update_summary(path, run, registry, shown=lambda p: _relative(cfg, Path(p)))
        on_event(SummaryUpdated(path, moved))
    return run


def _relative(cfg: Config, path: Path) -> str:
    """A path as written in the summaries: relative to the checkout when inside it."""
    for candidate in (path, path.resolve()):
        try:
            return str(candidate.relative_to(cfg.repo_root))
        except ValueError:
            continue
    return str(path)


def prepare(
    specs: Iterable[SpecLike],
    flags: BuildFlags,
    *,
    only: Iterable[str] | None = None,
    build_metal_commit: str | None = None,
    registry_map: RegistryMap,
    engines: Mapping[str, DockerEngine],
    registry: RegistryClient,
) -> PreparedBuild:
    """Select the work units, ping the engines and plan (registry and engine reads only)."""
    selection = work_units(
        specs,
        ubuntu_version=flags.ubuntu_version,
        registry_map=registry_map,
        build_metal_commit=build_metal_commit,
        only=list(only) if only is not None else None,
        release=flags.release,
    )
    for engine in engines.values():
        engine.ping()
    plan = observe_and_plan(selection, flags, engines=engines, registry=registry)
    return PreparedBuild(selection, plan, engines, registry)


def execute(
    prep: PreparedBuild,
    *,
    recipe: Recipe,
    resolver: CommitResolver,
    log_dir: Path,
    timestamp: str,
    jobs: int,
    on_event: Callable[[BuildEvent], None],
) -> BuildRun:
    """Build and push, then write the build summary."""
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
        jobs=jobs,
        on_event=on_event,
    )
    summary = report.build_summary(result, timestamp=timestamp, recipe=recipe.name)
    summary_path = log_dir / f"build_summary_{timestamp}.json"
    fsio.write_json(summary_path, summary)
    return BuildRun(result, summary, summary_path)


def check(run: BuildRun, prep: PreparedBuild) -> None:
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
    run: BuildRun, listed: Iterable[str], registry: RegistryClient, *, shown: Callable[[str], str] = str
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


def update_summary(path: Path, run: BuildRun, registry: RegistryClient, *, shown: Callable[[str], str] = str) -> int:
    """Move what `run` provided out of the summary's `images_to_build` into its built section, JSON and markdown
    (`{dev,release}_artifacts_summary.{json,md}` beside each other). Returns how many images moved."""
    summary = artifacts_summary.read(path)
    built = provided_images(run, summary.to_build, registry, shown=shown)
    if not built:
        return 0
    new = summary.with_builds(built)
    fsio.write_if_changed(path, fsio.dump_json(new.to_json()))
    if path.name.endswith("_artifacts_summary.json"):
        fsio.write_if_changed(path.with_suffix(".md"), artifacts_summary.render(new))
    return len(summary.to_build) - len(new.to_build)
