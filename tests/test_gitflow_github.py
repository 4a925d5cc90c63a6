"""The git flow with GitHub: PRs opened once and then updated, hot-fixes applied by PR number, the release
published (tag, draft release, asset). Real git repositories, and the fake GitHub validated against the OpenAPI
description, whose pulls and releases live over the same bare origin."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from release import gitflow, models_diff, notes
from release.errors import GitStateError
from release.git import Git
from release.version import Version
from tests.services.git_world import GitWorld, git_env, sh
from tests.services.github_project import GitHubProject

V = Version(0, 6, 0)
DATA = Path(__file__).parent / "data" / "gitflow"


def flow(world: GitWorld, gh: GitHubProject, *, dry_run: bool = False) -> gitflow.Flow:
    return gitflow.Flow(
        git=Git(world.work, environ=git_env()),
        github=gh.client,
        remote="origin",
        dev="dev",
        main="main",
        project=gh.repo,
        dry_run=dry_run,
    )


def files(world: GitWorld) -> gitflow.ReleaseFiles:
    return gitflow.ReleaseFiles(
        world.work, world.work / "release_logs", world.work / "workflows" / "model_specs.toml", world.work / "VERSION"
    )


def quiet(_: str) -> None:
    pass


def prerelease_with_outputs(world: GitWorld, gh: GitHubProject) -> None:
    """pre-release branch, then what the kit's steps commit on it, plus one manual change."""
    source = sh(world.work, "rev-parse", "HEAD")
    gitflow.prerelease_flow(flow(world, gh), V, files(world), source=source, show=quiet)
    logs = world.work / "release_logs"
    logs.mkdir(exist_ok=True)
    for name in ("release_models_diff.json", "dev_artifacts_summary.md"):
        shutil.copy(DATA / name, logs / name)
    diff = models_diff.parse(json.loads((DATA / "release_models_diff.json").read_text()), source="test data")
    (logs / "release_models_diff.md").write_text(models_diff.render(diff))
    (world.work / "workflows").mkdir(exist_ok=True)
    shutil.copy(DATA / "model_specs.toml", world.work / "workflows" / "model_specs.toml")
    sh(world.work, "add", "-f", "release_logs/release_models_diff.md", "release_logs/release_models_diff.json",
       "release_logs/dev_artifacts_summary.md", "workflows/model_specs.toml")  # fmt: skip
    sh(world.work, "commit", "-q", "-m", notes.kit_commit_message("spec.update", "Update model specs"))
    world.commit(world.work, "Hand-tune Qwen3-32B max_context", {"workflows/tweak.txt": "32k\n"})
    for name in ("models_ci_last_good_230_to_236.json", "models_ci_all_results_230_to_236.json"):
        shutil.copy(DATA / name, logs / name)  # not committed: ignored by git in the real repository
    gitflow.prerelease_flow(flow(world, gh), V, files(world), source=source, show=quiet)


def pr(world: GitWorld, gh: GitHubProject, kind: str = "prerelease", **kw: object) -> gitflow.FlowOutcome:
    return gitflow.pr_flow(flow(world, gh, **kw), kind, V, files(world), draft=True, show=quiet)  # type: ignore[arg-type]


def test_pr_is_opened_once_and_updated_on_rerun(git_world: GitWorld, github_project: GitHubProject) -> None:
    gh = github_project
    prerelease_with_outputs(git_world, gh)
    before = list(gh.project.writes)
    dry = pr(git_world, gh, dry_run=True)
    assert isinstance(dry.plan.steps[0], gitflow.OpenPull) and gh.project.writes == before  # nothing sent
    out = pr(git_world, gh)
    # the simulator's links point at the simulator, never at a real (unrelated) PR on github.com
    assert out.result is not None and out.result.urls == (
        f"{gh.server.api_url}/tenstorrent/tt-inference-server/pull/1",
    )
    [the_pr] = gh.project.pulls.values()
    assert the_pr.draft and the_pr.base == "dev" and the_pr.title == "Pre-release v0.6.0"
    assert "- `" in the_pr.body and "Hand-tune Qwen3-32B max_context (Release Engineer)" in the_pr.body
    assert "Update model specs" not in the_pr.body.split("## Manual changes")[1]
    assert "`id_tt-transformers_Qwen3-32B_t3k` | T3K | failed in run 236 after passing in run 230" in the_pr.body
    assert pr(git_world, gh).plan.converged  # same body: nothing to do
    git_world.commit(git_world.work, "Another manual change")
    gitflow.prerelease_flow(flow(git_world, gh), V, files(git_world), source=sh(git_world.work, "rev-parse", "HEAD~3"),
                            show=quiet)  # fmt: skip
    again = pr(git_world, gh)
    assert [type(s).__name__ for s in again.plan.actions] == ["UpdatePull"]
    assert len(gh.project.pulls) == 1 and "Another manual change" in gh.project.pulls[1].body


