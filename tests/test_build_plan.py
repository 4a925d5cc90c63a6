"""The build planner (pure): work units from the catalogue, the decision table row by row, lazy registry checks,
and the renderers of plans, progress and results."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from release.build.apply import apply_builds, log_file_name
from release.build.observe import observe_and_plan
from release.build.plan import BuildFlags, Observed, Presence, decide, plan_builds
from release.build.recipes import build_args
from release.build.report import build_summary, decision_table, plan_json, result_table
from release.build.result import BuildEvent
from release.build.units import KINDS, base_tag, chain_tags, work_units
from release.errors import ConfigError
from tests.build_fakes import FakeEngine, FakeRegistry, SameSha, StaticRecipe, spec, units
from tests.spec_stubs import REL
from workflows.model_spec import load_catalogue

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------------------ units


def test_units_of_the_real_catalogue_are_the_14_vllm_pairs_with_catalogue_tags():
    cat = load_catalogue(ROOT / "workflows/model_specs.toml", version="0.5.0")
    sel = work_units(cat.specs.values(), ubuntu_version="22.04")
    assert len(sel.units) == 14
    catalogue_images = {s.docker_image for s in cat.specs.values() if s.vllm_commit and not s.has_explicit_image}
    assert {u.tags["release"] for u in sel.units} == catalogue_images
    dev_images = {s.dev_image for s in cat.specs.values() if s.vllm_commit and not s.has_explicit_image}
    assert {u.tags["dev"] for u in sel.units} == dev_images
    # media images are reported, not silently dropped
    assert all(not u.failed for u in sel.unbuildable)
    assert {u.image.split(":")[0] for u in sel.unbuildable} == {"ghcr.io/tenstorrent/tt-media-inference-server"}


def test_tags_follow_the_catalogue_truncation_and_derive_cloud_and_ubuntu():
    long_tm, long_vllm = "a" * 40, "b" * 40
    sel = work_units([spec("m1", long_tm, long_vllm)], ubuntu_version="22.04")
    (unit,) = sel.units
    tag = f"0.5.0-{'a' * 12}-{'b' * 12}"
    assert unit.tags == {
        "base": f"local/tt-metal/tt-metalium/ubuntu-22.04-amd64:{long_tm}",
        "cloud": f"ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-cloud-ubuntu-22.04-amd64:{tag}",
        "dev": f"ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64:{tag}",
        "release": f"{REL}:{tag}",
    }
    other = chain_tags(f"{REL}:{tag}", "20.04")
    assert other is not None and other["dev"].endswith(f"vllm-tt-metal-src-dev-ubuntu-20.04-amd64:{tag}")
    assert chain_tags("127.0.0.1:5000/x/y:1", "22.04") is None
    assert base_tag("v0.61.1-rc1", "22.04") == "local/tt-metal/tt-metalium/ubuntu-22.04-amd64:v0.61.1-rc1"
    assert base_tag("users/me/fix", "20.04").endswith("ubuntu-20.04-amd64:users-me-fix")


def test_units_group_models_filter_by_metal_commit_and_rewrite_registry():
    specs = [
        spec("m1", "25305db", "6e67d2d"),
        spec("m2", "25305db", "6e67d2d"),
        spec("m3", "v0.61.1-rc1", "5cbc982"),
        spec("media", "e95ffa59adbe", None, image="ghcr.io/tenstorrent/tt-media-inference-server:0.4.0-e95ffa59adbe"),
    ]
    sel = work_units(specs, ubuntu_version="22.04", registry_map=(("ghcr.io", "127.0.0.1:5000"),))
    assert [u.model_ids for u in sel.units] == [("m1", "m2"), ("m3",)]
    assert sel.units[0].tags["dev"].startswith("127.0.0.1:5000/tenstorrent/")
    assert sel.units[0].tags["base"].startswith("local/")
    assert sel.units[1].combination_id == "v0.61.1-rc1-5cbc982"
    only = work_units(specs, ubuntu_version="22.04", build_metal_commit="v0.61.1-rc1")
    assert [u.tt_metal_commit for u in only.units] == ["v0.61.1-rc1"]
    # the filter is exact: no prefix matching
    assert work_units(specs, ubuntu_version="22.04", build_metal_commit="25305").units == ()


def test_only_missing_from_selects_listed_images_and_fails_the_unknown():
    specs = [spec("m1", "25305db", "6e67d2d"), spec("m2", "ae65ee5", "35f023f")]
    dev1 = specs[0].docker_image.replace("-release-", "-dev-")
    missing = "ghcr.io/tenstorrent/tt-media-inference-server:0.5.0-abc"
    sel = work_units(specs, ubuntu_version="22.04", only=[dev1, missing])
    assert [u.model_ids for u in sel.units] == [("m1",)]
    assert [(u.image, u.failed) for u in sel.unbuildable] == [(missing, True)]
    with pytest.raises(ConfigError, match="add --release"):
        work_units(specs, ubuntu_version="22.04", only=[specs[1].docker_image])
    sel = work_units(specs, ubuntu_version="22.04", only=[specs[1].docker_image], release=True)
    assert [u.model_ids for u in sel.units] == [("m2",)]


def test_bad_ubuntu_version_is_a_config_error():
    with pytest.raises(ConfigError, match="20.04, 22.04"):
        work_units([], ubuntu_version="24.04")


def test_two_commit_pairs_with_the_same_truncated_tag_are_refused():
    specs = [spec("m1", "a" * 12 + "1", "b" * 7), spec("m2", "a" * 12 + "2", "b" * 7)]
    sel = work_units(specs, ubuntu_version="22.04")
    assert sel.units == ()
    assert len(sel.unbuildable) == 1 and sel.unbuildable[0].failed
    assert "same tag" in sel.unbuildable[0].reason


# ------------------------------------------------------------------------------------------------ decision table


def presence(text: str) -> dict[str, Presence]:
    """ "base=L cloud=R dev=LR release=-": L on the engine, R in the registry."""
    out = {k: Presence(local=False, remote=False) for k in KINDS}
    for item in text.split():
        kind, _, marks = item.partition("=")
        out[kind] = Presence(local="L" in marks, remote="R" in marks)
    out["base"] = Presence(local=out["base"].local, remote=None)
    return out


ROWS = [
    # (id, flags, presence, builds, pushes)
    ("dev-on-engine", {}, "dev=L", "", ""),
    ("dev-in-registry", {}, "dev=R", "", ""),
    ("dev-missing-cloud-on-engine", {}, "cloud=L", "dev", ""),
    ("dev-missing-cloud-in-registry", {}, "cloud=R", "dev", ""),
    ("dev-missing-cloud-missing-base-on-engine", {}, "base=L", "cloud dev", ""),
    ("all-missing", {}, "", "base cloud dev", ""),
    ("release-all-exist", {"release": True}, "dev=R release=R", "", ""),
    ("release-on-engine", {"release": True}, "dev=L release=L", "", ""),
    ("release-missing-cloud-on-engine", {"release": True}, "cloud=L dev=R", "release", ""),
    ("release-missing-cloud-in-registry-fresh", {"release": True}, "cloud=R dev=R base=L", "cloud release", ""),
    ("release-missing-fresh-chain", {"release": True}, "cloud=R dev=R", "base cloud release", ""),
    ("release-and-dev-missing", {"release": True}, "cloud=R", "base cloud dev release", ""),
    ("dev-missing-release-exists-cloud-missing", {"release": True}, "release=R", "base cloud dev", ""),
    ("force", {"force_build": True}, "base=L cloud=LR dev=LR release=LR", "base cloud dev", ""),
    ("force-release", {"force_build": True, "release": True}, "", "base cloud dev release", ""),
    ("push-built-chain", {"push": True}, "", "base cloud dev", "cloud dev"),
    ("push-existing-local-only", {"push": True}, "cloud=L dev=L", "", "cloud dev"),
    ("push-nothing-when-remote", {"push": True}, "cloud=LR dev=LR", "", ""),
    ("push-pulled-cloud-not-pushed", {"push": True}, "cloud=R", "dev", "dev"),
    ("force-push-never-moves-tags", {"force_build": True, "push": True}, "cloud=R dev=R", "base cloud dev", ""),
    ("push-release", {"push": True, "release": True}, "dev=R", "base cloud release", "cloud release"),
    ("push-without-release-ignores-release", {"push": True}, "dev=R release=L", "", ""),
]


@pytest.mark.parametrize(("flags", "text", "builds", "pushes"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_decision_table(flags, text, builds, pushes):
    result = decide(presence(text), BuildFlags(**flags))
    assert isinstance(result, dict)
    assert [k for k in KINDS if result[k][0]] == builds.split()
    assert [k for k in KINDS if result[k][1]] == pushes.split()
    # every decision carries a reason
    assert all(reason for _, _, reason in result.values())


def test_decision_asks_for_the_registry_only_when_it_matters():
    unknown = {k: Presence(local=False, remote=None) for k in KINDS}
    assert decide(unknown, BuildFlags()) == "dev"
    on_engine = {**unknown, "dev": Presence(local=True, remote=None)}
    assert isinstance(decide(on_engine, BuildFlags()), dict)  # no registry question at all
    assert decide(on_engine, BuildFlags(push=True)) == "dev"  # pushing needs to know
    known_dev = {**unknown, "dev": Presence(local=False, remote=False)}
    assert decide(known_dev, BuildFlags()) == "cloud"
    # --force-build decides without the registry (the whole chain, release only with --release)...
    forced = decide(unknown, BuildFlags(force_build=True))
    assert forced == {
        "base": (True, False, "--force-build"),
        "cloud": (True, False, "--force-build"),
        "dev": (True, False, "--force-build"),
        "release": (False, False, "not requested (add --release)"),
    }
    # ...but pushing what it builds asks first, so that an existing tag is never moved
    assert decide(unknown, BuildFlags(force_build=True, push=True)) == "cloud"
    known = {k: Presence(local=False, remote=False if k != "base" else None) for k in KINDS}
    assert decide(known, BuildFlags(force_build=True, push=True)) == {
        "base": (True, False, "--force-build"),
        "cloud": (True, True, "--force-build"),
        "dev": (True, True, "--force-build"),
        "release": (False, False, "not requested (add --release)"),
    }


def test_all_present_costs_one_registry_request_per_image():
    sel = units(5)
    registry = FakeRegistry({u.tags["dev"] for u in sel.units})
    plan = observe_and_plan(sel, BuildFlags(), engines={"e": FakeEngine("e", set())}, registry=registry)
    assert plan.work == ()
    assert sorted(registry.asked) == sorted(u.tags["dev"] for u in sel.units)
    registry = FakeRegistry({u.tags[k] for u in sel.units for k in ("dev", "release")})
    plan = observe_and_plan(sel, BuildFlags(release=True), engines={}, registry=registry)
    assert plan.work == () and len(registry.asked) == 10


def test_missing_images_ask_cloud_next_and_plan_converges():
    sel = units(2)
    registry = FakeRegistry({sel.units[0].tags["cloud"]})
    plan = observe_and_plan(sel, BuildFlags(), engines={}, registry=registry)
    assert [u.builds for u in plan.units] == [("dev",), ("base", "cloud", "dev")]
    assert len(registry.asked) == 4 and plan.missing == ()


def test_engine_affinity_keeps_a_group_where_its_images_are():
    sel = work_units(
        [spec("a", "1111111", "6e67d2d"), spec("b", "1111111", "7777777"), spec("c", "2222222", "6e67d2d")],
        ubuntu_version="22.04",
    )
    a = sel.units[0]
    e2 = FakeEngine("e2", {a.tags["base"], a.tags["cloud"]})
    registry = FakeRegistry(set())
    plan = observe_and_plan(sel, BuildFlags(), engines={"e1": FakeEngine("e1", set()), "e2": e2}, registry=registry)
    assert [u.engine for u in plan.units] == ["e2", "e2", None]
    assert plan.units[0].builds == ("dev",)
    assert plan.units[1].builds == ("cloud", "dev")  # base is on e2 already


# ------------------------------------------------------------------------------------------------ rendering


def test_build_args_are_the_recipe_interface():
    (unit,) = units(1).units
    assert build_args("base", unit, tt_metal_sha="f" * 40, ubuntu_version="22.04") == {"UBUNTU_VERSION": "22.04"}
    assert build_args("cloud", unit, tt_metal_sha="f" * 40, ubuntu_version="22.04") == {
        "TT_METAL_DOCKERFILE_URL": unit.tags["base"],
        "TT_METAL_COMMIT_SHA_OR_TAG": "f" * 40,
        "TT_VLLM_COMMIT_SHA_OR_TAG": "6e67d2d",
        "CONTAINER_APP_UID": "1000",
    }
    for kind in ("dev", "release"):
        assert build_args(kind, unit, tt_metal_sha="x", ubuntu_version="22.04") == {
            "CLOUD_DOCKERFILE_URL": unit.tags["cloud"]
        }


def test_log_file_names_are_per_image():
    (unit,) = units(1).units
    names = {log_file_name("20251216_101500", k, unit.tags[k]) for k in KINDS}
    assert len(names) == 4
    assert "build_20251216_101500_dev-0.5.0-0000000-6e67d2d.log" in names


def test_decision_table_and_plan_json_golden(golden):
    specs = [
        spec("id_a_n150", "25305db", "6e67d2d"),
        spec("id_b_n150", "v0.61.1-rc1", "5cbc982"),
        spec("id_c_t3k", "ae65ee5", "35f023f"),
        spec("id_media", "e95ffa5", None, image="ghcr.io/tenstorrent/tt-media-inference-server:0.4.0-e95ffa5"),
    ]
    sel = work_units(specs, ubuntu_version="22.04")
    u0, u1, u2 = sel.units
    remote = {u.tags[k]: False for u in (u0, u1, u2) for k in ("dev", "release")}
    remote[u0.tags["dev"]] = True
    remote[u2.tags["cloud"]] = False
    observed = Observed(local={"local": frozenset({u1.tags["cloud"]})}, remote=remote)
    plan = plan_builds(sel, BuildFlags(release=True, push=True), observed)
    assert plan.missing == (u0.tags["cloud"], u1.tags["cloud"])  # u1's local cloud: push it?
    remote.update({u0.tags["cloud"]: True, u1.tags["cloud"]: False})
    plan = plan_builds(sel, BuildFlags(release=True, push=True), Observed(observed.local, remote))
    assert plan.missing == ()
    golden.check("build_decision_table.txt", decision_table(plan))
    golden.check("build_plan.json", json.dumps(plan_json(plan), indent=2) + "\n")


def test_units_are_values_equal_by_content():
    (unit,) = units(1).units
    (again,) = units(1).units
    assert unit == again
    assert unit.combination_id == "0000000-6e67d2d"
    assert units(1, vllm="7777777").units[0] != unit


PURE_BUILD_MODULES = [
    "release.build",
    "release.build.units",
    "release.build.plan",
    "release.build.result",
    "release.build.report",
    "release.catalogue",
]


@pytest.mark.parametrize("module", PURE_BUILD_MODULES)
def test_planner_and_report_import_no_io(module):
    import subprocess
    import sys

    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    io = {"requests", "docker", "urllib3", "subprocess", "release.registry", "release.docker_engine", "release.git"}
    assert not (loaded & io), f"{module} pulls in {sorted(loaded & io)}"


def test_progress_board_shows_each_engine_and_keeps_milestones():
    from release.build.report import ProgressBoard, progress_line

    board = ProgressBoard(["e1", "unix:///tmp/x.sock"])
    assert board.update(BuildEvent("e1", "25305db-6e67d2d", "", "unit", "builds: cloud, dev")) is not None
    assert board.update(BuildEvent("e1", "25305db-6e67d2d", "cloud", "start", "ref")) is None
    assert board.update(BuildEvent("e1", "25305db-6e67d2d", "cloud", "line", "Step 2/4 : ARG X")) is None
    kept = board.update(BuildEvent("e1", "25305db-6e67d2d", "cloud", "built", "ref in 1.0s"))
    assert kept == "[e1] 25305db-6e67d2d cloud: built ref in 1.0s"
    assert board.lines() == [
        "e1      25305db-6e67d2d cloud: Step 2/4 : ARG X",
        "x.sock  idle",
    ]
    board.update(BuildEvent("e1", "25305db-6e67d2d", "", "done", "finished in 2.0s"))
    assert board.lines()[0].endswith("idle")
    assert progress_line(BuildEvent("e1", "u", "dev", "failed", "boom")) == "[e1] u dev: FAILED boom"


def test_progress_lines_are_short_and_the_details_stay_in_the_build_log():
    from release.build.report import engine_label, progress_line

    sock = "unix:///tmp/dk-demo-r9mx5ct0/docker.sock"
    assert engine_label(sock) == "dk-demo-r9mx5ct0" and engine_label("unix:///var/run/docker.sock") == "local"
    assert engine_label("tcp://10.0.0.5:2376") == "10.0.0.5" and engine_label("ssh://me@builder-2") == "builder-2"
    ref = "127.0.0.1:39725/tenstorrent/tt-inference-server/vllm-tt-metal-src-cloud-ubuntu-22.04-amd64:0.6.0-e95ffa5-48eba14"
    digest = "sha256:ce26b9f1476e2f155cf62fddaa9e0647a00cfa6808c10570b891b25376ae6273"
    lines = [
        progress_line(BuildEvent(sock, "e95ffa5-48eba14", "cloud", "built", f"{ref} in 5.0s")),
        progress_line(BuildEvent(sock, "e95ffa5-48eba14", "cloud", "pushed", f"{ref}@{digest}")),
        progress_line(BuildEvent(sock, "e95ffa5-48eba14", "cloud", "line", 'Step 7/7 : LABEL a="1" b="2" c="3"')),
        progress_line(BuildEvent(sock, "e95ffa5-48eba14", "", "done", "in 7.8s")),
    ]
    assert lines == [
        "[dk-demo-r9mx5ct0] e95ffa5-48eba14 cloud: built 0.6.0-e95ffa5-48eba14 in 5.0s",
        "[dk-demo-r9mx5ct0] e95ffa5-48eba14 cloud: pushed 0.6.0-e95ffa5-48eba14@sha256:ce26b9f1476e",
        "[dk-demo-r9mx5ct0] e95ffa5-48eba14 cloud: step 7/7",
        "[dk-demo-r9mx5ct0] e95ffa5-48eba14: done in 7.8s",
    ]
    assert progress_line(BuildEvent(sock, "u", "cloud", "line", " ---> Running in 1234")) is None


def test_build_summary_and_result_table_golden(tmp_path, monkeypatch, golden):
    monkeypatch.chdir(tmp_path)
    ticks = itertools.count()
    sel = work_units(
        [spec("id_a_n150", "25305db", "6e67d2d"), spec("id_b_t3k", "v0.61.1-rc1", "5cbc982")],
        ubuntu_version="22.04",
    )
    remote = {u.tags[k]: False for u in sel.units for k in KINDS}
    remote[sel.units[1].tags["dev"]] = True
    plan = plan_builds(sel, BuildFlags(push=True), Observed({}, remote))

    engine = FakeEngine("builder-1")
    result = apply_builds(
        plan,
        engines={"builder-1": engine},
        registry=FakeRegistry(engines=(engine,)),  # present once pushed
        recipe=StaticRecipe(),
        resolver=SameSha(),
        log_dir=Path("workflow_logs/docker_build_logs"),
        timestamp="20251216_101500",
        clock=lambda: float(next(ticks)),
    )
    summary = build_summary(result, timestamp="20251216_101500", recipe="offline")
    golden.check("build_summary.json", json.dumps(summary, indent=2) + "\n")
    golden.check("build_result_table.txt", result_table(result))
    log = Path(summary["combinations"][0]["images"]["cloud"]["log_file"]).read_text()
    assert "# --build-arg TT_METAL_COMMIT_SHA_OR_TAG=25305db000" in log and "Step 1/1" in log
