"""Promotion: pure planning (tables), version decisions, and `inv images.promote` end to end on real registries."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from release.config import Config
from release.errors import InputError, TagConflict
from release.imageref import ImageRef
from release.images import promotion, promotion_report, promotion_run
from release.last_good_file import parse_last_good
from release.version import Version
from tests.builders import last_good_record
from tests.cli import run_inv
from tests.conftest import REPO_ROOT
from tests.services.registry import Registry, Seeder, random_layer, skopeo_digest
from workflows.model_spec import load_catalogue

MINI = REPO_ROOT / "tests" / "data" / "promote" / "model_specs.toml"
CI_REPO = "tenstorrent/tt-shield/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"
DEV_REPO = "tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"
MEDIA = "tenstorrent/tt-media-inference-server:0.5.0-e95ffa59adbe39237525161272141cbbb603c686"
TM_A = "aaaaaaa" + "0" * 33
D = {n: "sha256:" + f"{n:x}" * 64 for n in range(1, 10)}

# ----------------------------------------------------------------------------------------- pure planning


_record = last_good_record


def parsed(name: str, doc: dict) -> tuple[str, dict]:
    return name, parse_last_good(doc, source=name)


def test_merge_last_good_later_files_win() -> None:
    a = {"m1": _record(f"ghcr.io/{CI_REPO}:0.0.5-a-1111111-1", 1), "m2": _record("ghcr.io/x/y:1", 1), "m3": {}}
    b = {"m1": _record(f"ghcr.io/{CI_REPO}:0.0.5-a-1111111-2", 2), "m2": {}, "m3": _record("Bad Ref"),
         "m4": _record(None)}  # fmt: skip
    docs = [parsed("a.json", a), parsed("b.json", b)]
    merged = promotion.merge_last_good(docs, registry_map=[("ghcr.io", "127.0.0.1:1")])
    assert merged["m1"].file == "b.json" and merged["m1"].run_number == 2
    assert merged["m1"].image is not None and merged["m1"].image.registry == "127.0.0.1:1"
    assert merged["m2"].file == "a.json"  # an empty record does not erase an earlier one
    assert merged["m3"].problem and "not an image reference" in merged["m3"].problem
    assert merged["m4"].problem == "the CI record has no docker_image"  # a passing run without an image: §5.4


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (["not", "an", "object"], "c.json: expected a JSON object of model_id → record, got a list"),
        ({"m": _record(5)}, "c.json: m.docker_image: expected a string or null, got a number"),  # not docker.io/…/5
        ({"m": {"docker_image": "ghcr.io/x/y:1"}}, "c.json: m.tt_metal_commit: missing"),
        ({"m": _record("ghcr.io/x/y:1", ci_run_number=None)}, "c.json: m.ci_run_number: expected an integer, got null"),
    ],
)
def test_last_good_files_promotion_refuses(tmp_path: Path, doc: object, message: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        promotion_run.read_last_good([path])
    assert str(err.value) == message.replace("c.json", str(path))


def _ci(tm: str, vllm: str | None, job: int) -> str:
    return f"ghcr.io/{CI_REPO}:0.0.5-{tm}-{vllm}-{job}" if vllm else f"ghcr.io/{CI_REPO}:0.0.5-{tm}-{job}"


def mini_world() -> tuple[list[promotion.Target], dict[str, promotion.CiSource], promotion.Observed]:
    """The mini catalogue at 0.6.0 with hand-made CI records and registry contents."""
    cat = load_catalogue(MINI, version="0.6.0")
    tgts = promotion.targets(cat.specs.values(), mode="dev")
    dst = {t.model_id.split("_")[2]: t.dst for t in tgts}
    last_good = {
        "id_tt-transformers_Alpha-8B_n150": _record(_ci(TM_A, "1111111", 100)),
        "id_tt-transformers_Alpha-8B_n300": _record(_ci(TM_A, "1111111", 101), 237),
        "id_tt-transformers_Gamma-70B_t3k": _record(_ci("v0.61.1-rc1", "2222222", 102)),
        "id_tt-transformers_Epsilon-3B_n150": _record(_ci("0123456789", "4444444", 103)),
        "id_tt-transformers_Zeta-7B_n150": _record(_ci("ddddddd", "5555555", 105)),
        "id_tt-transformers_Theta-2B_n150": _record(_ci("fffffff", "7777777", 106)),
        "id_tt-transformers_Iota-1B_n150": _record(_ci("9999999", "8888888", 107)),
    }
    sources = promotion.merge_last_good([parsed("models_ci_last_good_100_to_237.json", last_good)])
    observed = promotion.Observed(
        {
            ImageRef.parse(_ci(TM_A, "1111111", 100)): D[1],
            ImageRef.parse(_ci(TM_A, "1111111", 101)): D[2],
            ImageRef.parse(_ci("v0.61.1-rc1", "2222222", 102)): D[3],
            ImageRef.parse(_ci("0123456789", "4444444", 103)): D[4],
            ImageRef.parse(_ci("ddddddd", "5555555", 105)): D[5],
            ImageRef.parse(_ci("fffffff", "7777777", 106)): D[6],
            dst["Zeta-7B"]: D[5],
            dst["Media-XL"]: D[7],
        }
    )
    return tgts, sources, observed


def test_plan_decides_every_case() -> None:
    tgts, sources, observed = mini_world()
    plan = promotion.plan_promotion(tgts, sources, observed, mode="dev", version="0.6.0")
    by_tag = {s.dst.tag: s for s in plan.steps}
    shared = by_tag["0.6.0-aaaaaaa-1111111"]
    # the newest run (237) wins among the models sharing the destination
    assert isinstance(shared, promotion.Copy) and shared.digest == D[2] and len(shared.models) == 4
    assert shared.alternatives == (_ci(TM_A, "1111111", 100),)
    assert isinstance(by_tag["0.6.0-v0.61.1-rc1-2222222"], promotion.Copy)
    delta = by_tag["0.6.0-bbbbbbb-3333333"]
    assert isinstance(delta, promotion.NeedsBuild) and "no Models CI record" in delta.reasons[0][1]
    eps = by_tag["0.6.0-ccccccc-4444444"]
    assert isinstance(eps, promotion.NeedsBuild) and "tt-metal commit differs" in eps.reasons[0][1]
    media = by_tag["0.5.0-e95ffa59adbe39237525161272141cbbb603c686"]  # the version in it is not rewritten
    assert isinstance(media, promotion.Skip) and media.src is None
    zeta = by_tag["0.6.0-ddddddd-5555555"]
    assert isinstance(zeta, promotion.Skip) and zeta.src is not None
    assert isinstance(by_tag["0.6.0-fffffff-7777777"], promotion.Copy)
    iota = by_tag["0.6.0-9999999-8888888"]
    assert isinstance(iota, promotion.NeedsBuild) and "not found" in iota.reasons[0][1]
    assert len(plan.steps) == 8


def test_plan_conflict_when_destination_has_another_digest() -> None:
    tgts, sources, observed = mini_world()
    gamma = next(t.dst for t in tgts if "Gamma" in t.model_id)
    observed = promotion.Observed({**observed.digests, gamma: D[9]})
    plan = promotion.plan_promotion(tgts, sources, observed, mode="dev", version="0.6.0")
    (conflict,) = plan.conflicts
    assert conflict.dst == gamma and conflict.dst_digest == D[9] and conflict.src_digest == D[3]


def test_reads_needed_reads_the_least_first() -> None:
    """Round by round: the destination with the newest CI image, then the others only when they can matter."""
    tgts, sources, _ = mini_world()
    alpha = next(g for g in promotion.group_targets(tgts) if len(g.members) == 4)
    newest, older = ImageRef.parse(_ci(TM_A, "1111111", 101)), ImageRef.parse(_ci(TM_A, "1111111", 100))
    assert promotion.usable_images(alpha, sources) == [newest, older]
    seen = promotion.Observed
    assert promotion.reads_needed(alpha, sources, seen({})) == [alpha.dst, newest]
    assert promotion.reads_needed(alpha, sources, seen({alpha.dst: D[2], newest: D[2]})) == []  # holds the newest
    assert promotion.reads_needed(alpha, sources, seen({alpha.dst: D[9], newest: D[2]})) == [older]  # conflict?
    assert promotion.reads_needed(alpha, sources, seen({alpha.dst: None, newest: D[2]})) == [older]  # alternatives
    assert promotion.reads_needed(alpha, sources, seen({alpha.dst: None, newest: D[2], older: D[1]})) == []
    delta = next(g for g in promotion.group_targets(tgts) if "Delta" in g.models[0])  # no CI record
    assert promotion.reads_needed(delta, sources, seen({})) == [delta.dst]
    assert promotion.reads_needed(delta, sources, seen({delta.dst: None})) == []
    eps = next(g for g in promotion.group_targets(tgts) if "Epsilon" in g.models[0])  # other commits: not read
    assert promotion.reads_needed(eps, sources, seen({})) == [eps.dst]


def test_release_mode_targets_release_images() -> None:
    cat = load_catalogue(MINI, version="0.5.0")
    tgts = promotion.targets(cat.specs.values(), mode="release", registry_map=[("ghcr.io", "127.0.0.1:5000")])
    assert tgts[0].dst.repository.endswith("-release-ubuntu-22.04-amd64")
    assert all(t.dst.registry == "127.0.0.1:5000" for t in tgts)


def test_summary_golden(golden) -> None:
    tgts, sources, observed = mini_world()
    gamma = next(t.dst for t in tgts if "Gamma" in t.model_id)
    observed = promotion.Observed({**observed.digests, gamma: D[9]})
    plan = promotion.plan_promotion(tgts, sources, observed, mode="dev", version="0.6.0")
    outcomes = []
    for step in plan.copies:
        if "fffffff" in str(step.dst):
            outcomes.append(promotion.StepOutcome(step, False, error="GET .../blobs/x → 500: the registry failed"))
        else:
            outcomes.append(promotion.StepOutcome(step, True, step.digest, blobs_mounted=3))
    result = promotion.PromotionResult(plan, tuple(outcomes))
    golden.check("promote/dev_artifacts_summary.md", promotion_report.summary_markdown(result))
    golden.check(
        "promote/dev_artifacts_summary.json", json.dumps(promotion_report.summary_json(result), indent=2) + "\n"
    )
    golden.check("promote/plan_table.txt", promotion_report.plan_table(plan) + "\n")


def test_summary_golden_with_conflicts_kept(golden) -> None:
    """--keep-existing: each conflict is listed with both digests and the decision; the run is not stopped."""
    tgts, sources, observed = mini_world()
    gamma = next(t.dst for t in tgts if "Gamma" in t.model_id)
    observed = promotion.Observed({**observed.digests, gamma: D[9]})
    plan = promotion.plan_promotion(tgts, sources, observed, mode="dev", version="0.6.0", keep_existing=True)
    (kept,) = plan.conflicts
    assert kept.decision == "kept" and not plan.undecided
    result = promotion.PromotionResult(plan, tuple(promotion.StepOutcome(c, True, c.digest) for c in plan.copies))
    assert result.ok
    promotion.check_result(result)  # nothing left to decide: no TagConflict
    data = promotion_report.summary_json(result)
    assert data["conflicts"][0]["decision"] == "kept" and data["conflicts"][0]["dst_digest"] == D[9]
    assert data["conflicts"][0]["src_digest"] == D[3]
    golden.check("promote/dev_artifacts_summary_kept.md", promotion_report.summary_markdown(result))
    golden.check("promote/dev_artifacts_summary_kept.json", json.dumps(data, indent=2) + "\n")
    golden.check("promote/plan_table_kept.txt", promotion_report.plan_table(plan) + "\n")


def test_conflict_message_names_the_flag_and_every_ref() -> None:
    tgts, sources, observed = mini_world()
    gamma = next(t.dst for t in tgts if "Gamma" in t.model_id)
    zeta = next(t.dst for t in tgts if "Zeta" in t.model_id)
    observed = promotion.Observed({**observed.digests, gamma: D[9], zeta: D[8]})
    plan = promotion.plan_promotion(tgts, sources, observed, mode="dev", version="0.6.0")
    with pytest.raises(TagConflict) as e:
        promotion.check_result(promotion.PromotionResult(plan, ()))
    first, *lines = str(e.value).splitlines()
    assert "--keep-existing" in first and "never moves a tag" in first and e.value.exit_code == 3
    assert [line.split()[0] for line in lines] == [str(gamma), str(zeta)]
    assert all(" has sha256:" in line and ", CI image " in line for line in lines)


# -------------------------------------------------------------------------------------- version decisions


def test_resolve_version() -> None:
    v = Version.parse("0.5.0")
    fp = promotion.inputs_fingerprint("dev", "minor", [("a.json", b"{}")])
    first = promotion.resolve_version(v, increment="minor", mode="dev", fingerprint=fp, state=None)
    assert str(first.target) == "0.6.0" and first.state is not None
    # interrupted before VERSION was written: resume the same bump
    again = promotion.resolve_version(v, increment="minor", mode="dev", fingerprint=fp, state=first.state)
    assert str(again.target) == "0.6.0" and "resuming" in again.note
    # finished: VERSION is the target; the same arguments do not bump twice
    done = promotion.resolve_version(Version.parse("0.6.0"), increment="minor", mode="dev", fingerprint=fp,
                                     state=dataclasses.replace(first.state, status="done"))  # fmt: skip
    assert str(done.target) == "0.6.0"
    # other inputs: a new bump
    other = promotion.resolve_version(Version.parse("0.6.0"), increment="minor", mode="dev", fingerprint="x",
                                      state=first.state)  # fmt: skip
    assert str(other.target) == "0.7.0"
    assert (
        str(promotion.resolve_version(v, increment="major", mode="dev", fingerprint=fp, state=None).target) == "1.0.0"
    )
    assert (
        str(promotion.resolve_version(v, increment="patch", mode="dev", fingerprint=fp, state=None).target) == "0.5.1"
    )
    assert promotion.resolve_version(v, increment=None, mode="dev", fingerprint=fp, state=None).target == v
    # promote_state.json: one reader; what it cannot read counts as no state (a fresh bump)
    assert promotion.BumpState.parse(json.loads(json.dumps(first.state.to_json()))) == first.state
    for junk in (
        [],
        {"mode": "dev"},
        {**first.state.to_json(), "to_version": "six"},
        {**first.state.to_json(), "status": 1},
    ):
        assert promotion.BumpState.parse(junk) is None


# ------------------------------------------------------------------------------------------ end to end


@dataclass
class World:
    checkout: Path
    registry: Registry
    last_good: Path
    ci: dict[str, str]  # name → CI image digest
    env: dict[str, str]

    def dst(self, tag: str) -> ImageRef:
        return ImageRef.parse(f"{self.registry.host}/{DEV_REPO}:{tag}")

    def run(self, *args: str, env: dict[str, str] | None = None, check: bool = False) -> subprocess.CompletedProcess:
        proc = run_inv("--search-root", str(REPO_ROOT), *args, cwd=self.checkout, env={**self.env, **(env or {})})
        if check and proc.returncode != 0:
            raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def files(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.checkout)): p.read_bytes() for p in self.checkout.rglob("*") if p.is_file()}

    def summary(self) -> dict:
        return json.loads((self.checkout / "release_logs" / "dev_artifacts_summary.json").read_text())


def make_world(tmp_path: Path, reg: Registry, *, host: str | None = None) -> World:
    """A checkout (VERSION 0.5.0, the mini catalogue) and CI images in `reg`, reached as ghcr.io."""
    checkout = tmp_path / "checkout"
    (checkout / "release_logs").mkdir(parents=True)
    (checkout / "VERSION").write_text("0.5.0\n")
    (checkout / "model_specs.toml").write_text(MINI.read_text())
    (checkout / "release.toml").write_text('[paths]\ncatalogue = "model_specs.toml"\n')
    seeder = Seeder(reg.client())
    base = random_layer(4096, "base")
    ci: dict[str, str] = {}

    def ci_image(name: str, tag: str, extra: str, index: bool = False) -> None:
        ref = reg.ref(f"{CI_REPO}:{tag}")
        if index:
            ci[name] = seeder.index(ref, {"amd64": [base, random_layer(1024, extra + "amd")],
                                          "arm64": [base, random_layer(1024, extra + "arm")]}, label=extra)  # fmt: skip
        else:
            ci[name] = seeder.image(ref, [base, random_layer(2048, extra)], label=extra)

    ci_image("alpha", f"0.0.5-{TM_A}-1111111-100", "alpha")
    ci_image("alpha2", f"0.0.5-{TM_A}-1111111-101", "alpha2")
    ci_image("gamma", "0.0.5-v0.61.1-rc1-2222222-102", "gamma")
    ci_image("eps", "0.0.5-0123456789-4444444-103", "eps")
    ci_image("zeta", "0.0.5-ddddddd-5555555-105", "zeta")
    ci_image("theta", "0.0.5-fffffff-7777777-106", "theta", index=True)
    seeder.image(reg.ref(MEDIA), [random_layer(1024, "media")], label="media")
    seeder.client.copy(reg.ref(f"{CI_REPO}:0.0.5-ddddddd-5555555-105"), reg.ref(f"{DEV_REPO}:0.6.0-ddddddd-5555555"))
    last_good = {
        "id_tt-transformers_Alpha-8B_n150": _record(_ci(TM_A, "1111111", 100)),
        "id_tt-transformers_Alpha-8B_n300": _record(_ci(TM_A, "1111111", 101), 237),
        "id_tt-transformers_Beta-8B_n150": {},
        "id_tt-transformers_Gamma-70B_t3k": _record(_ci("v0.61.1-rc1", "2222222", 102)),
        "id_tt-transformers_Epsilon-3B_n150": _record(_ci("0123456789", "4444444", 103)),
        "id_tt-transformers_Zeta-7B_n150": _record(_ci("ddddddd", "5555555", 105)),
        "id_tt-transformers_Theta-2B_n150": _record(_ci("fffffff", "7777777", 106)),
        "id_tt-transformers_Iota-1B_n150": _record(_ci("9999999", "8888888", 107)),
    }
    path = checkout / "release_logs" / "models_ci_last_good_100_to_237.json"
    path.write_text(json.dumps(last_good, indent=2))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RELEASE_REPO_ROOT": str(checkout),
        "RELEASE_REGISTRY_REWRITE": f"ghcr.io={host or reg.host}",
        **reg.env,
    }
    return World(checkout, reg, path, ci, env)


@pytest.fixture
def world(tmp_path: Path, fresh_registry: Registry) -> World:
    return make_world(tmp_path, fresh_registry)


def test_dry_run_writes_nothing(world: World) -> None:
    before_registry, before_files = world.registry.snapshot(), world.files()
    writes_before = len(world.registry.writes_logged())
    proc = world.run("images.promote", str(world.last_good), "--dev", "--increment", "minor", "--dry-run", check=True)
    assert "estimated:" in proc.stdout and "blob mounts" in proc.stdout
    assert "0.6.0-aaaaaaa-1111111" in proc.stdout
    assert world.registry.snapshot() == before_registry
    assert world.files() == before_files
    assert len(world.registry.writes_logged()) == writes_before


def test_dry_run_json_estimates(world: World) -> None:
    proc = world.run(
        "images.promote", str(world.last_good), "--dev", "--increment", "minor", "--dry-run", "--json", check=True
    )
    data = json.loads(proc.stdout)
    assert data["version"] == "0.6.0"
    est = data["estimates"]
    assert {k.rsplit(":", 1)[1] for k in est} == {"0.6.0-aaaaaaa-1111111", "0.6.0-v0.61.1-rc1-2222222",
                                                  "0.6.0-fffffff-7777777"}  # fmt: skip
    assert all(e["uploads"] == 0 and e["mounts"] > 0 for e in est.values())


@pytest.mark.slow
def test_promote_end_to_end_then_rerun_converges(world: World, golden) -> None:
    proc = world.run("images.promote", str(world.last_good), "--dev", "--increment", "minor")
    assert proc.returncode == 0, proc.stderr
    assert (world.checkout / "VERSION").read_text() == "0.6.0\n"
    s = world.summary()
    host = world.registry.host
    assert s["summary"] == {
        "total_to_build": 3, "total_copied": 3, "total_existing_with_ci": 1, "total_existing_without_ci": 1,
        "total_conflicts": 0, "total_failed": 0,
    }  # fmt: skip
    assert (
        s["copied_images"][f"{host}/{DEV_REPO}:0.6.0-aaaaaaa-1111111"] == f"{host}/{CI_REPO}:0.0.5-{TM_A}-1111111-101"
    )
    for name, tag in (("alpha2", "0.6.0-aaaaaaa-1111111"), ("gamma", "0.6.0-v0.61.1-rc1-2222222"),
                      ("theta", "0.6.0-fffffff-7777777")):  # fmt: skip
        assert skopeo_digest(world.dst(tag), world.registry) == world.ci[name]
    # no blob crossed the wire: every layer was mounted
    uploads = [w for w in world.registry.writes_logged() if DEV_REPO in w and (w.startswith("PATCH") or "digest=" in w)]
    assert not uploads
    md = (world.checkout / "release_logs" / "dev_artifacts_summary.md").read_text().replace(host, "ghcr.io")
    golden.check("promote/e2e_dev_artifacts_summary.md", md)

    writes = len(world.registry.writes_logged())
    again = world.run("images.promote", str(world.last_good), "--dev", "--increment", "minor")
    assert again.returncode == 0, again.stderr
    assert "not bumping again" in again.stderr
    assert (world.checkout / "VERSION").read_text() == "0.6.0\n"
    assert len(world.registry.writes_logged()) == writes  # a re-run makes no writes
    s2 = world.summary()
    assert s2["summary"]["total_copied"] == 0 and s2["summary"]["total_existing_with_ci"] == 4


def test_conflict_is_reported_and_nothing_moves(world: World, seeder: Seeder) -> None:
    gamma = world.dst("0.6.0-v0.61.1-rc1-2222222")
    other = Seeder(world.registry.client()).image(gamma, [random_layer(512, "other")], label="other")
    proc = world.run("images.promote", str(world.last_good), "--dev", "--increment", "minor")
    assert proc.returncode == 3
    assert "never moves a tag" in proc.stderr and other in proc.stderr
    assert world.registry.client().digest(gamma) == other
    assert (world.checkout / "VERSION").read_text() == "0.5.0\n"  # not bumped: the run did not succeed
    s = world.summary()
    assert s["conflicts"][0]["dst_digest"] == other and s["summary"]["total_copied"] == 2
    assert "## Conflicts" in (world.checkout / "release_logs" / "dev_artifacts_summary.md").read_text()


def requests_since(reg: Registry, start: int) -> list[str]:
    """The registry's access log after line `start`, without `/v2/` pings (waiting for the log to settle)."""
    seen = -1
    lines = reg.requests_logged()
    while len(lines) != seen:
        seen = len(lines)
        time.sleep(0.1)
        lines = reg.requests_logged()
    return [r for r in lines[start:] if not r.startswith("GET /v2/ ")]


