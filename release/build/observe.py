"""What `inv images.build` reads before it plans: which images each engine holds, then only the registry facts the
decision table asks for (release/build/plan.py), planning again until nothing is missing. A run where every image
exists costs one registry request per wanted image."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from release.build.plan import BuildFlags, BuildPlan, Observed, plan_builds
from release.build.units import KINDS, Selection
from release.imageref import ImageRef

if TYPE_CHECKING:
    from release.docker_engine import DockerEngine
    from release.registry import RegistryClient


def observe_and_plan(
    selection: Selection,
    flags: BuildFlags,
    *,
    engines: Mapping[str, DockerEngine],
    registry: RegistryClient,
    workers: int = 8,
    on_check: Callable[[str], None] | None = None,
) -> BuildPlan:
    """Ask the engines which images they hold, then ask the registry only what the decision table needs."""
    refs = [u.tags[k] for u in selection.units for k in KINDS]
    local: dict[str, frozenset[str]] = {}
    for name, engine in engines.items():
        local[name] = frozenset(r for r in refs if engine.image_exists(r))
    remote: dict[str, bool] = {}

    def check(ref: str) -> tuple[str, bool]:
        if on_check:
            on_check(ref)
        return ref, registry.digest(ImageRef.parse(ref)) is not None

    plan = plan_builds(selection, flags, Observed(local, remote))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while plan.missing:
            for ref, present in pool.map(check, sorted(set(plan.missing))):
                remote[ref] = present
            plan = plan_builds(selection, flags, Observed(local, dict(remote)))
    return plan
