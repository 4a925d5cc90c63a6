"""`inv images.build`: plan the image chains (pure), then build and push them across Docker engines.

Planning is pure. `work_units` turns catalogue specs into units, one per distinct (tt_metal_commit,
vllm_commit) pair, with every tag taken from the catalogue's `docker_image` (never recomputed from the commits).
`plan_builds` applies the decision table to what is known about each image (present on an engine, present in the
registry) and says which remote facts it still needs; `observe_and_plan` (the only part here that calls
anything) asks the registry exactly those questions and plans again until nothing is missing. So a run where
every image exists costs one registry request per wanted image.

`apply_builds` runs the plan: units that share a tt-metal commit form a group that stays on one engine (the base
image is built once), groups are pulled from a queue by `jobs` workers per engine, and a failing unit is recorded
while the others go on.

The decision table (without `--force-build`), per unit:

- dev is built when it is neither on the engine nor in the registry;
- release (`--release` only) likewise;
- cloud is built when dev or release is built and cloud is not on the engine, and either `--release` builds the
  release image (a fresh cloud, as the original did) or cloud is not in the registry (else the dev build pulls it);
- base (a local tag) is built when cloud is built and base is not on the engine; the registry is never asked
  about a local tag.

With `--force-build` every image of the chain is built. With `--push`, cloud, dev and release are pushed when they
are on the engine after the builds and absent from the registry: an existing remote tag is never moved. The
original also rebuilt dev whenever `--release` forced a fresh cloud, even when dev existed, then did not push it;
here dev is built only when it is missing.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from release.errors import BuildError, ConfigError, EngineUnreachable, InputError, ReleaseError, TagConflict
from release.imageref import ImageRef, ImageRefError

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("base", "cloud", "dev", "release")
PUSHABLE: tuple[str, ...] = ("cloud", "dev", "release")
CONTAINER_APP_UID = "1000"
UBUNTU_VERSIONS: tuple[str, ...] = ("20.04", "22.04")
RegistryMap = tuple[tuple[str, str], ...]
_RECIPE_REPOSITORY = re.compile(r"^vllm-tt-metal-src-release-ubuntu-(\d+\.\d+)-amd64$")


# --------------------------------------------------------------------------------------------- work units


class SpecLike(Protocol):
    """The fields of `workflows.model_spec.ModelSpec` the planner reads."""

    @property
    def model_id(self) -> str: ...
    @property
    def tt_metal_commit(self) -> str: ...
    @property
    def vllm_commit(self) -> str | None: ...
    @property
    def docker_image(self) -> str: ...
    @property
    def dev_image(self) -> str: ...
    @property
    def has_explicit_image(self) -> bool: ...


@dataclass(frozen=True)
class Unit:
    """One chain base → cloud → dev (→ release) for a (tt_metal_commit, vllm_commit) pair."""

    tt_metal_commit: str
    vllm_commit: str
    tags: Mapping[str, str]
    catalogue_images: tuple[str, str]  # the catalogue's (dev, release) names, before registry rewriting
    model_ids: tuple[str, ...]

    @property
    def combination_id(self) -> str:
        return f"{self.tt_metal_commit[:16]}-{self.vllm_commit[:16]}"


@dataclass(frozen=True)
class Unbuildable:
    """A catalogue image this recipe cannot produce; `failed` when the user asked for it explicitly."""

    image: str
    model_ids: tuple[str, ...]
    reason: str
    failed: bool


@dataclass(frozen=True)
class Selection:
    units: tuple[Unit, ...]
    unbuildable: tuple[Unbuildable, ...]


def base_tag(tt_metal_commit: str, ubuntu_version: str) -> str:
    """The tt-metal base image: a local tag only, never pushed and never looked up in a registry."""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", tt_metal_commit).lstrip(".-")[:128] or "unknown"
    return f"local/tt-metal/tt-metalium/ubuntu-{ubuntu_version}-amd64:{tag}"


def chain_tags(release_image: str, ubuntu_version: str) -> dict[str, str] | None:
    """cloud/dev/release names from a catalogue release image (same registry, path and tag; the repository's
    last segment names the kind and the Ubuntu version). None when the image is not a recipe image."""
    try:
        ref = ImageRef.parse(release_image)
    except ImageRefError:
        return None
    head, _, last = ref.repository.rpartition("/")
    if ref.tag is None or ref.digest is not None or not _RECIPE_REPOSITORY.match(last):
        return None
    prefix = f"{head}/" if head else ""
    return {
        kind: str(ref.in_repository(f"{prefix}vllm-tt-metal-src-{kind}-ubuntu-{ubuntu_version}-amd64"))
        for kind in PUSHABLE
    }


def image_names(ref: str, registry_map: RegistryMap) -> set[str]:
    """A listed image as the catalogue writes it and as engines and registries see it."""
    try:
        parsed = ImageRef.parse(ref)
    except ImageRefError:
        return {ref}
    return {ref, str(parsed), str(parsed.rewrite(registry_map))}


@dataclass
class _Pair:
    tags: dict[str, str]
    images: tuple[str, str]  # the catalogue's (dev, release) names
    models: list[str] = field(default_factory=list)


def work_units(
    specs: Iterable[SpecLike],
    *,
    ubuntu_version: str,
    registry_map: RegistryMap = (),
    build_metal_commit: str | None = None,
    only: Iterable[str] | None = None,
    release: bool = False,
) -> Selection:
    """The units to consider, in catalogue order.

    `only` (the images promotion listed as needing a build) selects the units whose dev or release image is
    listed; a listed image no unit can build is reported as failed. `registry_map` (RELEASE_REGISTRY_REWRITE) maps
    catalogue names to the names used on engines and registries."""
    if ubuntu_version not in UBUNTU_VERSIONS:
        raise ConfigError(f"--ubuntu-version must be one of {', '.join(UBUNTU_VERSIONS)} (got {ubuntu_version!r})")
    pairs: dict[tuple[str, str], _Pair] = {}
    skipped: dict[str, tuple[list[str], str]] = {}
    for spec in specs:
        if build_metal_commit is not None and spec.tt_metal_commit != build_metal_commit:
            continue
        tags = chain_tags(spec.docker_image, ubuntu_version)
        if spec.vllm_commit is None:
            why = "no vLLM commit: media and forge images are not built by this recipe"
        elif spec.has_explicit_image:
            why = "explicit docker_image in the catalogue (used as written for dev and release)"
        elif tags is None:
            why = "not named like a vllm-tt-metal-src-release image"
        else:
            pair = pairs.setdefault(
                (spec.tt_metal_commit, spec.vllm_commit), _Pair(tags, (spec.dev_image, spec.docker_image))
            )
            pair.models.append(spec.model_id)
            continue
        skipped.setdefault(spec.docker_image, ([], why))[0].append(spec.model_id)

    units: list[Unit] = []
    unbuildable: list[Unbuildable] = []
    by_tag: dict[str, list[Unit]] = {}
    for (tm, vllm), pair in pairs.items():
        tags = {kind: str(ImageRef.parse(ref).rewrite(registry_map)) for kind, ref in pair.tags.items()}
        tags["base"] = base_tag(tm, ubuntu_version)
        unit = Unit(tm, vllm, {k: tags[k] for k in KINDS}, pair.images, tuple(pair.models))
        by_tag.setdefault(unit.tags["dev"], []).append(unit)
    for tag, same in by_tag.items():
        if len(same) == 1:
            units.append(same[0])
            continue
        commits = ", ".join(f"({u.tt_metal_commit}, {u.vllm_commit})" for u in same)
        reason = f"commits {commits} give the same tag after truncation: write longer commits in the catalogue"
        unbuildable.append(Unbuildable(tag, tuple(m for u in same for m in u.model_ids), reason, True))

    if only is None:
        for image, (models, why) in skipped.items():
            unbuildable.append(Unbuildable(image, tuple(models), why, False))
        return Selection(tuple(units), tuple(unbuildable))

    listed = list(only)
    wanted = {name for i in listed for name in image_names(i, registry_map)}
    selected: list[Unit] = []
    matched: set[str] = set()
    for unit in units:
        hits = {n for i in (*unit.catalogue_images, unit.tags["dev"], unit.tags["release"]) for n in image_names(i, ())}
        hits &= wanted
        if not hits:
            continue
        matched |= hits
        release_names = {n for i in (unit.tags["release"], unit.catalogue_images[1]) for n in image_names(i, ())}
        if hits & release_names and not release:
            raise ConfigError(f"the summary lists the release image {sorted(hits & release_names)[0]}: add --release")
        selected.append(unit)
    for image in sorted({i for i in listed if not (image_names(i, registry_map) & matched)}):
        models, why = skipped.get(image, ([], "no catalogue entry builds this image"))
        unbuildable.append(Unbuildable(image, tuple(models), why, True))
    return Selection(tuple(selected), tuple(unbuildable))


def images_to_build(summary: object, *, source: str) -> list[str]:
    """`images_to_build` of a promotion summary (`release_logs/{dev,release}_artifacts_summary.json`)."""
    images = summary.get("images_to_build") if isinstance(summary, dict) else None
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise InputError(f"{source}: no images_to_build list of image names (is it a *_artifacts_summary.json?)")
    return list(images)


# --------------------------------------------------------------------------------------------- decisions


@dataclass(frozen=True, kw_only=True)
class BuildFlags:
    force_build: bool = False
    release: bool = False
    push: bool = False
    ubuntu_version: str = "22.04"


@dataclass(frozen=True)
class Presence:
    """What is known about one image: on the unit's engine, and in the registry (None = not asked)."""

    local: bool = False
    remote: bool | None = None