def test_keep_existing_decides_conflicts_then_a_rerun_only_reads(world: World) -> None:
    gamma = world.dst("0.6.0-v0.61.1-rc1-2222222")
    other = Seeder(world.registry.client()).image(gamma, [random_layer(512, "other")], label="other")
    promote = ("images.promote", str(world.last_good), "--dev", "--increment", "minor")
    stopped = world.run(*promote)
    assert stopped.returncode == 3
    first = next(line for line in stopped.stderr.splitlines() if line.startswith("error:"))
    assert "--keep-existing" in first
    assert f"{gamma} has {other}, CI image " in stopped.stderr
    assert (world.checkout / "VERSION").read_text() == "0.5.0\n"
    assert world.summary()["conflicts"][0]["decision"] is None

    decided = world.run(*promote, "--keep-existing")
    assert decided.returncode == 0, decided.stderr
    assert "resuming the bump 0.5.0 → 0.6.0" in decided.stderr
    assert (world.checkout / "VERSION").read_text() == "0.6.0\n"  # bumped once, from the state file
    s = world.summary()
    (conflict,) = s["conflicts"]
    assert (conflict["dst"], conflict["dst_digest"], conflict["src_digest"], conflict["decision"]) == (
        str(gamma),
        other,
        world.ci["gamma"],
        "kept",
    )
    assert s["images"][str(gamma)]["decision"] == "kept" and s["summary"]["total_existing_with_ci"] == 3
    assert world.registry.client().digest(gamma) == other
    assert "decision: kept" in (world.checkout / "release_logs" / "dev_artifacts_summary.md").read_text()

    start = len(world.registry.requests_logged())
    again = world.run(*promote, "--keep-existing")
    assert again.returncode == 0, again.stderr
    assert "not bumping again" in again.stderr and (world.checkout / "VERSION").read_text() == "0.6.0\n"
    done = requests_since(world.registry, start)
    assert [r for r in done if r.split(" ", 1)[0] in ("POST", "PUT", "PATCH", "DELETE")] == []
    destinations = len(s["images"])
    assert len(done) <= 2 * destinations, done
    heads = [r for r in done if r.startswith("HEAD ") and "/manifests/" in r]
    assert len(heads) == len({r.split(" ")[1] for r in heads}) == destinations  # each destination read once


