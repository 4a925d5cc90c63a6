"""The undo of a run on real services: a git origin with the fake GitHub over it (validated against GitHub's
OpenAPI description), and real registries — distribution 2.8, which refuses to delete a tag (so the digest route is
taken), one with deletion disabled, and ghcr.io rewritten to a local registry behind the fake GitHub Packages.

The run here is made by hand (a branch with a commit, pushed, a PR, image tags) with the ledger the composite
run would have written; tests/test_composite.py undoes real `inv prerelease` runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from release.config import Config
from release.errors import UndoIncomplete
from release.git import Git
from release.imageref import ImageRef
from release.sim.github_packages import PackagesSim, install_packages
from release.undo import run as undo_run
from tests.services.git_world import GitWorld, git_env, sh
from tests.services.github_project import TOKEN, GitHubProject
from tests.services.registry import Registry, Seeder, random_layer, start_registry, stop_registry

V = "0.6.0"
BRANCH = "pre-release-v0.6.0"
DEV_REPO = "tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"


@dataclass
class RunMade:
    world: GitWorld
    gh: GitHubProject
    reg: Registry
    cfg: Config
    tip: str
    pr: int
    images: dict[str, str]  # destination (as recorded) → digest

    def undo(self, *, apply: bool) -> undo_run.UndoOutcome:
        clients = undo_run.UndoClients(Git(self.world.work, environ=git_env()), self.gh.client, self.reg.client())
        return undo_run.undo(self.cfg, clients, command="prerelease", version=V, apply=apply)

    def digest(self, destination: str) -> str | None:
        return self.reg.client().digest(ImageRef.parse(destination))

    def world_state(self) -> tuple[Any, ...]:
        files = {str(p.relative_to(self.world.work)): p.read_bytes() for p in self.world.work.rglob("*")
                 if ".git" not in p.parts and p.is_file()}  # fmt: skip
        return (files, self.world.refs(), self.world.refs(self.world.work), self.reg.writes_logged(),
                list(self.gh.project.writes), sh(self.world.work, "status", "--porcelain"))  # fmt: skip


def make_run(world: GitWorld, gh: GitHubProject, reg: Registry, *, host: str, rewrite: str = "") -> RunMade:
    """A pre-release run as the ledger would tell it: a branch with the VERSION commit, pushed, a PR opened, two
    image tags created (one shares its digest with a tag that was there before), one tag that was there before."""
    work = world.work
    (work / ".git" / "info" / "exclude").write_text("release_logs/*\n!release_logs/*_artifacts_summary.*\n")
    sh(work, "switch", "-q", "-c", BRANCH)
    tip = world.commit(work, "Pre-release 0.6.0: VERSION", {"VERSION": "0.6.0\n"})
    sh(work, "push", "-q", "--set-upstream", "origin", f"{BRANCH}:refs/heads/{BRANCH}")
    pr = gh.open_pr(BRANCH, "dev", "Pre-release v0.6.0")
    seed = Seeder(reg.client())
    shared = random_layer(64, seed="shared")
    here = lambda tag: f"{reg.host}/{DEV_REPO}:{tag}"  # noqa: E731  (where the images are)
    recorded = lambda tag: f"{host}/{DEV_REPO}:{tag}"  # noqa: E731  (as the run recorded them: after the rewrite)
    images = {
        recorded("0.6.0-built"): seed.image(ImageRef.parse(here("0.6.0-built")), [random_layer(64)]),
        recorded("0.6.0-promoted"): seed.image(ImageRef.parse(here("0.6.0-promoted")), [shared], label="ci"),
    }
    seed.image(ImageRef.parse(here("0.5.0-ci")), [shared], label="ci")  # the CI image: the promoted tag's digest
    before = seed.image(ImageRef.parse(here("0.5.0-old")), [random_layer(64)])
    ledger = {
        "checkout": {"branch": "dev"},
        "branches": {BRANCH: {"created_local": True, "created_remote": True, "local_tip": tip, "remote_tip": tip}},
        "pulls": {str(pr): {"url": f"{gh.server.api_url}/tenstorrent/tt-inference-server/pull/{pr}", "head": BRANCH,
                            "base": "dev"}},
        "images": {dst: {"digest": d, "by": "images.build" if "built" in dst else "images.promote"}
                   for dst, d in images.items()},
        "existed": {recorded("0.5.0-old"): before},
    }  # fmt: skip
    run = {"arguments": {"increment": "minor"}, "started_at": "2026-01-01T00:00:00Z", "finished": True,
           "steps": {}, "ledger": ledger}  # fmt: skip
    logs = work / "release_logs"
    logs.mkdir(exist_ok=True)
    (logs / f"release_state_v{V}.json").write_text(json.dumps({"schema": 1, "version": V, "runs": {"prerelease": run}}))
    env = {**gh.env, **({"RELEASE_REGISTRY_REWRITE": rewrite} if rewrite else {})}
    return RunMade(world, gh, reg, Config.from_env(env, repo_root=work), tip, pr, images)


@pytest.fixture
def made(git_world: GitWorld, github_project: GitHubProject, fresh_registry: Registry) -> RunMade:
    return make_run(git_world, github_project, fresh_registry, host=fresh_registry.host)


def test_plan_then_apply_on_a_registry_that_does_not_delete_tags(made: RunMade) -> None:
    w, reg = made.world, made.reg
    before = made.world_state()
    plan = made.undo(apply=False)
    assert made.world_state() == before, "the plan wrote something"
    text = plan.text
    assert "close PR #1 pre-release-v0.6.0 → dev" in text and "by tag, else by digest" in text
    assert "tags 0.5.0-ci share the digest, so only a tag deletion is tried" in text
    assert "0.5.0-old: there before the run" in text and "nothing was changed" in text
    assert plan.complete  # the plan leaves nothing of the run once applied (unless the registry refuses)

    done = made.undo(apply=True)
    assert not done.complete
    built, promoted = (d for d in made.images)
    assert made.digest(built) is None  # distribution 2.8 answered the tag 400 DIGEST_INVALID: deleted by digest
    assert "does not delete tags (400 DIGEST_INVALID): deleted the manifest" in done.text
    assert made.digest(promoted) == made.images[promoted]  # its digest is also 0.5.0-ci's: left, with the reason
    assert "0.5.0-ci point at the same digest" in done.text
    assert made.digest(f"{reg.host}/{DEV_REPO}:0.5.0-old") is not None  # there before the run: never touched
    assert [line for line in reg.writes_logged() if line.startswith("DELETE")] == [
        f"DELETE /v2/{DEV_REPO}/manifests/0.6.0-built HTTP/1.1",
        f"DELETE /v2/{DEV_REPO}/manifests/{made.images[built]} HTTP/1.1",
        f"DELETE /v2/{DEV_REPO}/manifests/0.6.0-promoted HTTP/1.1",
    ]
    pr = made.gh.project.pulls[made.pr]
    assert pr.state == "closed" and not pr.merged
    assert made.gh.project.comments[made.pr] == [undo_run._comment("prerelease", V)]
    assert w.remote_sha(f"refs/heads/{BRANCH}") is None
    assert sh(w.work, "branch", "--show-current") == "dev" and BRANCH not in sh(w.work, "branch")
    assert sh(w.work, "status", "--porcelain") == "" and (w.work / "VERSION").read_text() == "0.5.0\n"
    logs = w.work / "release_logs"
    assert not (logs / f"release_state_v{V}.json").exists()
    (archive,) = (logs / "undone").iterdir()
    assert archive.name.startswith("v0.6.0-prerelease-") and (archive / f"release_state_v{V}.json").exists()
    journal = json.loads((archive / f"undo_state_v{V}_prerelease.json").read_text())
    assert any("0.5.0-ci point at the same digest" in line for line in journal["left"])
    with pytest.raises(UndoIncomplete) as info:
        undo_run.check(done)
    assert info.value.exit_code == 3

    again = made.undo(apply=True)  # idempotent: reported from the archive, nothing asked or written
    writes = reg.writes_logged()
    assert "was undone at" in again.text and "left:" in again.text and not again.complete
    assert reg.writes_logged() == writes


def test_a_merged_pr_stops_the_undo(made: RunMade) -> None:
    made.gh.merge(made.pr)
    before = made.world_state()
    out = made.undo(apply=True)
    assert out.plan is not None and out.plan.stop and "hot-fix" in out.plan.stop and not out.complete
    assert made.world_state() == before
    assert all(made.digest(d) == digest for d, digest in made.images.items())


def test_uncommitted_changes_of_the_run_are_restored_and_others_stop_the_checkout(made: RunMade) -> None:
    work = made.world.work
    (work / "VERSION").write_text("0.6.1\n")  # as a step that stopped before its commit would leave it
    (work / "src").mkdir(exist_ok=True)
    (work / "src" / "mine.py").write_text("# the engineer's own work\n")
    plan = made.undo(apply=False)
    assert "the working tree has changes the run did not make (src/mine.py)" in plan.text
    assert "restore VERSION" not in plan.text
    (work / "src" / "mine.py").unlink()
    done = made.undo(apply=True)
    assert "restored 1 file(s)" in done.text
    assert (work / "VERSION").read_text() == "0.5.0\n" and sh(work, "branch", "--show-current") == "dev"
    (archive,) = (work / "release_logs" / "undone").iterdir()
    assert (archive / "worktree" / "VERSION").read_text() == "0.6.1\n"  # a copy was taken first


@pytest.fixture
def no_delete_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"), "no-delete", delete=False)
    yield reg
    stop_registry(reg)


def test_a_registry_with_deletion_disabled_leaves_the_tags_with_the_reason(
    git_world: GitWorld, github_project: GitHubProject, no_delete_registry: Registry
) -> None:
    made = make_run(git_world, github_project, no_delete_registry, host=no_delete_registry.host)
    out = made.undo(apply=True)
    assert all(made.digest(d) == digest for d, digest in made.images.items())
    assert "the registry refuses to delete (405 UNSUPPORTED: deletion is disabled" in out.text
    assert git_world.remote_sha(f"refs/heads/{BRANCH}") is None  # the rest was undone
    with pytest.raises(UndoIncomplete):
        undo_run.check(out)


def test_ghcr_images_are_deleted_through_github_packages(
    git_world: GitWorld, github_project: GitHubProject, fresh_registry: Registry
) -> None:
    reg = fresh_registry
    sim = install_packages(github_project.server, PackagesSim(reg.client(), reg.host))
    made = make_run(git_world, github_project, reg, host=reg.host, rewrite=f"ghcr.io={reg.host}")
    built, promoted = made.images
    (version,) = [
        v for v, digest, _ in sim.versions("tenstorrent", DEV_REPO[12:]) or [] if digest == made.images[built]
    ]
    plan = made.undo(apply=False)
    assert f"(version {version} of package {DEV_REPO}, sha256:" in plan.text
    assert "also carries 0.5.0-ci" in plan.text and sim.writes == []
    out = made.undo(apply=True)
    assert made.digest(built) is None and made.digest(promoted) is not None
    assert sim.writes == [
        f"DELETE /orgs/tenstorrent/packages/container/{DEV_REPO[12:].replace('/', '%2F')}/versions/{version}"
    ]
    # the kit itself sent no DELETE to the registry: GitHub Packages did (the simulator, by digest)
    assert [line.split(" ")[1].rsplit("/", 1)[1] for line in reg.writes_logged() if line.startswith("DELETE")] == [
        made.images[built]
    ]
    # the project's token went to the API origin only
    api = github_project.server
    assert {s.host for s in api.seen} == {api.api_url.removeprefix("http://")}
    assert set(api.authorizations("/orgs/")) == {f"Bearer {TOKEN}"}
    assert not out.complete and "also carries 0.5.0-ci" in out.text


def test_the_archive_is_what_a_second_undo_reports(made: RunMade, tmp_path: Path) -> None:
    made.undo(apply=True)
    out = made.undo(apply=False)
    assert out.plan is None and "nothing left to do" in out.text


def test_a_draft_release_the_run_recorded_is_deleted_and_a_published_one_never(
    git_world: GitWorld, github_project: GitHubProject, fresh_registry: Registry
) -> None:
    gh, repo = github_project, github_project.repo
    head = sh(git_world.work, "rev-parse", "HEAD")
    draft = gh.client.create_release(repo, tag="v0.6.0", target=head, name="v0.6.0", body="notes", draft=True)
    published = gh.client.create_release(repo, tag="v0.5.0", target=head, name="v0.5.0", body="", draft=False)
    ledger = {"releases": {str(draft.id): {"tag": "v0.6.0"}, str(published.id): {"tag": "v0.5.0"}}}
    run = {"arguments": {}, "started_at": "2026-01-01T00:00:00Z", "finished": False, "steps": {}, "ledger": ledger}
    logs = git_world.work / "release_logs"
    logs.mkdir()
    (git_world.work / ".git" / "info" / "exclude").write_text("release_logs/\n")
    (logs / f"release_state_v{V}.json").write_text(json.dumps({"schema": 1, "version": V, "runs": {"release": run}}))
    cfg = Config.from_env(gh.env, repo_root=git_world.work)
    clients = undo_run.UndoClients(Git(git_world.work, environ=git_env()), gh.client, fresh_registry.client())
    out = undo_run.undo(cfg, clients, command="release", version=V, apply=True)
    assert f"delete the draft release v0.6.0 (id {draft.id})" in out.text
    assert "published since" in out.text and "never undone" in out.text
    assert set(gh.project.releases) == {published.id} and not out.complete
    assert f"DELETE /repos/tenstorrent/tt-inference-server/releases/{draft.id}" in gh.project.writes


def test_an_interrupted_undo_resumes_and_comments_once(made: RunMade, monkeypatch: pytest.MonkeyPatch) -> None:
    from release.errors import GitHubError

    client = made.gh.client
    real_close = client.close_pull

    def broken(*args: Any, **kw: Any) -> Any:
        raise GitHubError("PATCH /pulls/1 failed after retries: ConnectionError")

    monkeypatch.setattr(client, "close_pull", broken)
    with pytest.raises(GitHubError):
        made.undo(apply=True)
    journal = made.world.work / "release_logs" / f"undo_state_v{V}_prerelease.json"
    assert json.loads(journal.read_text())["steps"] == {
        "pull:1:comment": {"status": "done", "detail": "commented", "at": ANY}
    }
    monkeypatch.setattr(client, "close_pull", real_close)
    done = made.undo(apply=True)
    assert made.gh.project.comments[made.pr] == [undo_run._comment("prerelease", V)]  # once
    assert made.gh.project.pulls[made.pr].state == "closed" and not journal.exists()
    assert "closed" in done.text
