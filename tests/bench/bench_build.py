"""images.build on real services (two private dockerd engines, the htpasswd registry, a tt-metal-like origin).

1. Every image present in the registry, nothing on the engine: registry requests per unit and builds. The
   original ran `docker manifest inspect` for base, cloud, dev and release of every unit (4 per unit).
2. Four missing units built on one engine, then four others on two engines: wall time (two/one). Both private
   engines share this machine's cores and disk, so tiny builds cannot run faster side by side; a second row
   adds 1 s of engine-side time per build (what a remote build machine's own work looks like to the scheduler).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from release.build.apply import apply_builds
from release.build.observe import observe_and_plan
from release.build.plan import BuildFlags
from release.build.recipes import OfflineRecipe
from release.build.result import BuildResult
from release.build.tt_metal import CommitResolver
from release.build.units import work_units
from release.docker_engine import DockerEngine
from release.fsio import open_log
from release.git import Git
from release.imageref import ImageRef
from tests.bench.__main__ import Row
from tests.services.dockerd import start_dockerd, stop_dockerd
from tests.services.registry import start_registry, stop_registry
from tests.services.tt_metal_origin import Origin, make_origin
from tests.spec_stubs import REL, Spec


class Slow:
    """An engine whose builds take `delay` seconds longer (work done on the build machine, not here)."""

    def __init__(self, engine: DockerEngine, delay: float) -> None:
        self._engine = engine
        self.name = engine.name
        self.delay = delay

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)

    def build(self, ref: str, **kwargs: object) -> str:
        time.sleep(self.delay)
        return self._engine.build(ref, **kwargs)  # type: ignore[arg-type]


class Counting:
    def __init__(self, client: object) -> None:
        self.client = client
        self.count = 0

    def digest(self, ref: ImageRef) -> str | None:
        self.count += 1
        return self.client.digest(ref)  # type: ignore[attr-defined, no-any-return]


def specs(version: str, origin: Origin, scenario: int) -> list[Spec]:
    """Four units on commits no other scenario uses, so no engine's build cache or local image helps."""
    out = []
    for i in range(4):
        tm = origin.short(4 * scenario + i)
        vllm = f"{scenario:03x}{i:04x}"
        out.append(Spec(f"id_m{i}", tm, vllm, f"{REL}:{version}-{tm[:12]}-{vllm}"))
    return out


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp_dir:
        tmp = Path(tmp_dir)
        origin = make_origin(tmp / "origin", commits_count=20)
        registry = start_registry(tmp, "bench-registry")
        d1, d2 = start_dockerd("bench1"), start_dockerd("bench2")
        try:
            creds = registry.keychain().resolve
            e1 = DockerEngine(d1.url, name="e1", credentials=creds)
            e2 = DockerEngine(d2.url, name="e2", credentials=creds)
            rewrite = (("ghcr.io", registry.host),)
            resolver = CommitResolver(Git, url=origin.url, cache_dir=tmp / "cache" / "tt-metal.git")

            def build(version: str, scenario: int, engines: dict[str, Any], push: bool) -> BuildResult:
                sel = work_units(specs(version, origin, scenario), ubuntu_version="22.04", registry_map=rewrite)
                plan = observe_and_plan(sel, BuildFlags(push=push), engines=engines, registry=registry.client())
                result = apply_builds(
                    plan,
                    engines=engines,
                    registry=registry.client(),
                    recipe=OfflineRecipe(),
                    resolver=resolver,
                    log_dir=tmp / "logs",
                    timestamp=version,
                    open_log=open_log,
                )
                assert not result.failures, result.failure_lines()
                return result

            # 1. everything present in the registry; engine 2 holds nothing
            build("1.0.0", 0, {"e1": e1}, push=True)
            sel = work_units(specs("1.0.0", origin, 0), ubuntu_version="22.04", registry_map=rewrite)
            counting = Counting(registry.client())
            t0 = time.perf_counter()
            plan = observe_and_plan(sel, BuildFlags(), engines={"e2": e2}, registry=counting)
            check_s = time.perf_counter() - t0
            builds = sum(len(u.builds) for u in plan.units)

            # 2. four missing units: one engine, then two engines
            t0 = time.perf_counter()
            build("2.0.0", 1, {"e1": e1}, push=False)
            one = time.perf_counter() - t0
            t0 = time.perf_counter()
            two_result = build("3.0.0", 2, {"e1": e1, "e2": e2}, push=False)
            two = time.perf_counter() - t0
            used = len({u.engine for u in two_result.units})
            slow1, slow2 = Slow(e1, 1.0), Slow(e2, 1.0)
            t0 = time.perf_counter()
            build("4.0.0", 3, {"e1": slow1}, push=False)
            slow_one = time.perf_counter() - t0
            t0 = time.perf_counter()
            build("5.0.0", 4, {"e1": slow1, "e2": slow2}, push=False)
            slow_two = time.perf_counter() - t0
        finally:
            stop_dockerd(d1)
            stop_dockerd(d2)
            stop_registry(registry)
    units = len(sel.units)
    return [
        Row("build", "all present: registry requests per unit", 4.0, counting.count / units, "<= 1"),
        Row("build", "all present: builds", 0.0, float(builds), "0"),
        Row("build", "all present: check time for 4 units (s)", check_s, check_s, "informational"),
        Row("build", f"4 units, same host: wall s, 2 engines ({used} used) vs 1", one, two, "~1 (shared CPU)"),
        Row("build", "4 units, +1 s/build on engine: wall s, 2 engines vs 1", slow_one, slow_two, "< 0.6"),
    ]