def test_several_last_good_files_later_wins(world: World) -> None:
    extra = world.checkout / "release_logs" / "models_ci_last_good_dispatch_900.json"
    ref = world.registry.ref(f"{CI_REPO}:0.0.5-bbbbbbb-3333333-900")
    delta_digest = Seeder(world.registry.client()).image(ref, [random_layer(512, "delta")], label="delta")
    extra.write_text(json.dumps({"id_tt-transformers_Delta-1B_n150": _record(_ci("bbbbbbb", "3333333", 900), 900)}))
    proc = world.run("images.promote", f"{world.last_good},{extra}", "--dev", "--increment", "minor")
    assert proc.returncode == 0, proc.stderr
    entry = world.summary()["images"][str(world.dst("0.6.0-bbbbbbb-3333333"))]
    assert entry["result"] == "copied" and entry["digest"] == delta_digest
    assert entry["source_file"] == extra.name and entry["ci_run_number"] == 900
    md = (world.checkout / "release_logs" / "dev_artifacts_summary.md").read_text()
    assert f"(`{extra.name}`)" in md


@pytest.mark.slow
def test_kill_9_mid_apply_then_rerun(tmp_path: Path, fresh_registry: Registry, latency_proxy_factory) -> None:
    host, port = fresh_registry.host.split(":")
    proxy = latency_proxy_factory((host, int(port)), 0.05)
    w = make_world(tmp_path, fresh_registry, host=proxy.host)
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "images.promote", str(w.last_good),
         "--dev", "--increment", "minor", "--concurrency", "1"],
        cwd=w.checkout, env=w.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if "copied" in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert (w.checkout / "VERSION").read_text() == "0.5.0\n"
    state = json.loads((w.checkout / "release_logs" / "promote_state.json").read_text())
    assert (state["to_version"], state["status"]) == ("0.6.0", "applying")

    again = w.run("images.promote", str(w.last_good), "--dev", "--increment", "minor")
    assert again.returncode == 0, again.stderr
    assert "resuming the bump 0.5.0 → 0.6.0" in again.stderr
    assert (w.checkout / "VERSION").read_text() == "0.6.0\n"
    s = w.summary()
    assert s["summary"]["total_copied"] + s["summary"]["total_existing_with_ci"] == 4
    assert s["summary"]["total_existing_with_ci"] >= 2  # Zeta, plus what the killed run finished


