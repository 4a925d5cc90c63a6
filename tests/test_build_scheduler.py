"""Scheduling of `inv images.build` without Docker: the Scheduler on plain items, then `apply_builds` on fake
engines (groups, free engine first, --jobs, an engine going down, a failing unit, the events of a unit)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from release.build.apply import apply_builds
from release.build.plan import BuildFlags, Observed, plan_builds
from release.build.result import BuildEvent, BuildResult, unconverged
from release.build.scheduler import Group, Scheduler
from release.build.units import KINDS, Selection, work_units
from release.errors import ConfigError, EngineUnreachable
from tests.build_fakes import FakeEngine, FakeRegistry, SameSha, StaticRecipe, spec, units

ENGINES = {"a": "engine a", "b": "engine b"}


class Ran:
    """What work ran where, thread-safe; `wait_for(n)` blocks until `n` items have run."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []  # (engine, item) in the order they finished
        self._changed = threading.Condition()

    def add(self, engine: str, item: str) -> None:
        with self._changed:
            self.items.append((engine, item))
            self._changed.notify_all()

    def wait_for(self, n: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.items) >= n, timeout=10)

    def on(self, engine: str) -> list[str]:
        return [item for e, item in self.items if e == engine]


def never(item: str, engine: str) -> None:
    raise AssertionError(f"{item} stranded after {engine} went down")


# ------------------------------------------------------------------------------------------------ the scheduler


def test_a_group_runs_in_order_on_one_engine():
    ran = Ran()
    groups = [Group(tuple(f"g{g}-{i}" for i in range(3))) for g in range(6)]

    def work(name: str, engine: str, item: str) -> None:
        time.sleep(0.01)
        ran.add(name, item)

    Scheduler(ENGINES, jobs=1).run(groups, work, stranded=never)
    assert len(ran.items) == 18
    for g in range(6):
        where = [(e, item) for e, item in ran.items if item.startswith(f"g{g}-")]
        assert len({e for e, _ in where}) == 1  # one engine
        assert [item for _, item in where] == [f"g{g}-0", f"g{g}-1", f"g{g}-2"]  # in order


def test_a_pinned_group_waits_for_its_engine_and_the_others_go_to_the_free_one():
    ran = Ran()
    groups = [Group(("on-a",), engine="a"), *(Group((f"free-{i}",)) for i in range(4))]

    def work(name: str, engine: str, item: str) -> None:
        if name == "a":
            ran.wait_for(4)  # engine a is busy until b has run every free group
        ran.add(name, item)

    Scheduler(ENGINES, jobs=1).run(groups, work, stranded=never)
    assert ran.on("a") == ["on-a"]  # b was free, but the pinned group waited for a
    assert sorted(ran.on("b")) == [f"free-{i}" for i in range(4)]


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_jobs_is_the_most_groups_running_at_once_on_an_engine(jobs):
    lock = threading.Lock()
    running: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    def work(name: str, engine: str, item: str) -> None:
        with lock:
            running[name] += 1
            most[name] = max(most[name], running[name])
        time.sleep(0.05)
        with lock:
            running[name] -= 1

    groups = [Group((f"g{i}",)) for i in range(4 * jobs)]
    Scheduler(ENGINES, jobs=jobs).run(groups, work, stranded=never)
    assert most == {"a": jobs, "b": jobs}


def test_an_engine_that_goes_down_hands_the_rest_of_its_group_and_its_queue_to_the_others():
    ran = Ran()
    groups = [Group(("x-0", "x-1", "x-2"), engine="down"), Group(("y-0",), engine="down"), Group(("z-0",))]

    def work(name: str, engine: str, item: str) -> None:
        if name == "down":
            raise EngineUnreachable("gone")
        ran.add(name, item)

    Scheduler({"down": 1, "up": 2}, jobs=2).run(groups, work, stranded=never)
    # x-0 failed with its engine (its outcome is the work's to record); the rest ran on the engine left
    assert sorted(ran.on("up")) == ["x-1", "x-2", "y-0", "z-0"]
    assert ran.on("up").index("x-1") < ran.on("up").index("x-2")


def test_when_no_engine_is_left_the_rest_is_stranded():
    stranded: list[tuple[str, str]] = []
    groups = [Group(("x-0", "x-1")), Group(("y-0",)), Group(("z-0",))]

    def work(name: str, engine: str, item: str) -> None:
        raise EngineUnreachable("gone")

    Scheduler({"only": 1}, jobs=1).run(groups, work, stranded=lambda item, e: stranded.append((item, e)))
    # the first item failed with the engine; every other one is handed back as not run
    assert sorted(stranded) == [("x-1", "only"), ("y-0", "only"), ("z-0", "only")]


def test_a_bug_in_the_work_is_raised_in_the_caller_and_stops_new_work():
    started: list[str] = []

    def work(name: str, engine: str, item: str) -> None:
        started.append(item)
        raise KeyError(item)

    with pytest.raises(KeyError):
        Scheduler({"a": 1}, jobs=1).run([Group((f"g{i}",)) for i in range(5)], work, stranded=never)
    assert started == ["g0"]


