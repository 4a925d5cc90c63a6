"""`inv images.build` against real services: private dockerd engines (vfs), the htpasswd registry, a git origin
standing in for tt-metal. Images are tiny (the offline recipe: FROM scratch, a file and labels)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from release.build.apply import apply_builds
from release.build.observe import observe_and_plan
from release.build.plan import BuildFlags, BuildPlan
from release.build.recipes import DOCKERFILES, OfflineRecipe, RealRecipe
from release.build.report import engine_label
from release.build.result import BuildEvent, BuildResult
from release.build.tt_metal import CommitResolver, checkout
from release.build.units import work_units
from release.docker_engine import DockerEngine
from release.errors import BuildError, DockerEngineError
from release.fsio import open_log
from release.git import Git
from release.imageref import ImageRef
from tests.builders import catalogue_toml, device, template
from tests.cli import run_inv
from tests.services.dockerd import Dockerd
from tests.services.registry import Registry, random_layer
from tests.services.tt_metal_origin import Origin
from tests.spec_stubs import REL, Spec

ROOT = Path(__file__).resolve().parent.parent
_versions = itertools.count(1)


def specs_for(version: str, *pairs: tuple[str, str]) -> list[Spec]:
    return [
        Spec(f"id_m{i}_n150", tm, vllm, f"{REL}:{version}-{tm[:12]}-{vllm[:12]}") for i, (tm, vllm) in enumerate(pairs)
    ]


def fresh_version() -> str:
    return f"9.{next(_versions)}.{os.getpid() % 1000}"


# ------------------------------------------------------------------------------------------------ git origin


@pytest.fixture
def origin(tt_metal_origin: Origin) -> Origin:
    return tt_metal_origin


def resolver_for(origin: Origin, tmp_path: Path) -> CommitResolver:
    return CommitResolver(Git, url=origin.url, cache_dir=tmp_path / "cache" / "tt-metal.git")


def test_resolver_full_sha_tags_branches_and_short_shas(origin, tmp_path):
    r = resolver_for(origin, tmp_path)
    assert r.resolve(origin.commits[0].upper()) == origin.commits[0]
    assert r.resolve("v0.61.1-rc1") == origin.commits[1]
    assert r.resolve("v0.62.0-rc33") == origin.commits[2]  # annotated: the peeled commit, not the tag object
    assert r.resolve("stable") == origin.commits[2]
    assert r.resolve(origin.short(0)) == origin.commits[0]  # not the look-alike tag x<short>
    assert r.resolve(origin.commits[3][:10]) == origin.commits[3]


@pytest.mark.parametrize("ref", ["0000000", "no-such-tag", "-upload-pack=evil", "v0.61"])
def test_resolver_refuses_what_it_cannot_resolve_exactly(origin, tmp_path, ref):
    with pytest.raises(BuildError, match="full commit SHA|not a commit"):
        resolver_for(origin, tmp_path).resolve(ref)


def test_checkout_of_a_full_sha(origin, tmp_path):
    with checkout(Git, url=origin.url, sha=origin.commits[1], parent=tmp_path) as tree:
        assert (tree / "VERSION.txt").read_text() == "tt-metal 1\n"
        assert (tree / "dockerfile" / "Dockerfile").is_file()
    assert not tree.exists()


# ------------------------------------------------------------------------------------------------ harness


def engine(d: Dockerd, registry: Registry, name: str) -> DockerEngine:
    return DockerEngine(d.url, name=name, credentials=registry.keychain().resolve)


@dataclass
class Harness:
    registry: Registry
    origin: Origin
    tmp: Path

    def select(self, specs: list[Spec], **kw: object):  # type: ignore[no-untyped-def]
        return work_units(specs, ubuntu_version="22.04", registry_map=(("ghcr.io", self.registry.host),), **kw)  # type: ignore[arg-type]

    def plan(self, specs: list[Spec], engines: dict[str, DockerEngine], **flags: bool) -> BuildPlan:
        client = CountingRegistry(self.registry.client())
        plan = observe_and_plan(self.select(specs), BuildFlags(**flags), engines=engines, registry=client)
        self.last_requests = client.count
        return plan

    def run(
        self,
        specs: list[Spec],
        engines: dict[str, DockerEngine],
        *,
        recipe: OfflineRecipe | RealRecipe | None = None,
        jobs: int = 1,
        hook: Callable[[BuildEvent], None] | None = None,
        **flags: bool,
    ) -> BuildResult:
        plan = self.plan(specs, engines, **flags)
        self.events: list = []

        def on_event(event: BuildEvent) -> None:
            self.events.append(event)
            if hook is not None:
                hook(event)

        return apply_builds(
            plan,
            engines=engines,
            registry=self.registry.client(),
            recipe=recipe or OfflineRecipe(),
            resolver=resolver_for(self.origin, self.tmp),
            log_dir=self.tmp / "logs",
            timestamp="20260101_000000",
            open_log=open_log,
            jobs=jobs,
            on_event=on_event,
        )


class CountingRegistry:
    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.count = 0

    def digest(self, ref: ImageRef) -> str | None:
        self.count += 1
        return self.client.digest(ref)


@pytest.fixture
def kit(registry, origin, tmp_path) -> Harness:
    return Harness(registry, origin, tmp_path)


def built(result: BuildResult) -> list[tuple[str, ...]]:
    return [tuple(k for k, img in u.images.items() if img.build_succeeded) for u in result.units]


def pushed(result: BuildResult) -> list[tuple[str, ...]]:
    return [tuple(k for k, img in u.images.items() if img.pushed) for u in result.units]


def labels(d: Dockerd, ref: str) -> dict[str, str]:
    return d.client().inspect_image(ref)["Config"]["Labels"] or {}


# ------------------------------------------------------------------------------------------------ chains


@pytest.mark.slow
def test_chain_builds_pushes_verifies_digests_and_converges(kit, dockerd, registry, origin):
    e1 = {"e1": engine(dockerd, registry, "e1")}
    specs = specs_for(fresh_version(), (origin.short(0), "6e67d2d"), ("v0.62.0-rc33", "5cbc982"))
    result = kit.run(specs, e1, push=True)
    assert not result.failures, result.failure_lines()
    assert built(result) == [("base", "cloud", "dev")] * 2
    assert pushed(result) == [("cloud", "dev")] * 2
    client = registry.client()
    for unit in result.units:
        for kind in ("cloud", "dev"):
            image = unit.images[kind]
            assert image.digest == client.digest(ImageRef.parse(image.ref))
            assert image.digest == e1["e1"].repo_digest(image.ref)
            assert Path(image.log_file or "").read_text().count("Step ") >= 2
        cloud = labels(dockerd, unit.images["cloud"].ref)
        assert cloud["org.tenstorrent.release.tt-metal-commit"] == unit.tt_metal_sha
        assert cloud["org.tenstorrent.release.vllm-commit"] == unit.plan.unit.vllm_commit
        assert labels(dockerd, unit.images["dev"].ref)["org.tenstorrent.release.kind"] == "dev"
    assert [u.tt_metal_sha for u in result.units] == [origin.commits[0], origin.commits[2]]
    # converged: a second plan has nothing to do, and asks the registry nothing (every dev is on the engine)
    again = kit.plan(specs, e1)
    assert again.work == () and kit.last_requests == 0

    # --release: cloud is on the engine, so only release is built, then pushed and verified
    rel = kit.run(specs, e1, push=True, release=True)
    assert built(rel) == [("release",)] * 2 and pushed(rel) == [("release",)] * 2
    for unit in rel.units:  # the release image is an image of its own, not the dev image under another name
        assert labels(dockerd, unit.images["release"].ref)["org.tenstorrent.release.kind"] == "release"
        dev_ref = next(u for u in result.units if u.plan.unit == unit.plan.unit).images["dev"].ref
        assert unit.images["release"].digest != e1["e1"].repo_digest(dev_ref)
    # --force-build rebuilds the chain but never moves a registry tag
    forced = kit.run(specs[:1], e1, push=True, force_build=True, release=True)
    assert built(forced) == [("base", "cloud", "dev", "release")] and pushed(forced) == [()]


@pytest.mark.slow
def test_rows_on_a_fresh_engine_registry_answers_pull_and_fresh_release_chain(kit, dockerd, dockerd2, registry, origin):
    e1 = {"e1": engine(dockerd, registry, "e1")}
    e2 = {"e2": engine(dockerd2, registry, "e2")}
    specs = specs_for(fresh_version(), (origin.short(1), "7a9b86f"))
    first = kit.run(specs, e1, push=True)
    assert built(first) == [("base", "cloud", "dev")]
    dev_ref = first.units[0].images["dev"].ref

    # dev in the registry, nothing on engine 2: nothing to do, one registry request
    plan = kit.plan(specs, e2)
    assert plan.work == () and kit.last_requests == 1

    # dev gone from the registry, cloud still there: engine 2 pulls cloud (with credentials) and builds dev
    ref = ImageRef.parse(dev_ref)
    digest = registry.client().digest(ref)

    deleted = requests.delete(
        f"http://{registry.host}/v2/{ref.repository}/manifests/{digest}",
        auth=(registry.username, registry.password),
        timeout=10,
    )
    assert deleted.status_code == 202
    pulled = kit.run(specs, e2, push=True)
    assert not pulled.failures, pulled.failure_lines()
    assert built(pulled) == [("dev",)] and pushed(pulled) == [("dev",)]
    assert any(e.phase == "pulling" for e in kit.events)

    # --release on an engine without a local cloud: a fresh chain (base, cloud, release); dev exists, so it is
    # not rebuilt; cloud exists in the registry, so it is not pushed
    e2_fresh = kit.plan(specs, e2, push=True, release=True)
    unit = e2_fresh.units[0]
    assert unit.builds == ("release",)  # cloud was pulled onto engine 2 above
    dockerd2.client().remove_image(unit.images["cloud"].ref, force=True)
    rel = kit.run(specs, e2, push=True, release=True)
    assert built(rel) == [("base", "cloud", "release")] and pushed(rel) == [("release",)]


@pytest.mark.slow
def test_a_failing_unit_is_recorded_and_the_others_finish(kit, dockerd, registry, origin, tmp_path):
    recipe_dir = tmp_path / "recipe"
    recipe_dir.mkdir()
    for name in ("base.Dockerfile", "dev.Dockerfile", "release.Dockerfile", "README.txt"):
        (recipe_dir / name).write_bytes((DOCKERFILES / "offline" / name).read_bytes())
    (recipe_dir / "cloud.Dockerfile").write_text(
        (DOCKERFILES / "offline" / "cloud.Dockerfile").read_text()
        + "COPY vllm/${TT_VLLM_COMMIT_SHA_OR_TAG} /opt/vllm-commit\n"
    )
    (recipe_dir / "vllm").mkdir()
    (recipe_dir / "vllm" / "1111111").write_text("ok\n")
    specs = specs_for(
        fresh_version(),
        (origin.short(2), "1111111"),  # builds
        (origin.short(3), "2222222"),  # the cloud Dockerfile fails (no vllm/2222222)
        ("0000000", "1111111"),  # tt-metal commit that does not exist
    )
    e1 = {"e1": engine(dockerd, registry, "e1")}
    result = kit.run(specs, e1, recipe=OfflineRecipe(recipe_dir), push=True)
    ok, bad_dockerfile, bad_commit = result.units
    assert ok.success and built(result)[0] == ("base", "cloud", "dev") and pushed(result)[0] == ("cloud", "dev")
    assert not bad_dockerfile.success and "cloud" in (bad_dockerfile.error or "")
    assert bad_dockerfile.images["cloud"].build_succeeded is False
    assert not bad_dockerfile.images["dev"].build_attempted  # the chain stops at its first failure
    assert "vllm/2222222" in Path(bad_dockerfile.images["cloud"].log_file or "").read_text()
    assert not bad_commit.success and "0000000" in (bad_commit.error or "")
    assert len(result.failure_lines()) == 2


@pytest.mark.slow
def test_units_spread_over_two_engines_and_a_group_stays_on_one(kit, dockerd, dockerd2, registry, origin):
    engines = {"e1": engine(dockerd, registry, "e1"), "e2": engine(dockerd2, registry, "e2")}
    specs = specs_for(
        fresh_version(),
        # commits spelled as no other test spells them: no engine holds their base image yet
        (origin.commits[0][:9], "aaaaaaa"),
        (origin.commits[0][:9], "bbbbbbb"),  # same tt-metal commit: same engine, base built once
        (origin.commits[1][:9], "ccccccc"),
        (origin.commits[2][:9], "ddddddd"),
    )
    result = kit.run(specs, engines)
    assert not result.failures, result.failure_lines()
    assert {u.engine for u in result.units} == {"e1", "e2"}
    assert result.units[0].engine == result.units[1].engine
    assert result.units[0].images["base"].build_succeeded
    assert not result.units[1].images["base"].build_attempted  # shared with unit 0
    assert result.units[1].images["cloud"].build_succeeded


@pytest.mark.slow
def test_a_tag_pushed_after_planning_is_never_moved(kit, dockerd, registry, seeder, origin):
    """The plan saw the dev tag absent; someone pushes it while the chain builds: the push is refused (exit 3)."""
    e1 = {"e1": engine(dockerd, registry, "e1")}
    specs = specs_for(fresh_version(), (origin.short(0), "3c3c3c3"))
    theirs: list[str] = []

    def push_theirs(event: BuildEvent) -> None:
        if event.kind == "dev" and event.phase == "built":
            ref = ImageRef.parse(event.message.split()[0])
            theirs.append(seeder.image(ref, [random_layer(64)]))

    result = kit.run(specs, e1, push=True, hook=push_theirs)
    (unit,) = result.units
    assert unit.conflict and not unit.success
    dev = unit.images["dev"]
    assert dev.build_succeeded and not dev.pushed
    assert (
        dev.ref in (unit.error or "") and theirs[0] in (unit.error or "") and "refusing to move" in (unit.error or "")
    )
    assert registry.client().digest(ImageRef.parse(dev.ref)) == theirs[0]  # still theirs
    assert unit.images["cloud"].pushed  # pushed before the dev tag appeared


def test_unreachable_engine_is_one_advice_error(tmp_path):
    dead = DockerEngine(f"unix://{tmp_path}/nothing.sock", name="dead")
    with pytest.raises(DockerEngineError, match="dead is unreachable.*start dockerd"):
        dead.ping()


# ------------------------------------------------------------------------------------------------ the task


def small_catalogue(tm0: str, tm1: str) -> str:
    return catalogue_toml(
        template("meta-llama/Llama-3.2-1B-Instruct", tt_metal=tm0, vllm="35f023f", status="FUNCTIONAL"),
        template("Qwen/Qwen3-8B", tt_metal=tm1, vllm="48eba14", devices=("N300",)),
        template("openai/whisper-large-v3", tt_metal=tm1, engine="media",
                 docker_image=f"ghcr.io/tenstorrent/tt-media-inference-server:0.4.0-{tm1}",
                 devices=(device("N150", max_concurrency=1, max_context=1),)),
    )  # fmt: skip


@pytest.fixture
def checkout_dir(tmp_path, origin, registry, dockerd) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path / "checkout"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks.py").write_bytes((ROOT / "tasks.py").read_bytes())
    (root / "VERSION").write_text(f"{fresh_version()}\n")
    (root / "workflows" / "model_specs.toml").write_text(small_catalogue(origin.short(0), "v0.61.1-rc1"))
    (root / "release.toml").write_text('[build]\nrecipe = "offline"\n')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "RELEASE_", "REGISTRY_"))},
        "PYTHONPATH": str(ROOT),
        "DOCKER_HOST": dockerd.url,
        "RELEASE_REGISTRY_REWRITE": f"ghcr.io={registry.host}",
        "RELEASE_TT_METAL_REPO": origin.url,
        **registry.env,
    }
    yield root, env


def inv(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_inv("images.build", *args, cwd=root, env=env)


def files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.slow
def test_task_dry_run_writes_nothing_then_builds_pushes_and_summarises(checkout_dir, registry, dockerd):
    root, env = checkout_dir
    before_files = files(root)
    before_images = {t for i in dockerd.client().images() for t in (i.get("RepoTags") or [])}
    before_repos = {r: registry.tags(r) for r in registry.catalog()}

    dry = inv(root, env, "--dry-run", "--push", "--release")
    assert dry.returncode == 0, dry.stderr
    assert "BUILD" in dry.stdout and "tt-media-inference-server" in dry.stdout
    assert files(root) == before_files
    assert {t for i in dockerd.client().images() for t in (i.get("RepoTags") or [])} == before_images
    assert {r: registry.tags(r) for r in registry.catalog()} == before_repos
    plan = json.loads(inv(root, env, "--dry-run", "--json").stdout)
    assert [c["combination_id"] for c in plan["combinations"]][1] == "v0.61.1-rc1-48eba14"

    run = inv(root, env, "--push", "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert f"[{engine_label(dockerd.url)}]" in run.stderr and "pushed" in run.stderr  # the engine, named short
    (path,) = (root / "workflow_logs" / "docker_build_logs").glob("build_summary_*.json")
    assert json.loads(path.read_text()) == summary
    assert summary["success_count"] == 2 and summary["failure_count"] == 0
    assert {"build_attempted", "build_succeeded", "remote_exists", "combinations"} <= set(summary)
    assert len(summary["build_succeeded"]["dev"]) == 2 and summary["build_succeeded"]["release"] == []
    assert len(summary["pushed"]["cloud"]) == 2
    image = summary["combinations"][0]["images"]["dev"]
    assert image["engine"] == dockerd.url and image["duration_s"] > 0 and Path(image["log_file"]).is_file()
    assert Path(image["log_file"]).name.startswith(f"build_{summary['timestamp']}_dev-")

    # promotion's list: one dev image (now present) and a media image no recipe builds → non-zero exit
    dev = summary["combinations"][0]["images"]["dev"]["tag"]
    listed = root / "release_logs" / "dev_artifacts_summary.json"
    listed.parent.mkdir(exist_ok=True)  # the run lock lives there too
    listed.write_text(json.dumps({"images_to_build": [dev.replace(registry.host, "ghcr.io")]}))
    only = inv(root, env, "--only-missing-from", str(listed), "--json")
    assert only.returncode == 0, only.stderr
    assert [c["combination_id"] for c in json.loads(only.stdout)["combinations"]] == [
        summary["combinations"][0]["combination_id"]
    ]
    listed.write_text(json.dumps({"images_to_build": [dev, "ghcr.io/tenstorrent/tt-media-inference-server:0.4.0-x"]}))
    failed = inv(root, env, "--only-missing-from", str(listed))
    assert failed.returncode == 1 and "tt-media-inference-server:0.4.0-x" in failed.stderr


@pytest.mark.slow
def test_task_failing_unit_exits_non_zero_and_unreachable_engine_is_one_line(checkout_dir, origin):
    root, env = checkout_dir
    toml = root / "workflows" / "model_specs.toml"
    toml.write_text(toml.read_text().replace(f'tt_metal_commit = "{origin.short(0)}"', 'tt_metal_commit = "fffffff"'))
    run = inv(root, env)
    assert run.returncode == 1
    assert "1 image units failed" in run.stderr and "fffffff" in run.stderr
    (path,) = (root / "workflow_logs" / "docker_build_logs").glob("build_summary_*.json")
    summary = json.loads(path.read_text())
    assert summary["failure_count"] == 1 and summary["success_count"] == 1

    dead = inv(root, {**env, "DOCKER_HOST": f"unix://{root}/none.sock"}, "--dry-run")
    assert dead.returncode == 1
    assert dead.stderr.strip().count("\n") == 0 and "unreachable" in dead.stderr


@pytest.mark.slow
def test_a_token_in_the_tt_metal_url_reaches_no_error_line_or_summary(checkout_dir):
    root, env = checkout_dir
    secret = "ghp_tt_metal_build_secret"
    run = inv(root, {**env, "RELEASE_TT_METAL_REPO": f"http://builder:{secret}@127.0.0.1:9/tt-metal.git"})
    assert run.returncode == 1 and "image units failed" in run.stderr
    assert "<redacted>@127.0.0.1:9" in run.stderr and secret not in run.stdout + run.stderr
    (path,) = (root / "workflow_logs" / "docker_build_logs").glob("build_summary_*.json")
    assert secret not in path.read_text() and "<redacted>@127.0.0.1:9" in path.read_text()
    assert not any(secret in p.read_text(errors="replace") for p in (root / "workflow_logs").rglob("*.log"))


@pytest.mark.slow
def test_real_recipe_builds_base_from_a_tt_metal_checkout(kit, dockerd, registry, origin, tmp_path):
    from release.build.recipes import REAL_DOCKERFILES
    from release.errors import ConfigError

    repo = tmp_path / "tt-inference-server"
    recipe = RealRecipe(repo, git=Git, tt_metal_url=origin.url)
    with pytest.raises(ConfigError, match="--recipe offline"):
        recipe.check()
    for kind, path in REAL_DOCKERFILES.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(
            (DOCKERFILES / "offline" / f"{'dev' if kind == 'release' else kind}.Dockerfile").read_bytes()
        )
    (repo / "README.txt").write_text("real recipe stand-in: the build context is the checkout\n")
    recipe.check()
    e1 = {"e1": engine(dockerd, registry, "e1")}
    specs = specs_for(fresh_version(), (origin.commits[3][:11], "3333333"))
    result = kit.run(specs, e1, recipe=recipe)
    assert not result.failures, result.failure_lines()
    base = result.units[0].images["base"].ref
    assert labels(dockerd, base)["org.tenstorrent.release.kind"] == "base"
    # the base came from tt-metal's own dockerfile/Dockerfile at the resolved commit
    log = Path(result.units[0].images["base"].log_file or "").read_text()
    assert "COPY VERSION.txt /opt/tt-metal/" in log