@pytest.mark.slow
def test_cross_registry_promotion_streams(
    tmp_path: Path, registry: Registry, fresh_registry: Registry, unique_repo: str
) -> None:
    """CI images in one registry, destinations in another: no mount possible, blobs are streamed."""
    w = make_world(tmp_path, fresh_registry)
    # Move the CI records to point at the session registry, where the same CI images are seeded again.
    seeder = Seeder(registry.client())
    base = random_layer(4096, "base")
    src = registry.ref(f"{unique_repo}/{CI_REPO}:0.0.5-{TM_A}-1111111-101")
    digest = seeder.image(src, [base, random_layer(2048, "alpha")], label="alpha")
    lg = json.loads(w.last_good.read_text())
    lg["id_tt-transformers_Alpha-8B_n300"]["docker_image"] = str(src)  # the newest run: chosen
    w.last_good.write_text(json.dumps(lg))
    cfg_dir = tmp_path / "docker"
    cfg_dir.mkdir()
    import base64

    auths = {r.host: {"auth": base64.b64encode(f"{r.username}:{r.password}".encode()).decode()}
             for r in (registry, fresh_registry)}  # fmt: skip
    (cfg_dir / "config.json").write_text(json.dumps({"auths": auths}))
    env = {k: v for k, v in w.env.items() if not k.startswith("REGISTRY_")}
    # The second registry must be an allowed source: CI records naming any other host are refused.
    w.env = {
        **env,
        "DOCKER_CONFIG": str(cfg_dir),
        "RELEASE_SOURCE_REGISTRIES": f"ghcr.io/tenstorrent/,{registry.host}/",
    }
    proc = w.run("images.promote", str(w.last_good), "--dev", "--increment", "minor")
    assert proc.returncode == 0, proc.stderr
    dst = w.dst("0.6.0-aaaaaaa-1111111")
    assert skopeo_digest(dst, fresh_registry) == digest
    assert any("digest=" in r for r in fresh_registry.writes_logged())  # streamed uploads happened