@dataclass(frozen=True)
class ImageDecision:
    kind: str
    ref: str
    build: bool
    push: bool
    reason: str
    requested: bool = True


class _NeedRemote(Exception):
    def __init__(self, kind: str) -> None:
        self.kind = kind


def decide(presence: Mapping[str, Presence], flags: BuildFlags) -> dict[str, tuple[bool, bool, str]] | str:
    """The decision table for one unit: {kind: (build, push, reason)}, or the kind whose registry presence is
    needed first. Remote presence is only asked for when it changes the outcome."""

    def local(kind: str) -> bool:
        return presence[kind].local

    def remote(kind: str) -> bool:
        value = presence[kind].remote
        if value is None:
            raise _NeedRemote(kind)
        return value

    try:
        out: dict[str, tuple[bool, str]] = {}
        if flags.force_build:
            for kind in KINDS:
                if kind == "release" and not flags.release:
                    out[kind] = (False, "not requested (add --release)")
                else:
                    out[kind] = (True, "--force-build")
        else:
            for kind in ("dev", "release"):
                if kind == "release" and not flags.release:
                    out[kind] = (False, "not requested (add --release)")
                elif local(kind):
                    out[kind] = (False, "exists on the engine")
                elif remote(kind):
                    out[kind] = (False, "exists in the registry")
                else:
                    out[kind] = (True, "missing")
            dev_build, release_build = out["dev"][0], out["release"][0]
            if not (dev_build or release_build):
                out["cloud"] = (False, "not needed: dev/release exist")
            elif local("cloud"):
                out["cloud"] = (False, "exists on the engine")
            elif release_build:
                out["cloud"] = (True, "--release builds a fresh cloud image when none is on the engine")
            elif remote("cloud"):
                out["cloud"] = (False, "exists in the registry (the dev build pulls it)")
            else:
                out["cloud"] = (True, "missing")
            if not out["cloud"][0]:
                out["base"] = (False, "not needed: no cloud build")
            elif local("base"):
                out["base"] = (False, "exists on the engine")
            else:
                out["base"] = (True, "missing")
        pushes: dict[str, tuple[bool, str]] = {}
        for kind in PUSHABLE:
            built, _ = out[kind]
            if not flags.push or (kind == "release" and not flags.release) or not (built or local(kind)):
                pushes[kind] = (False, "")
            elif remote(kind):
                pushes[kind] = (False, "not pushed: the registry has this tag (never moved)" if built else "")
            else:
                pushes[kind] = (True, "push")
        result: dict[str, tuple[bool, bool, str]] = {}
        for kind in KINDS:
            build, reason = out[kind]
            push, push_reason = pushes.get(kind, (False, ""))
            if push_reason and push_reason != "push":
                reason = f"{reason}; {push_reason}"
            result[kind] = (build, push, reason)
        return result
    except _NeedRemote as need:
        return need.kind


