"""Pure: the decision table of `inv images.build` and the BuildPlan it makes.

`plan_builds` applies the table to what is known about each image (present on an engine, present in the
registry) and says which registry facts it still needs (`BuildPlan.missing`); release/build/observe.py asks
exactly those and plans again until nothing is missing.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from release.build.units import KINDS, PUSHABLE, Selection, Unbuildable, Unit

NOT_REQUESTED = "not requested (add --release)"


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


class _Facts:
    """Presence lookups for the table; a registry fact not known yet stops the decision (`_NeedRemote`)."""

    def __init__(self, presence: Mapping[str, Presence]) -> None:
        self._presence = presence

    def local(self, kind: str) -> bool:
        return self._presence[kind].local

    def remote(self, kind: str) -> bool:
        value = self._presence[kind].remote
        if value is None:
            raise _NeedRemote(kind)
        return value


def decide(presence: Mapping[str, Presence], flags: BuildFlags) -> dict[str, tuple[bool, bool, str]] | str:
    """The decision table for one unit: {kind: (build, push, reason)}, or the kind whose registry presence is
    needed first. Remote presence is only asked for when it changes the outcome."""
    facts = _Facts(presence)
    try:
        builds = _forced(flags) if flags.force_build else _builds(facts, flags)
        pushes = _pushes(facts, flags, builds)
    except _NeedRemote as need:
        return need.kind
    result: dict[str, tuple[bool, bool, str]] = {}
    for kind in KINDS:
        build, reason = builds[kind]
        push, push_reason = pushes.get(kind, (False, ""))
        if push_reason and push_reason != "push":
            reason = f"{reason}; {push_reason}"
        result[kind] = (build, push, reason)
    return result


def _forced(flags: BuildFlags) -> dict[str, tuple[bool, str]]:
    return {
        kind: (False, NOT_REQUESTED) if kind == "release" and not flags.release else (True, "--force-build")
        for kind in KINDS
    }


def _builds(facts: _Facts, flags: BuildFlags) -> dict[str, tuple[bool, str]]:
    out: dict[str, tuple[bool, str]] = {}
    for kind in ("dev", "release"):
        if kind == "release" and not flags.release:
            out[kind] = (False, NOT_REQUESTED)
        elif facts.local(kind):
            out[kind] = (False, "exists on the engine")
        elif facts.remote(kind):
            out[kind] = (False, "exists in the registry")
        else:
            out[kind] = (True, "missing")
    dev_build, release_build = out["dev"][0], out["release"][0]
    if not (dev_build or release_build):
        out["cloud"] = (False, "not needed: dev/release exist")
    elif facts.local("cloud"):
        out["cloud"] = (False, "exists on the engine")
    elif release_build:
        out["cloud"] = (True, "--release builds a fresh cloud image when none is on the engine")
    elif facts.remote("cloud"):
        out["cloud"] = (False, "exists in the registry (the dev build pulls it)")
    else:
        out["cloud"] = (True, "missing")
    if not out["cloud"][0]:
        out["base"] = (False, "not needed: no cloud build")
    elif facts.local("base"):
        out["base"] = (False, "exists on the engine")
    else:
        out["base"] = (True, "missing")
    return out


def _pushes(facts: _Facts, flags: BuildFlags, builds: Mapping[str, tuple[bool, str]]) -> dict[str, tuple[bool, str]]:
    pushes: dict[str, tuple[bool, str]] = {}
    for kind in PUSHABLE:
        built, _ = builds[kind]
        if not flags.push or (kind == "release" and not flags.release) or not (built or facts.local(kind)):
            pushes[kind] = (False, "")
        elif facts.remote(kind):
            pushes[kind] = (False, "not pushed: the registry has this tag (never moved)" if built else "")
        else:
            pushes[kind] = (True, "push")
    return pushes


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

    @property
    def listed_failures(self) -> list[str]:
        """Images a promotion summary listed that no unit can build."""
        return [f"{u.image}: {u.reason}" for u in self.unbuildable if u.failed]


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
    affinity = {
        tm: engine_affinity([u.tags[k] for u in units for k in KINDS], observed.local) for tm, units in groups.items()
    }
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