def test_wrong_credentials(world: World) -> None:
    proc = world.run("images.promote", str(world.last_good), "--dev", "--increment", "minor",
                     env={"REGISTRY_PASSWORD": "wrong-password-123"})  # fmt: skip
    assert proc.returncode == 2
    assert "rejected the credentials" in proc.stderr and "wrong-password-123" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("text", ["0.5\n", "v0.5.0\n", "banana\n"])
def test_bad_version(world: World, text: str) -> None:
    (world.checkout / "VERSION").write_text(text)
    before = world.registry.snapshot()
    proc = world.run("images.promote", str(world.last_good), "--dev", "--increment", "minor")
    assert proc.returncode == 2
    assert "is not a MAJOR.MINOR.PATCH version" in proc.stderr and "Traceback" not in proc.stderr
    assert world.registry.snapshot() == before


def test_flags_are_checked(world: World) -> None:
    assert world.run("images.promote", str(world.last_good)).returncode == 2
    proc = world.run("images.promote", str(world.last_good), "--dev", "--increment", "huge")
    assert proc.returncode == 2 and "major, minor or patch" in proc.stderr
    proc = world.run("images.promote", "missing.json", "--dev")
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_in_process_dry_run_counts_no_writes(world: World) -> None:
    from release import wiring

    cfg = Config.from_env(world.env, path=world.checkout / "release.toml", repo_root=world.checkout)
    client = wiring.registry_client(cfg)
    prep = promotion_run.prepare(cfg, files=[world.last_good], mode="dev", increment="minor")
    promotion_run.estimate(promotion_run.plan_only(prep, client), client)
    assert client.stats.writes == 0 and client.stats.total > 0


