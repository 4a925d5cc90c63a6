"""`inv prerelease` and `inv release` end to end on real services: a bare git origin with a fake GitHub over it,
the Models CI simulator, a distribution registry and a private dockerd (one image is built, not promoted)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from release import artifacts_summary
from release.imageref import ImageRef
from release.sim.github_packages import PackagesSim, install_packages
from release.sim.github_project import ProjectSim
from release.sim.github_server import GitHubServer, install_project
from release.sim.history import SimModel, generate_history
from tests.builders import catalogue_toml, device, template
from tests.openapi.validate import validate
from tests.record_checks import assert_outputs_agree_with_the_record
from tests.services.registry import Registry, Seeder, random_layer
from workflows.model_spec import load_catalogue

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "ghp_composite_test_token"
MEDIA = "ghcr.io/tenstorrent/tt-media-inference-server:0.4.0-e95ffa59adbe39237525161272141cbbb603c686"


def catalogue_text(built_tm: str) -> str:
    return catalogue_toml(
        template("org/Alpha-8B", tt_metal="aaaaaaa", vllm="1111111", status="FUNCTIONAL", devices=("N150", "N300")),
        # no CI record: built from the offline recipe
        template("org/Beta-70B", tt_metal=built_tm, vllm="2222222", status="EXPERIMENTAL", devices=("T3K",)),
        template("org/Gamma-image", impl="media", tt_metal="e95ffa5", engine="media", status="COMPLETE",
                 model_type="IMAGE", docker_image=MEDIA, devices=(device("N150", max_concurrency=1, max_context=1024),)),
        comment="composite test catalogue",
    )  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


@dataclass
class World:
    work: Path
    origin: Path
    env: dict[str, str]
    registry: Registry
    server: GitHubServer
    project: ProjectSim
    dev_sha: str
    packages: PackagesSim

    def inv(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args], cwd=self.work, env=self.env, capture_output=True, text=True
        )

    def remote_refs(self) -> str:
        return git(self.origin, "for-each-ref", "--format=%(refname) %(objectname)")

    def merge(self, number: int) -> None:
        url = f"{self.server.api_url}/repos/tenstorrent/tt-inference-server/pulls/{number}/merge"
        resp = requests.put(
            url, json={"merge_method": "merge"}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        assert resp.status_code == 200, resp.text


@pytest.fixture
def world(tmp_path: Path, fresh_registry: Registry, dockerd, tt_metal_origin) -> Iterator[World]:
    built_tm = tt_metal_origin.short(0)
    seed = tmp_path / "seed"
    (seed / "workflows").mkdir(parents=True)
    for name in ("tasks.py", ".gitignore", "release_logs/README.md", "workflow_logs/README.md"):
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, seed / name)
    (seed / "workflows" / "model_specs.toml").write_text(catalogue_text(built_tm))
    (seed / "VERSION").write_text("0.5.0\n")
    (seed / "README.md").write_text(
        "# tt-inference-server\n\n## Model Support\n\n"
        "| Model Weights | Hardware | Status | tt-metal commit | vLLM commit | Docker Image |\n"
        "|---------------|----------|--------|-----------------|-------------|--------------|\n"
    )
    base_env = {k: v for k, v in os.environ.items() if k not in ("GH_PAT", "GITHUB_TOKEN", "DOCKER_HOST")}
    base_env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-m", "invoke", "spec.update", "--output-only"], cwd=seed, env=base_env, check=True)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "tt-inference-server at 0.5.0")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    git(origin, "branch", "dev", "main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", "-b", "dev", str(origin), str(work))
    git(work, "config", "user.name", "Release Engineer")
    git(work, "config", "user.email", "re@example.com")

    cat = load_catalogue(work / "workflows" / "model_specs.toml", version="0.5.0")
    ci_models = [SimModel.from_spec(s) for s in cat.specs.values() if "Alpha" in s.model_id]
    history = generate_history(ci_models, runs=3, seed=7, outcomes=[("target", 1)], expired_runs=0)
    server = GitHubServer(history, token=TOKEN, validator=validate).start()
    project = install_project(server, ProjectSim("tenstorrent", "tt-inference-server", origin))

    rewrite = (("ghcr.io", fresh_registry.host),)
    client = fresh_registry.client()
    seeder = Seeder(client)
    base = random_layer(256, seed="shared-base")
    for image in [*history.ci_images(), MEDIA]:
        seeder.image(ImageRef.parse(image).rewrite(rewrite), [base, random_layer(64)])
    env = {
        **base_env,
        "GITHUB_API_URL": server.api_url,
        "GH_PAT": TOKEN,
        "RELEASE_REGISTRY_REWRITE": f"ghcr.io={fresh_registry.host}",
        **fresh_registry.env,
        "DOCKER_HOST": dockerd.url,
        "RELEASE_BUILD_RECIPE": "offline",
        "RELEASE_TT_METAL_REPO": tt_metal_origin.url,
    }
    try:
        packages = install_packages(server, PackagesSim(fresh_registry.client(), fresh_registry.host))
        yield World(work, origin, env, fresh_registry, server, project, git(work, "rev-parse", "HEAD"), packages)
    finally:
        server.stop()
    assert not server.validation_errors, "\n".join(server.validation_errors[:10])


def snapshot(w: World) -> tuple:
    files = {
        str(p.relative_to(w.work)): p.read_bytes() for p in w.work.rglob("*") if ".git" not in p.parts and p.is_file()
    }
    return (files, w.remote_refs(), w.registry.snapshot(), len(w.project.pulls), w.registry.writes_logged(),
            list(w.project.writes), list(w.packages.writes), git(w.work, "status", "--porcelain"))  # fmt: skip


def test_prerelease_then_release_end_to_end(world: World) -> None:
    w = world
    args = ("--increment", "minor", "--max-runs", "3", "--from", w.dev_sha)

    # A dry run plans every step and writes nothing anywhere.
    before = snapshot(w)
    dry = w.inv("prerelease", *args, "--dry-run")
    assert dry.returncode == 0, dry.stderr + dry.stdout
    assert dry.stdout.count(" planned ") == 9
    assert "2/4 models have a last good run" in dry.stdout
    assert "would copy 1, build 1, conflicts 0, skip 1 (VERSION 0.5.0 → 0.6.0)" in dry.stdout
    assert "would build and push 1 image" in dry.stdout
    assert snapshot(w) == before

    # The build engine is down: the run stops at images.build and keeps its state.
    broken = dict(w.env, DOCKER_HOST="unix:///nonexistent/docker.sock")
    failed = subprocess.run([sys.executable, "-m", "invoke", "prerelease", *args], cwd=w.work, env=broken,
                            capture_output=True, text=True)  # fmt: skip
    assert failed.returncode != 0
    assert "step images.build failed" in failed.stderr
    assert "done" in failed.stdout and "not reached" in failed.stdout
    state = json.loads((w.work / "release_logs" / "release_state_v0.6.0.json").read_text())
    steps = state["runs"]["prerelease"]["steps"]
    assert [s for s, v in steps.items() if v["status"] == "done"] == [
        "ci.read",
        "git.prerelease",
        "spec.update",
        "images.promote",
    ]

    # Started again with the same arguments, it resumes at images.build.
    ok = w.inv("prerelease", *args)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert ok.stdout.count("done earlier") == 4
    assert git(w.work, "rev-parse", "--abbrev-ref", "HEAD") == "pre-release-v0.6.0"
    assert (w.work / "VERSION").read_text() == "0.6.0\n"
    assert "0.6.0-" in (w.work / "README.md").read_text()
    # the summaries tell what happened: the built image left "requiring new builds" for the built section
    summary = json.loads((w.work / "release_logs" / "dev_artifacts_summary.json").read_text())
    assert summary["images_to_build"] == [] and summary["summary"]["total_copied"] == 1
    [(built_dev, built_digest)] = summary["built_images"].items()
    assert built_digest == w.registry.client().digest(ImageRef.parse(built_dev))
    summary_md = (w.work / "release_logs" / "dev_artifacts_summary.md").read_text()
    assert "No images need to be built." in summary_md and "do not exist in the registry" not in summary_md.split(
        "## Docker Images Requiring New Builds"
    )[1].split("## Images Built")[0].replace(artifacts_summary.BUILD_NOTE, "")
    assert (
        f"- https://{built_dev}\n  - digest: `{built_digest}`"
        in summary_md.split("## Images Built by the Release Kit")[1]
    )
    # the base may be on the session's engine already (another test built it): then it is not built again
    assert re.search(r"built (3 \(1 base, 1 cloud, 1 dev\), pushed 2, kept local: 1 base|2 \(1 cloud, 1 dev\), pushed 2)",
                     ok.stdout), ok.stdout  # fmt: skip
    subject = git(w.work, "log", "-1", "--format=%s")
    assert subject.startswith("Pre-release 0.6.0: ") and len(subject) <= 72, subject
    assert "release_logs/dev_artifacts_summary.md" in git(w.work, "log", "-1", "--format=%b")
    assert "refs/heads/pre-release-v0.6.0" in w.remote_refs()
    assert len(w.project.pulls) == 1
    (page,) = (w.work / "release_logs").glob("models_ci_health_*_to_*.html")  # the CI health page, linked
    assert f"release_logs/{page.name}" in failed.stdout
    assert f"`{page.name}`" in next(iter(w.project.pulls.values())).body
    tags = w.registry.tags("tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64")
    assert len([t for t in tags if t.startswith("0.6.0-")]) == 2  # one promoted, one built

    # Running it again repeats nothing (--keep-existing is a decision, not an argument of the run).
    again = w.inv("prerelease", *args, "--keep-existing")
    assert again.returncode == 0 and again.stdout.count("done earlier") == 9

    # The maintainer merges the pre-release PR into dev with a merge commit, then the release runs. Someone has
    # pushed another image to Alpha's release tag: the release stops at images.promote and names the decision.
    (number,) = list(w.project.pulls)
    w.merge(number)
    (promoted,) = summary["copied_images"]
    alpha = ImageRef.parse(promoted.replace("-dev-", "-release-"))
    theirs = Seeder(w.registry.client()).image(alpha, [random_layer(64, seed="theirs")], label="theirs")
    stopped = w.inv("release")
    assert stopped.returncode == 3, stopped.stderr + stopped.stdout
    assert "step images.promote failed" in stopped.stderr and "--keep-existing" in stopped.stderr
    assert str(alpha) in stopped.stderr
    rel = w.inv("release", "--keep-existing")
    assert rel.returncode == 0, rel.stderr + rel.stdout
    assert rel.stdout.count("done earlier") == 2  # inputs, git.rc: the run resumed at images.promote
    assert "1 kept as they were (--keep-existing); 0 copied" in rel.stdout
    steps = json.loads((w.work / "release_logs" / "release_state_v0.6.0.json").read_text())["runs"]["release"]["steps"]
    assert steps["images.promote"]["outputs"]["kept"] == [str(alpha)]
    assert "refs/heads/rc-v0.6.0" in w.remote_refs()
    assert len(w.project.pulls) == 2
    record = json.loads((w.work / "release_logs" / "release_record_v0.6.0.json").read_text())
    assert record["version"] == "0.6.0"
    hows = sorted(i["how"] for i in record["images"])
    assert hows == ["built", "existing", "kept"]
    (decision,) = record["decisions"]
    assert decision["destination"] == str(alpha) and decision["decision"] == "kept"
    assert decision["kept_digest"] == theirs and decision["ci_digest"] != theirs
    assert next(i for i in record["images"] if i["how"] == "kept")["digest"] == theirs
    assert_outputs_agree_with_the_record(
        w.work / "release_logs", "0.6.0", digest_of=lambda i: w.registry.client().digest(ImageRef.parse(i))
    )
    audit = w.inv("images.audit", "--record", "release_logs/release_record_v0.6.0.json")
    assert audit.returncode == 0, audit.stderr + audit.stdout
    again = w.inv("release")
    assert again.returncode == 0 and again.stdout.count("done earlier") == 10

    # A dry run of the finished release reads the state file: every step is done, nothing is planned or asked.
    before = snapshot(w)
    offline = dict(w.env, RELEASE_REGISTRY_REWRITE="ghcr.io=127.0.0.1:9", GITHUB_API_URL="http://127.0.0.1:9")
    dry = subprocess.run([sys.executable, "-m", "invoke", "release", "--dry-run"], cwd=w.work, env=offline,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert dry.returncode == 0, dry.stderr + dry.stdout
    assert dry.stdout.count("done earlier") == 10 and " planned " not in dry.stdout
    assert snapshot(w) == before


def tags_of(w: World, prefix: str) -> dict[str, list[str]]:
    """Every tag of the registry that starts with `prefix`, by repository."""
    found = {repo: [t for t in tags if t.startswith(prefix)] for repo, tags in w.registry.snapshot().items()}
    return {repo: tags for repo, tags in found.items() if tags}


def test_undo_a_prerelease_and_a_release_then_make_them_again(world: World) -> None:
    """The issue's rehearsal: a pre-release run, its undo planned (nothing changes) then applied, the same pre-release
    again; a merged PR stops the undo; then a release, its undo, and the release again."""
    w = world
    args = ("--increment", "minor", "--max-runs", "3", "--from", w.dev_sha)
    assert w.inv("prerelease", *args).returncode == 0
    made = tags_of(w, "0.6.0")
    assert sum(len(t) for t in made.values()) == 3  # promoted Alpha, built Beta and its cloud image
    media = ImageRef.parse(MEDIA).rewrite((("ghcr.io", w.registry.host),))
    media_digest = w.registry.client().digest(media)  # there before the run

    before = snapshot(w)
    plan = w.inv("prerelease", "--undo", "--version", "0.6.0")
    assert plan.returncode == 0, plan.stderr + plan.stdout
    assert snapshot(w) == before  # no file, ref, PR, registry or GitHub write; the checkout as it was
    assert "close PR #1 pre-release-v0.6.0 → dev" in plan.stdout and "nothing was changed" in plan.stdout
    assert plan.stdout.count("(version ") == 3  # every tag through GitHub Packages (ghcr.io, rewritten here)
    assert f"{media}: there before the run" in plan.stdout

    done = w.inv("prerelease", "--undo", "--version", "0.6.0", "--apply")
    assert done.returncode == 0, done.stderr + done.stdout
    assert tags_of(w, "0.6.0") == {} and w.registry.client().digest(media) == media_digest
    assert w.project.pulls[1].state == "closed" and "--undo --version 0.6.0 --apply" in w.project.comments[1][0]
    assert "pre-release-v0.6.0" not in w.remote_refs() and "pre-release" not in git(w.work, "branch")
    assert git(w.work, "branch", "--show-current") == "dev" and git(w.work, "status", "--porcelain") == ""
    assert (w.work / "VERSION").read_text() == "0.5.0\n"
    assert not (w.work / "release_logs" / "release_state_v0.6.0.json").exists()
    assert w.inv("prerelease", "--undo", "--version", "0.6.0").returncode == 0  # reported from the archive

    again = w.inv("prerelease", *args)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "done earlier" not in again.stdout and "1 copied, 0 already there, 1 to build; VERSION 0.6.0" in again.stdout
    assert tags_of(w, "0.6.0") == made and len(w.project.pulls) == 2

    # The maintainer merged the PR: the undo stops and changes nothing.
    w.merge(2)
    before = snapshot(w)
    stopped = w.inv("prerelease", "--undo", "--version", "0.6.0", "--apply")
    assert stopped.returncode == 3 and "hot-fix" in stopped.stdout and "stopped" in stopped.stderr
    assert snapshot(w) == before

    rel = w.inv("release")
    assert rel.returncode == 0, rel.stderr + rel.stdout
    released = tags_of(w, "0.6.0")
    undo_rel = w.inv("release", "--undo", "--version", "0.6.0", "--apply")
    assert undo_rel.returncode == 0, undo_rel.stderr + undo_rel.stdout
    assert "close PR #3 rc-v0.6.0 → main" in undo_rel.stdout
    assert "rc-v0.6.0" not in w.remote_refs() and git(w.work, "branch", "--show-current") == "pre-release-v0.6.0"
    assert tags_of(w, "0.6.0") == made  # the release images went; the pre-release's stay (its PR was merged)
    logs = w.work / "release_logs"
    assert not (logs / "release_record_v0.6.0.json").exists()
    (archived,) = (logs / "undone").glob("v0.6.0-release-*/release_record_v0.6.0.json")
    audit = w.inv("images.audit", "--record", str(archived), "--json")  # no image the release made is left
    assert audit.returncode == 1
    found = {i["image"]: i["status"] for i in json.loads(audit.stdout)["images"]}
    assert sorted(found.values()) == ["missing", "missing", "ok"] and found[str(media)] == "ok"
    assert list(json.loads((logs / "release_state_v0.6.0.json").read_text())["runs"]) == ["prerelease"]
    again = w.inv("release")
    assert again.returncode == 0, again.stderr + again.stdout
    assert tags_of(w, "0.6.0") == released and "done earlier" not in again.stdout
