"""`apply_builds(plan, ...)`: build and push what a BuildPlan says, across Docker engines.

Units that share a tt-metal commit form a group that stays on one engine (release/build/scheduler.py), biggest
groups first. Each unit runs its chain (`Chains.run`): pull the cloud image a dev/release build starts from when it
is not built here, resolve the tt-metal commit, build each image with its own log, then push (release/build/push.py).
A unit stops at its first failure, which is recorded; the other units go on.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from release import fsio
from release.build.plan import BuildPlan, UnitPlan
from release.build.push import push_image
from release.build.recipes import Recipe, build_args
from release.build.result import BuildEvent, BuildResult, ImageOutcome, UnitOutcome
from release.build.scheduler import Group, Scheduler
from release.build.tt_metal import CommitResolver
from release.build.units import KINDS
from release.errors import BuildError, EngineUnreachable, ReleaseError, TagConflict

if TYPE_CHECKING:
    from release.docker_engine import DockerEngine
    from release.registry import RegistryClient

OpenLog = Callable[[Path], AbstractContextManager[IO[str]]]


def log_file_name(timestamp: str, kind: str, ref: str) -> str:
    """`build_{YYYYmmdd_HHMMSS}_{kind}-{tag}.log` (the runbook's promise, with the kind so names never clash)."""
    tag = ref.rpartition(":")[2] if ref.rfind(":") > ref.rfind("/") else "latest"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
    return f"build_{timestamp}_{kind}-{safe}.log"


def apply_builds(
    plan: BuildPlan,
    *,
    engines: Mapping[str, DockerEngine],
    registry: RegistryClient,
    recipe: Recipe,
    resolver: CommitResolver,
    log_dir: Path,
    timestamp: str,
    open_log: OpenLog = fsio.open_log,
    jobs: int = 1,
    on_event: Callable[[BuildEvent], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> BuildResult:
    """Build and push what the plan says. Each group (units sharing a tt-metal commit) runs on one engine;
    `jobs` groups at a time per engine. A failing unit is recorded; the others go on."""
    scheduler: Scheduler[DockerEngine, UnitPlan] = Scheduler(engines, jobs=jobs)
    started = clock()
    chains = Chains(
        plan,
        registry=registry,
        recipe=recipe,
        resolver=resolver,
        log_dir=log_dir,
        timestamp=timestamp,
        open_log=open_log,
        emit=on_event or (lambda _e: None),
        clock=clock,
    )
    scheduler.run(groups(plan), chains.run, stranded=chains.stranded)
    return BuildResult(
        plan=plan,
        units=tuple(chains.outcome(u) for u in plan.units),
        engines=tuple(engines),
        duration_s=round(clock() - started, 3),
    )


def groups(plan: BuildPlan) -> list[Group[UnitPlan]]:
    """The units with work, grouped by tt-metal commit, on the engine the plan chose; biggest groups first, so
    the long chains start early."""
    by_commit: dict[str, list[UnitPlan]] = {}
    for unit_plan in plan.work:
        by_commit.setdefault(unit_plan.unit.tt_metal_commit, []).append(unit_plan)
    ordered = sorted(by_commit.values(), key=lambda g: -sum(len(u.builds) for u in g))
    return [Group(tuple(g), g[0].engine) for g in ordered]


class Chains:
    """Runs units' chains on engines and records their outcomes (one instance per `apply_builds`)."""

    def __init__(
        self,
        plan: BuildPlan,
        *,
        registry: RegistryClient,
        recipe: Recipe,
        resolver: CommitResolver,
        log_dir: Path,
        timestamp: str,
        open_log: OpenLog,
        emit: Callable[[BuildEvent], None],
        clock: Callable[[], float],
    ) -> None:
        self._outcomes = {id(u): UnitOutcome(plan=u) for u in plan.units}
        self._ubuntu = plan.flags.ubuntu_version
        self._registry = registry
        self._recipe = recipe
        self._resolver = resolver
        self._log_dir = log_dir
        self._timestamp = timestamp
        self._open_log = open_log
        self._emit = emit
        self._clock = clock
        self._shas: dict[str, str] = {}
        self._lock = threading.Lock()
        self._bases: set[tuple[str, str, str]] = set()  # (engine, tt-metal commit, base ref) built by this run

    def outcome(self, unit_plan: UnitPlan) -> UnitOutcome:
        outcome = self._outcomes[id(unit_plan)]
        if unit_plan.has_work and outcome.engine is None and outcome.error is None:
            outcome.error = "not built: no engine was left to run it"
        return outcome

    def stranded(self, unit_plan: UnitPlan, engine: str) -> None:
        self._outcomes[id(unit_plan)].error = f"not built: engine {engine} stopped answering and no engine is left"

    def run(self, name: str, engine: DockerEngine, unit_plan: UnitPlan) -> None:
        """The scheduler's work: one unit's chain on `engine`, its failure recorded (EngineUnreachable raised)."""
        outcome = self._outcomes[id(unit_plan)]
        outcome.engine = name
        cid = unit_plan.unit.combination_id
        t0 = self._clock()
        try:
            self._chain(unit_plan, outcome, engine, name)
        except EngineUnreachable as e:
            outcome.error = str(e)
            self._emit(BuildEvent(name, cid, "", "failed", outcome.error))
            raise
        except ReleaseError as e:
            outcome.error = str(e)
            outcome.conflict = isinstance(e, TagConflict)
        outcome.duration_s = round(self._clock() - t0, 3)
        done = "done" if outcome.success else "failed"
        self._emit(BuildEvent(name, cid, "", done, outcome.error or f"in {outcome.duration_s:.1f}s"))

    def _chain(self, unit_plan: UnitPlan, outcome: UnitOutcome, engine: DockerEngine, name: str) -> None:
        unit = unit_plan.unit
        cid = unit.combination_id
        self._emit(BuildEvent(engine.name, cid, "", "unit", f"builds: {', '.join(unit_plan.builds) or 'none'}"))
        for kind in KINDS:
            outcome.images[kind] = ImageOutcome(kind=kind, ref=unit.tags[kind])
        cloud_ready = "cloud" in unit_plan.builds
        for kind in unit_plan.builds:
            image = outcome.images[kind]
            base = (name, unit.tt_metal_commit, image.ref)
            if kind == "base" and base in self._bases:
                continue
            image.build_attempted = True
            if kind in ("dev", "release") and not cloud_ready:
                self._pull_cloud(image, unit_plan, engine)
                cloud_ready = True
            if kind in ("base", "cloud"):
                outcome.tt_metal_sha = self._resolve(image, unit.tt_metal_commit)
            self._build(image, outcome, engine)
            if kind == "base":
                self._bases.add(base)
        for kind in unit_plan.pushes:
            push_image(outcome.images[kind], engine=engine, registry=self._registry, emit=self._emit, cid=cid)

    def _pull_cloud(self, image: ImageOutcome, unit_plan: UnitPlan, engine: DockerEngine) -> None:
        """The cloud image a dev/release build starts from, pulled when the engine lacks it."""
        cloud = unit_plan.unit.tags["cloud"]
        if engine.image_exists(cloud):
            return
        self._emit(BuildEvent(engine.name, unit_plan.unit.combination_id, "cloud", "pulling", cloud))
        try:
            engine.pull(cloud, on_line=lambda _line: None)
        except ReleaseError as e:
            self._failed(image, e)
            if isinstance(e, EngineUnreachable):
                raise
            raise BuildError(f"{image.kind}: cannot pull its cloud image: {e}") from None

    def _resolve(self, image: ImageOutcome, commit: str) -> str:
        """The full SHA of a tt-metal commit, asked once per run."""
        try:
            with self._lock:
                if commit not in self._shas:
                    self._shas[commit] = self._resolver.resolve(commit)
                return self._shas[commit]
        except ReleaseError as e:
            self._failed(image, e)
            raise BuildError(f"{image.kind}: {e}") from None

    def _build(self, image: ImageOutcome, outcome: UnitOutcome, engine: DockerEngine) -> None:
        """One image, its build output streamed to its own log (a `Step N/M` line is also an event)."""
        unit = outcome.plan.unit
        cid, kind = unit.combination_id, image.kind
        sha = outcome.tt_metal_sha or unit.tt_metal_commit
        path = self._log_dir / log_file_name(self._timestamp, kind, image.ref)
        image.log_file = str(path)
        t0 = self._clock()
        self._emit(BuildEvent(engine.name, cid, kind, "start", image.ref))

        def on_line(line: str, fh: IO[str]) -> None:
            fh.write(line if line.endswith("\n") else line + "\n")
            fh.flush()
            if line.startswith("Step "):
                self._emit(BuildEvent(engine.name, cid, kind, "line", line.strip()))

        try:
            with self._open_log(path) as fh:
                fh.write(f"# {kind} {image.ref} on {engine.name}\n")
                fh.write(f"# unit {cid}: tt-metal {unit.tt_metal_commit} ({sha}), vLLM {unit.vllm_commit}\n")
                args = build_args(kind, unit, tt_metal_sha=sha, ubuntu_version=self._ubuntu)
                for key, value in args.items():
                    fh.write(f"# --build-arg {key}={value}\n")
                fh.flush()
                try:
                    with self._recipe.context(kind, sha) as (context, dockerfile, target):
                        engine.build(
                            image.ref,
                            context=context,
                            dockerfile=dockerfile,
                            buildargs=args,
                            target=target,
                            on_line=lambda line: on_line(line, fh),
                        )
                except ReleaseError as e:
                    fh.write(f"# FAILED: {e}\n")
                    raise
                fh.write(f"# built in {self._clock() - t0:.1f}s\n")
        except ReleaseError as e:
            self._failed(image, e, duration_s=round(self._clock() - t0, 3))
            self._emit(BuildEvent(engine.name, cid, kind, "failed", str(e)))
            if isinstance(e, EngineUnreachable):
                raise
            raise BuildError(f"{kind} {image.ref}: {e} (log: {path})") from None
        image.build_succeeded = True
        image.duration_s = round(self._clock() - t0, 3)
        self._emit(BuildEvent(engine.name, cid, kind, "built", f"{image.ref} in {image.duration_s:.1f}s"))

    @staticmethod
    def _failed(image: ImageOutcome, error: ReleaseError, *, duration_s: float | None = None) -> None:
        image.build_succeeded = False
        image.error = str(error)
        if duration_s is not None:
            image.duration_s = duration_s