def test_pr_needs_the_branch_on_the_remote(git_world: GitWorld, github_project: GitHubProject) -> None:
    with pytest.raises(GitStateError, match=r"origin/rc-v0.6.0 does not exist: run `inv git.rc --version 0.6.0`"):
        pr(git_world, github_project, "rc")


def test_apply_refuses_a_squash_merged_pr(git_world: GitWorld, github_project: GitHubProject) -> None:
    gh = github_project
    prerelease_with_outputs(git_world, gh)
    gh.merge(gh.open_pr("pre-release-v0.6.0", "dev"))
    gitflow.rc_flow(flow(git_world, gh), V, show=quiet)
    gitflow.hotfix_flow(flow(git_world, gh), "squashy", None, None, show=quiet)
    git_world.commit(git_world.work, "the fix")
    gitflow.hotfix_flow(flow(git_world, gh), "squashy", None, None, show=quiet)
    number = gh.open_pr("alice/hot-fix-squashy", "dev")
    with pytest.raises(GitStateError, match=r"PR #\d+ .* is not merged"):
        gitflow.apply_hotfix_flow(flow(git_world, gh), f"#{number}", None, show=quiet)
    gh.merge(number, "squash")
    with pytest.raises(GitStateError, match="squash- or rebase-merged"):
        gitflow.apply_hotfix_flow(flow(git_world, gh), f"#{number}", None, show=quiet)


@pytest.mark.slow
def test_the_whole_release_choreography(git_world: GitWorld, github_project: GitHubProject) -> None:
    """pre-release → PR → merge commit → rc → PR → hot-fix → PR into dev → apply → merge into main → notes
    (placeholder refused) → publish (tag, draft release, asset) → everything again plans nothing."""
    gh, w = github_project, git_world
    prerelease_with_outputs(w, gh)
    pr(w, gh)
    with pytest.raises(GitStateError, match="is not merged into origin/dev"):
        gitflow.rc_flow(flow(w, gh), V, show=quiet)
    gh.merge(1)
    gitflow.rc_flow(flow(w, gh), V, show=quiet)
    shutil.copy(DATA / "release_artifacts_summary.json", w.work / "release_logs" / "release_artifacts_summary.json")
    rc_pr = pr(w, gh, "rc")
    assert rc_pr.result is not None and gh.project.pulls[2].base == "main"

    # a hot-fix: branch from the RC, PR into dev, merge commit, then onto the RC by PR number
    gitflow.hotfix_flow(flow(w, gh), "Fix Llama OOM", None, None, show=quiet)
    fix = w.commit(w.work, "Fix the Llama OOM", {"src/fix.py": "ok = True\n"})
    gitflow.hotfix_flow(flow(w, gh), "Fix Llama OOM", None, None, show=quiet)
    number = gh.open_pr("alice/hot-fix-fix-llama-oom", "dev")
    w.push_commit("dev", "dev moved on meanwhile")
    gh.merge(number)
    applied = gitflow.apply_hotfix_flow(flow(w, gh), f"#{number}", None, show=quiet)
    assert any(s.describe() == f"git merge --ff-only {fix}" for s in applied.plan.actions)
    assert w.remote_sha("refs/heads/rc-v0.6.0") == fix
    # the fix reached the RC through dev, so it is no manual change of the RC: its PR has nothing to update
    again = pr(w, gh, "rc")
    assert again.plan.converged and not again.plan.actions
    assert "Fix the Llama OOM" not in gh.project.pulls[2].body
    assert sum(p.base == "main" for p in gh.project.pulls.values()) == 1

    # release: merge the RC into main, notes, publish
    main_merge = gh.merge(2)
    out = gitflow.notes_flow(flow(w, gh), V, files(w), publish=False, draft=True, show=quiet)
    assert out.written and notes.unfinished(out.text)
    assert f"| Commit | `{main_merge[:12]}` |" in out.text
    with pytest.raises(GitStateError, match="placeholder is still there"):
        gitflow.notes_flow(flow(w, gh), V, files(w), publish=True, draft=True, show=quiet)
    assert w.remote_sha("refs/tags/v0.6.0") is None and not gh.project.releases
    out.path.write_text(out.text.replace(notes.PLACEHOLDER, "- Structured outputs for Llama 3.x"))
    (w.work / "release_logs" / "release_record_v0.6.0.json").write_text(json.dumps({"version": "0.6.0", "images": []}))
    writes, refs = list(gh.project.writes), w.refs()
    dry = gitflow.notes_flow(flow(w, gh, dry_run=True), V, files(w), publish=True, draft=True, show=quiet)
    assert dry.publish is not None and len(dry.publish.plan.actions) == 4  # tag, push, release, asset
    assert gh.project.writes == writes and w.refs() == refs and not sh(w.work, "tag")
    published = gitflow.notes_flow(flow(w, gh), V, files(w), publish=True, draft=True, show=quiet)
    assert published.publish is not None and published.publish.result is not None
    assert sh(w.origin, "rev-parse", "v0.6.0^{commit}") == main_merge
    [rel] = gh.project.releases.values()
    assert rel.draft and rel.tag_name == "v0.6.0" and "- Structured outputs for Llama 3.x" in rel.body
    assert [a.name for a in rel.assets] == ["release_record_v0.6.0.json"]
    # idempotent: publishing again plans nothing
    again = gitflow.notes_flow(flow(w, gh), V, files(w), publish=True, draft=True, show=quiet)
    assert again.publish is not None and again.publish.plan.converged
    assert len(gh.project.releases) == 1
    # --no-draft publishes the draft, once
    final = gitflow.notes_flow(flow(w, gh), V, files(w), publish=True, draft=False, show=quiet)
    assert final.publish is not None and [s.describe() for s in final.publish.plan.actions] == [
        f"GitHub: publish the draft release v0.6.0 (id {rel.id})"
    ]
    assert not rel.draft and rel.published_at
    last = gitflow.notes_flow(flow(w, gh), V, files(w), publish=True, draft=True, show=quiet)
    assert last.publish is not None and last.publish.plan.converged  # a published release is never a draft again