def test_release_mode_json_and_resolving_a_conflict(world: World) -> None:
    """--release without --increment: VERSION stays; a conflict blocks until the tag is deleted, then converges."""
    rel = ImageRef.parse(f"{world.registry.host}/{DEV_REPO.replace('-dev-', '-release-')}:0.5.0-v0.61.1-rc1-2222222")
    other = Seeder(world.registry.client()).image(rel, [random_layer(512, "stale")], label="stale")
    proc = world.run("images.promote", str(world.last_good), "--release", "--json")
    assert proc.returncode == 3
    data = json.loads(proc.stdout)
    assert data["mode"] == "release" and data["version"] == "0.5.0" and data["conflicts"][0]["dst_digest"] == other
    assert (world.checkout / "release_logs" / "release_artifacts_summary.md").exists()
    # someone checks the stale tag and deletes it; the same command then converges
    resp = world.registry.raw_delete(f"/v2/{rel.repository}/manifests/{other}")
    assert resp.status_code == 202
    proc = world.run("images.promote", str(world.last_good), "--release", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["summary"]["total_conflicts"] == 0 and data["summary"]["total_copied"] == 1
    assert world.registry.client().digest(rel) == world.ci["gamma"]
    assert (world.checkout / "VERSION").read_text() == "0.5.0\n"


def test_progress_bar_lines_without_a_terminal() -> None:
    import io

    from release.progress import CopyProgress

    out = io.StringIO()
    bar = CopyProgress(2, stream=out)
    bar({"event": "blob", "how": "uploaded", "size": 10})
    bar({"event": "done", "dst": "r/a:1"})
    bar({"event": "failed", "dst": "r/b:1", "error": "boom"})
    bar.close()
    assert out.getvalue().splitlines() == ["[1/2] copied a:1", "[2/2] FAILED b:1", "  boom"]


def test_planning_and_rendering_import_no_io() -> None:
    code = (
        "import sys, release.images.promotion, release.images.promotion_report\n"
        "io = ('requests', 'docker', 'subprocess', 'urllib3', 'release.registry', 'release.wiring')\n"
        "bad = [m for m in io if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_a_small_promotion_stays_within_the_request_budget(token_registry, unique_repo: str) -> None:
    """The plan's cost, counted in the registry's access log: per destination one HEAD, per manifest one GET and
    one PUT, per blob (once per destination repository) one mount; nothing uploaded. Budget: one request per blob
    + two per manifest + two per destination."""
    reg, _ = token_registry
    seeder = Seeder(reg.client())
    base = random_layer(4096, "budget-base")
    ci_repo, dev_repo = f"{unique_repo}/ci", f"{unique_repo}/dev"
    tgts, sources = [], {}
    manifests = blobs = 0
    distinct: set[bytes] = set()
    for n, tm in enumerate(("aaaaaaa", "bbbbbbb", "ccccccc")):
        src = reg.ref(f"{ci_repo}:0.0.5-{tm}-1111111-{n}")
        own = [random_layer(1024, f"{unique_repo}{n}{i}") for i in range(2)]
        if n == 2:  # an index of two images sharing the base layer
            seeder.index(src, {"amd64": [base, own[0]], "arm64": [base, own[1]]}, label=f"{unique_repo}{n}")
            manifests, blobs = manifests + 3, blobs + 6
            distinct.update([base, *own, b"config-amd64", b"config-arm64"])
        else:
            seeder.image(src, [base, *own], label=f"{unique_repo}{n}")
            manifests, blobs = manifests + 1, blobs + 4
            distinct.update([base, *own, f"config-{n}".encode()])
        model = f"id_m{n}"
        tgts.append(promotion.Target(model, reg.ref(f"{dev_repo}:0.6.0-{tm}-1111111"), tm, "1111111"))
        sources[model] = promotion.CiSource(model, src, "lg.json", run_number=n)
    start = len(reg.requests_logged())
    client = reg.client()
    result = promotion_run.promote(promotion.Promotion(tuple(tgts), sources, "dev", "0.6.0"), client)
    assert result.ok and len(result.outcomes) == 3 and not result.unconverged
    done = [r for r in requests_since(reg, start) if f"/v2/{unique_repo}/" in r]
    by_method = {m: sum(r.startswith(f"{m} ") for r in done) for m in ("HEAD", "GET", "POST", "PUT", "PATCH")}
    assert by_method == {"HEAD": 3, "GET": manifests, "POST": len(distinct), "PUT": manifests, "PATCH": 0}
    assert all("mount=" in r for r in done if r.startswith("POST"))
    assert client.stats.bytes_uploaded == 0
    assert len(done) <= blobs + 2 * manifests + 2 * len(tgts)
    assert sum(o.bytes_uploaded for o in result.outcomes) == 0