@dataclass(frozen=True)
class UnitPlan:
    unit: Unit
    presence: Mapping[str, Presence]
    images: Mapping[str, ImageDecision]
    engine: str | None = None

    @property
    def builds(self) -> tuple[str, ...]:
        return tuple(k for k in KINDS if self.images[k].build)

    @property
    def pushes(self) -> tuple[str, ...]:
        return tuple(k for k in KINDS if self.images[k].push)

    @property
    def has_work(self) -> bool:
        return bool(self.builds or self.pushes)


@dataclass(frozen=True)
class BuildPlan:
    flags: BuildFlags
    units: tuple[UnitPlan, ...]
    unbuildable: tuple[Unbuildable, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def work(self) -> tuple[UnitPlan, ...]:
        return tuple(u for u in self.units if u.has_work)


@dataclass(frozen=True)
class Observed:
    """Facts gathered so far: refs present per engine, and registry answers (True/False) per ref."""

    local: Mapping[str, frozenset[str]] = field(default_factory=dict)
    remote: Mapping[str, bool] = field(default_factory=dict)


def engine_affinity(unit_refs: Sequence[str], local: Mapping[str, frozenset[str]]) -> str | None:
    """The engine holding most of these images (first one on a tie), or None when no engine has any."""
    best, best_count = None, 0
    for engine, refs in local.items():
        count = sum(1 for r in unit_refs if r in refs)
        if count > best_count:
            best, best_count = engine, count
    return best


def plan_builds(selection: Selection, flags: BuildFlags, observed: Observed) -> BuildPlan:
    """Pure: decide every unit from what is observed; `missing` lists the registry facts still needed."""
    # Units sharing a tt-metal commit share an engine (and their base image).
    groups: dict[str, list[Unit]] = {}
    for unit in selection.units:
        groups.setdefault(unit.tt_metal_commit, []).append(unit)
    affinity: dict[str, str | None] = {}
    for tm, units in groups.items():
        refs = [u.tags[k] for u in units for k in KINDS]
        affinity[tm] = engine_affinity(refs, observed.local)

    plans: list[UnitPlan] = []
    missing: list[str] = []
    for unit in selection.units:
        engine = affinity[unit.tt_metal_commit]
        on_engine = observed.local.get(engine, frozenset()) if engine else frozenset()
        presence = {
            kind: Presence(
                local=unit.tags[kind] in on_engine,
                remote=None if kind == "base" else observed.remote.get(unit.tags[kind]),
            )
            for kind in KINDS
        }
        decided = decide(presence, flags)
        if isinstance(decided, str):
            missing.append(unit.tags[decided])
            decided = {k: (False, False, "unknown yet") for k in KINDS}
        images = {
            kind: ImageDecision(
                kind=kind,
                ref=unit.tags[kind],
                build=build,
                push=push,
                reason=reason,
                requested=kind != "release" or flags.release,
            )
            for kind, (build, push, reason) in decided.items()
        }
        plans.append(UnitPlan(unit=unit, presence=presence, images=images, engine=engine))
    return BuildPlan(flags=flags, units=tuple(plans), unbuildable=selection.unbuildable, missing=tuple(missing))


# --------------------------------------------------------------------------------------------- clients


class RegistryLike(Protocol):
    """`release.registry.RegistryClient`: the manifest digest of a tag, or None when it does not exist."""

    def digest(self, ref: ImageRef) -> str | None: ...


class EngineLike(Protocol):
    name: str

    def ping(self) -> None: ...
    def image_exists(self, ref: str) -> bool: ...
    def build(
        self,
        ref: str,
        *,
        context: Path,
        dockerfile: str,
        buildargs: Mapping[str, str],
        target: str | None,
        on_line: Callable[[str], None],
    ) -> str: ...
    def pull(self, ref: str, *, on_line: Callable[[str], None]) -> None: ...
    def push(self, ref: str, *, on_line: Callable[[str], None]) -> str: ...
    def repo_digest(self, ref: str) -> str | None: ...


class RecipeLike(Protocol):
    """Where each image's Dockerfile and build context come from (release/recipes.py)."""

    name: str

    def check(self) -> None: ...
    def context(self, kind: str, tt_metal_sha: str) -> AbstractContextManager[tuple[Path, str, str | None]]: ...


class ResolverLike(Protocol):
    def resolve(self, commit: str) -> str: ...


def observe_and_plan(
    selection: Selection,
    flags: BuildFlags,
    *,
    engines: Mapping[str, EngineLike],
    registry: RegistryLike,
    workers: int = 8,
    on_check: Callable[[str], None] | None = None,
) -> BuildPlan:
    """Ask the engines which images they hold, then ask the registry only what the decision table needs."""
    refs = [u.tags[k] for u in selection.units for k in KINDS]
    local: dict[str, frozenset[str]] = {}
    for name, engine in engines.items():
        local[name] = frozenset(r for r in refs if engine.image_exists(r))
    remote: dict[str, bool] = {}
    plan = plan_builds(selection, flags, Observed(local, remote))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while plan.missing:
            todo = sorted(set(plan.missing))

            def check(ref: str) -> tuple[str, bool]:
                if on_check:
                    on_check(ref)
                return ref, registry.digest(ImageRef.parse(ref)) is not None

            for ref, present in pool.map(check, todo):
                remote[ref] = present
            plan = plan_builds(selection, flags, Observed(local, dict(remote)))
    return plan


# --------------------------------------------------------------------------------------------- build args


def build_args(kind: str, unit: Unit, *, tt_metal_sha: str, ubuntu_version: str) -> dict[str, str]:
    """The recipe's build-arg interface (§6.3 of the original): the same for the real and offline recipes."""
    if kind == "base":
        return {"UBUNTU_VERSION": ubuntu_version}
    if kind == "cloud":
        return {
            "TT_METAL_DOCKERFILE_URL": unit.tags["base"],
            "TT_METAL_COMMIT_SHA_OR_TAG": tt_metal_sha,
            "TT_VLLM_COMMIT_SHA_OR_TAG": unit.vllm_commit,
            "CONTAINER_APP_UID": CONTAINER_APP_UID,
        }
    return {"CLOUD_DOCKERFILE_URL": unit.tags["cloud"]}


# --------------------------------------------------------------------------------------------- apply


@dataclass(frozen=True)
class BuildEvent:
    engine: str
    combination_id: str
    kind: str
    phase: str  # "unit" | "start" | "line" | "built" | "pushing" | "pushed" | "failed" | "done"
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
        lines = [f"{u.plan.unit.combination_id}: {u.error}" for u in self.failures]
        lines += [f"{u.image}: {u.reason}" for u in self.plan.unbuildable if u.failed]
        return lines


def log_file_name(timestamp: str, kind: str, ref: str) -> str:
    """`build_{YYYYmmdd_HHMMSS}_{kind}-{tag}.log` (the runbook's promise, with the kind so names never clash)."""
    tag = ref.rpartition(":")[2] if ref.rfind(":") > ref.rfind("/") else "latest"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
    return f"build_{timestamp}_{kind}-{safe}.log"


def apply_builds(
    plan: BuildPlan,
    *,
    engines: Mapping[str, EngineLike],
    registry: RegistryLike,
    recipe: RecipeLike,
    resolver: ResolverLike,
    log_dir: Path,
    timestamp: str,
    open_log: Callable[[Path], AbstractContextManager[IO[str]]],
    jobs: int = 1,
    on_event: Callable[[BuildEvent], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> BuildResult:
    """Build and push what the plan says. Each group (units sharing a tt-metal commit) runs on one engine;
    `jobs` groups at a time per engine. A failing unit is recorded; the others go on."""
    if not engines:
        raise ConfigError("no Docker engine: set DOCKER_HOST or pass --docker-host")
    if jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    emit = on_event or (lambda _e: None)
    started = clock()
    outcomes = {id(u): UnitOutcome(plan=u) for u in plan.units}

    groups: dict[str, list[UnitPlan]] = {}
    for unit_plan in plan.work:
        groups.setdefault(unit_plan.unit.tt_metal_commit, []).append(unit_plan)
    shared: queue.Queue[list[UnitPlan]] = queue.Queue()
    pinned: dict[str, queue.Queue[list[UnitPlan]]] = {name: queue.Queue() for name in engines}
    # Biggest groups first, so the long chains start early.
    for group in sorted(groups.values(), key=lambda g: -sum(len(u.builds) for u in g)):
        engine = group[0].engine
        pinned.get(engine or "", shared).put(group)

    sha_cache: dict[str, str] = {}
    sha_lock = threading.Lock()

    def resolve(commit: str) -> str:
        with sha_lock:
            if commit not in sha_cache:
                sha_cache[commit] = resolver.resolve(commit)
            return sha_cache[commit]

    alive = set(engines)
    alive_lock = threading.Lock()

    def next_group(name: str) -> list[UnitPlan] | None:
        for q in (pinned[name], shared):
            try:
                return q.get_nowait()
            except queue.Empty:
                continue
        return None

    def _engine_down(name: str, rest_of_group: list[UnitPlan]) -> None:
        """An engine stopped answering: its queued work goes to the engines still alive (or fails if none is)."""
        with alive_lock:
            alive.discard(name)
            survivors = bool(alive)
        leftovers = [rest_of_group] if rest_of_group else []
        while True:
            try:
                leftovers.append(pinned[name].get_nowait())
            except queue.Empty:
                break
        if not survivors:
            while True:
                try:
                    leftovers.append(shared.get_nowait())
                except queue.Empty:
                    break
        for group in leftovers:
            if survivors:
                shared.put(group)
                continue
            for unit_plan in group:
                outcomes[id(unit_plan)].error = f"not built: engine {name} stopped answering and no engine is left"

    crashed: list[BaseException] = []

    def worker(name: str, engine: EngineLike) -> None:
        try:
            _work(name, engine)
        except BaseException as e:  # a bug: re-raised in the calling thread with its traceback
            crashed.append(e)

    def _work(name: str, engine: EngineLike) -> None:
        while not crashed and (group := next_group(name)) is not None:
            bases_built: set[str] = set()
            for unit_plan in group:
                outcome = outcomes[id(unit_plan)]
                outcome.engine = name
                t0 = clock()
                try:
                    _run_unit(unit_plan, outcome, engine, bases_built)
                except EngineUnreachable as e:
                    outcome.error = str(e)
                    emit(BuildEvent(name, unit_plan.unit.combination_id, "", "failed", outcome.error))
                    _engine_down(name, group[group.index(unit_plan) + 1 :])
                    return
                except ReleaseError as e:
                    outcome.error = str(e)
                    outcome.conflict = isinstance(e, TagConflict)
                outcome.duration_s = round(clock() - t0, 3)
                emit(
                    BuildEvent(
                        name,
                        unit_plan.unit.combination_id,
                        "",
                        "done" if outcome.success else "failed",
                        outcome.error or f"in {outcome.duration_s:.1f}s",
                    )
                )

    def _run_unit(unit_plan: UnitPlan, outcome: UnitOutcome, engine: EngineLike, bases_built: set[str]) -> None:
        unit = unit_plan.unit
        cid = unit.combination_id
        emit(BuildEvent(engine.name, cid, "", "unit", f"builds: {', '.join(unit_plan.builds) or 'none'}"))
        for kind in KINDS:
            outcome.images[kind] = ImageOutcome(kind=kind, ref=unit.tags[kind])
        cloud_ready = "cloud" in unit_plan.builds
        for kind in unit_plan.builds:
            image = outcome.images[kind]
            if kind == "base" and image.ref in bases_built:
                continue
            image.build_attempted = True
            if kind in ("dev", "release") and not cloud_ready:
                cloud = unit.tags["cloud"]
                if not engine.image_exists(cloud):
                    emit(BuildEvent(engine.name, cid, "cloud", "pulling", cloud))
                    try:
                        engine.pull(cloud, on_line=lambda _line: None)
                    except ReleaseError as e:
                        image.build_succeeded = False
                        image.error = str(e)
                        if isinstance(e, EngineUnreachable):
                            raise
                        raise BuildError(f"{kind}: cannot pull its cloud image: {e}") from None
                cloud_ready = True
            if kind in ("base", "cloud"):
                try:
                    outcome.tt_metal_sha = resolve(unit.tt_metal_commit)
                except ReleaseError as e:
                    image.build_succeeded = False
                    image.error = str(e)
                    raise BuildError(f"{kind}: {e}") from None
            sha = outcome.tt_metal_sha or unit.tt_metal_commit
            path = log_dir / log_file_name(timestamp, kind, image.ref)
            image.log_file = str(path)
            t0 = clock()
            emit(BuildEvent(engine.name, cid, kind, "start", image.ref))
            try:
                with open_log(path) as fh:
                    fh.write(f"# {kind} {image.ref} on {engine.name}\n")
                    fh.write(f"# unit {cid}: tt-metal {unit.tt_metal_commit} ({sha}), vLLM {unit.vllm_commit}\n")
                    args = build_args(kind, unit, tt_metal_sha=sha, ubuntu_version=plan.flags.ubuntu_version)
                    for key, value in args.items():
                        fh.write(f"# --build-arg {key}={value}\n")
                    fh.flush()

                    def on_line(line: str, _fh: IO[str] = fh, _kind: str = kind) -> None:
                        _fh.write(line if line.endswith("\n") else line + "\n")
                        _fh.flush()
                        if line.startswith("Step "):
                            emit(BuildEvent(engine.name, cid, _kind, "line", line.strip()))

                    try:
                        with recipe.context(kind, sha) as (context, dockerfile, target):
                            engine.build(
                                image.ref,
                                context=context,
                                dockerfile=dockerfile,
                                buildargs=args,
                                target=target,
                                on_line=on_line,
                            )
                    except ReleaseError as e:
                        fh.write(f"# FAILED: {e}\n")
                        raise
                    fh.write(f"# built in {clock() - t0:.1f}s\n")
            except ReleaseError as e:
                image.build_succeeded = False
                image.duration_s = round(clock() - t0, 3)
                image.error = str(e)
                emit(BuildEvent(engine.name, cid, kind, "failed", str(e)))
                if isinstance(e, EngineUnreachable):
                    raise
                raise BuildError(f"{kind} {image.ref}: {e} (log: {path})") from None
            image.build_succeeded = True
            image.duration_s = round(clock() - t0, 3)
            if kind == "base":
                bases_built.add(image.ref)
            emit(BuildEvent(engine.name, cid, kind, "built", f"{image.ref} in {image.duration_s:.1f}s"))
        for kind in unit_plan.pushes:
            _push(outcome.images[kind], engine=engine, registry=registry, emit=emit, cid=cid)

    def pending() -> bool:
        return not shared.empty() or any(not pinned[n].empty() for n in alive)

    while True:
        threads = [
            threading.Thread(target=worker, args=(name, engines[name]), name=f"build-{name}-{i}", daemon=True)
            for name in sorted(alive, key=list(engines).index)
            for i in range(jobs)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if crashed:
            raise crashed[0]
        # An engine that went down late may have handed work back after the others had finished.
        if not (alive and pending()):
            break
    for unit_plan in plan.work:
        outcome = outcomes[id(unit_plan)]
        if outcome.engine is None and outcome.error is None:
            outcome.error = "not built: no engine was left to run it"
    return BuildResult(
        plan=plan,
        units=tuple(outcomes[id(u)] for u in plan.units),
        engines=tuple(engines),
        duration_s=round(clock() - started, 3),
    )


def _push(
    image: ImageOutcome, *, engine: EngineLike, registry: RegistryLike, emit: Callable[[BuildEvent], None], cid: str
) -> None:
    """Push one image, verified. The plan saw the tag absent, maybe hours ago: the registry is asked again right
    before the push, and a tag that appeared since is never moved (TagConflict), unless it already holds this very
    image (the engine pushed or pulled it with that digest)."""
    ref = ImageRef.parse(image.ref)
    there = registry.digest(ref)
    if there is not None:
        ours = engine.repo_digest(image.ref)
        if ours == there:
            image.digest = there
            emit(BuildEvent(engine.name, cid, image.kind, "pushed", f"{image.ref}@{there} (already in the registry)"))
            return
        image.error = f"the registry has {there} since planning; not pushed"
        built = f"this build is {ours}" if ours else "this build was not pushed"
        raise TagConflict(
            f"{image.ref} appeared in the registry after planning, pointing at {there} ({built}); refusing to move "
            "it: find out who pushed it, then delete that tag or bump VERSION"
        )
    emit(BuildEvent(engine.name, cid, image.kind, "pushing", image.ref))
    try:
        digest = engine.push(image.ref, on_line=lambda _line: None)
    except ReleaseError as e:
        image.error = str(e)
        if isinstance(e, EngineUnreachable):
            raise
        raise BuildError(f"push {image.ref}: {e}") from None
    remote = registry.digest(ref)
    if remote != digest:
        image.error = f"registry has {remote}, engine pushed {digest}"
        raise BuildError(
            f"push {image.ref}: the registry reports {remote} but the engine pushed {digest}; another "
            "push may have raced this one: check the tag before using it"
        )
    image.pushed = True
    image.digest = digest
    emit(BuildEvent(engine.name, cid, image.kind, "pushed", f"{image.ref}@{digest}"))


def unconverged(result: BuildResult, again: BuildPlan) -> list[str]:
    """Units that succeeded but, planned again afterwards, still need a build or a push."""
    succeeded = {u.plan.unit.combination_id for u in result.units if u.success}
    return [
        f"{u.unit.combination_id}: still needs {', '.join([*u.builds, *(f'push {k}' for k in u.pushes)])}"
        for u in again.work
        if u.unit.combination_id in succeeded
    ]