def test_pr_task_through_the_cli(git_world: GitWorld, github_project: GitHubProject) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT
    from tests.services.github_project import TOKEN

    prerelease_with_outputs(git_world, github_project)
    env = git_env()
    env.update(RELEASE_REPO_ROOT=str(git_world.work), **github_project.env)

    def inv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), *args], cwd=git_world.work,
                              env=env, capture_output=True, text=True, check=False)  # fmt: skip

    dry = inv("git.pr", "--prerelease", "--version", "0.6.0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "GitHub: open PR pre-release-v0.6.0 → dev" in dry.stdout and "## Manual changes" in dry.stdout
    assert not github_project.project.pulls
    first = inv("git.pr", "--prerelease", "--version", "0.6.0", "--draft")
    assert first.returncode == 0, first.stderr
    assert f"{github_project.server.api_url}/tenstorrent/tt-inference-server/pull/1" in first.stdout
    second = inv("git.pr", "--prerelease", "--version", "0.6.0")
    assert second.returncode == 0 and "nothing to do" in second.stdout
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr
    # the pull requests were written with GITHUB_TOKEN, never with the CI read token (GH_PAT)
    pulls = github_project.server.authorizations("/repos/tenstorrent/tt-inference-server/pulls")
    assert pulls and set(pulls) == {f"Bearer {TOKEN}"}
    both = inv("git.pr", "--prerelease", "--rc", "--version", "0.6.0")
    assert both.returncode == 2 and "exactly one of --prerelease" in both.stderr


def test_rc_after_github_deleted_the_merged_branch(git_world: GitWorld, github_project: GitHubProject) -> None:
    gh, w = github_project, git_world
    prerelease_with_outputs(w, gh)
    pre_tip = str(w.remote_sha("refs/heads/pre-release-v0.6.0"))
    gh.merge(gh.open_pr("pre-release-v0.6.0", "dev"))
    sh(w.maint, "push", "-q", "origin", "--delete", "pre-release-v0.6.0")  # "Automatically delete head branches"
    sh(w.work, "switch", "-q", "dev")
    sh(w.work, "branch", "-q", "-D", "pre-release-v0.6.0")
    gitflow.rc_flow(flow(w, gh), V, show=quiet)
    assert w.remote_sha("refs/heads/rc-v0.6.0") == pre_tip