def test_no_engine_or_no_jobs_is_a_config_error():
    with pytest.raises(ConfigError, match="no Docker engine"):
        Scheduler({}, jobs=1)
    with pytest.raises(ConfigError, match="--jobs must be at least 1"):
        Scheduler(ENGINES, jobs=0)


# ------------------------------------------------------------------------------------------------ apply_builds


def units_on(pairs: list[tuple[str, str]]) -> Selection:
    return work_units([spec(f"m{i}", tm, vllm) for i, (tm, vllm) in enumerate(pairs)], ubuntu_version="22.04")


def run_plan(
    engines: list[FakeEngine], sel: Selection, tmp_path: Path, *, push: bool = False
) -> tuple[BuildResult, list[BuildEvent]]:
    """Every image of `sel` missing everywhere; build (and push) it on `engines`."""
    plan = plan_builds(sel, BuildFlags(push=push), Observed({}, {u.tags[k]: False for u in sel.units for k in KINDS}))
    events: list[BuildEvent] = []
    result = apply_builds(
        plan,
        engines={e.name: e for e in engines},
        registry=FakeRegistry(engines=tuple(engines)),
        recipe=StaticRecipe(),
        resolver=SameSha(),
        log_dir=tmp_path,
        timestamp="t",
        on_event=events.append,
    )
    return result, events


def test_units_sharing_a_tt_metal_commit_stay_on_one_engine_and_build_its_base_once(tmp_path):
    sel = units_on([("1111111", "aaaaaaa"), ("1111111", "bbbbbbb"), ("2222222", "aaaaaaa"), ("3333333", "aaaaaaa")])
    e1, e2 = FakeEngine("e1"), FakeEngine("e2")
    result, _ = run_plan([e1, e2], sel, tmp_path)
    assert not result.failures
    assert result.units[0].engine == result.units[1].engine
    assert result.units[0].images["base"].build_attempted and not result.units[1].images["base"].build_attempted
    base = sel.units[0].tags["base"]
    assert (e1.built + e2.built).count(base) == 1


def test_a_failed_unit_stops_at_its_first_failure_and_the_others_finish(tmp_path):
    sel = units(3)
    bad_cloud = sel.units[1].tags["cloud"]
    engine = FakeEngine("e", fails=lambda ref: ref == bad_cloud)
    result, _ = run_plan([engine], sel, tmp_path, push=True)
    ok1, bad, ok2 = result.units
    assert ok1.success and ok2.success
    assert [k for k, i in ok2.images.items() if i.pushed] == ["cloud", "dev"]
    assert not bad.success and bad_cloud in (bad.error or "") and "log:" in (bad.error or "")
    assert bad.images["base"].build_succeeded is True
    assert bad.images["cloud"].build_succeeded is False
    assert not bad.images["dev"].build_attempted  # the chain stops at its first failure
    assert not any(i.pushed for i in bad.images.values())  # and pushes nothing
    assert result.failure_lines() == [f"{bad.plan.unit.combination_id}: {bad.error}"]


def test_the_events_of_a_unit_come_in_chain_order(tmp_path):
    _, events = run_plan([FakeEngine("e")], units(1), tmp_path, push=True)
    assert [(e.kind, e.phase) for e in events] == [
        ("", "unit"),
        *((kind, phase) for kind in ("base", "cloud", "dev") for phase in ("start", "line", "built")),
        ("cloud", "pushing"),
        ("cloud", "pushed"),
        ("dev", "pushing"),
        ("dev", "pushed"),
        ("", "done"),
    ]
    assert {e.engine for e in events} == {"e"} and {e.combination_id for e in events} == {"0000000-6e67d2d"}


def test_an_engine_that_goes_down_hands_its_units_to_the_others(tmp_path):
    down, up = FakeEngine("down", down_after=1), FakeEngine("up")
    result, _ = run_plan([down, up], units(4), tmp_path)
    failed = [u for u in result.units if not u.success]
    assert len(failed) == 1 and "unreachable" in (failed[0].error or "")
    assert all(u.engine == "up" for u in result.units if u.success)
    assert len(up.built) == 9  # three units × base, cloud, dev


def test_when_every_engine_is_down_every_unit_fails(tmp_path):
    result, _ = run_plan([FakeEngine("a", down_after=0), FakeEngine("b", down_after=0)], units(5), tmp_path)
    assert all(not u.success for u in result.units)
    assert len(result.failure_lines()) == 5
    assert sum("no engine is left" in (u.error or "") for u in result.units) == 3  # two failed with their engine


def test_unconverged_lists_succeeded_units_that_still_need_work(tmp_path):
    result, _ = run_plan([FakeEngine("e")], units(2), tmp_path)
    sel = units(2)
    done = plan_builds(sel, BuildFlags(), Observed({"e": frozenset(u.tags["dev"] for u in sel.units)}, {}))
    assert unconverged(result, done) == []
    remote = {u.tags[k]: False for u in sel.units for k in KINDS}
    still = plan_builds(sel, BuildFlags(), Observed({}, remote))
    assert unconverged(result, still) == [
        "0000000-6e67d2d: still needs base, cloud, dev",
        "0000001-6e67d2d: still needs base, cloud, dev",
    ]
