"""The git choreography against real repositories: a bare origin, the engineer's clone, a maintainer's clone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from release import gitflow
from release.errors import ConfigError, GitError, GitStateError, InputError
from release.git import Git
from release.github_types import RepoRef
from release.version import Version
from tests.conftest import REPO_ROOT
from tests.services.git_world import GitWorld, git_env, sh

V = Version(0, 6, 0)


def flow(
    world: GitWorld,
    *,
    dry_run: bool = False,
    events: list[str] | None = None,
    repo: Path | None = None,
    github: object = None,
) -> gitflow.Flow:
    return gitflow.Flow(
        git=Git(repo or world.work, environ=git_env()),
        github=github,  # type: ignore[arg-type]
        remote="origin",
        dev="dev",
        main="main",
        project=RepoRef("tenstorrent", "tt-inference-server"),
        dry_run=dry_run,
        on_event=(events.append if events is not None else lambda _: None),
    )


def files(world: GitWorld) -> gitflow.ReleaseFiles:
    return gitflow.ReleaseFiles(world.work, world.work / "release_logs", world.work / "model_specs_output.json")


def prerelease(world: GitWorld, source: str | None, *, show=None, **kw: object) -> gitflow.FlowOutcome:
    return gitflow.prerelease_flow(
        flow(world, **kw),  # type: ignore[arg-type]
        V,
        files(world),
        source=source,
        ci_repo=RepoRef("tenstorrent", "tt-shield"),
        show=show or (lambda _: None),
    )


# -- the git client ---------------------------------------------------------------------------------------
def test_git_client_reports_stderr(git_world: GitWorld) -> None:
    git = Git(git_world.work, environ=git_env())
    with pytest.raises(GitError) as e:
        git.run("checkout", "no-such-branch")
    assert "no-such-branch" in e.value.stderr and e.value.returncode == 1
    assert "git checkout no-such-branch failed" in str(e.value)
    assert git.rev_parse("no-such-ref") is None
    assert git.current_branch() == "dev"
    heads = git.ls_remote("origin", "refs/heads/*")
    assert set(heads) == {"refs/heads/main", "refs/heads/dev"}
    assert git.show_file("HEAD", "VERSION") == "0.5.0\n"
    assert git.show_file("HEAD", "missing.txt") is None
    [c] = git.commits("-n", "1", "HEAD")
    assert c.subject == "dev work 2" and not c.is_merge and len(c.parents) == 1


def test_git_client_never_uses_a_shell(git_world: GitWorld) -> None:
    git = Git(git_world.work, environ=git_env())
    assert git.rev_parse("HEAD; touch /tmp/pwned") is None  # a ref name, not a command line
    assert not Path("/tmp/pwned").exists()


# -- pre-release --------------------------------------------------------------------------------------------
def test_prerelease_creates_checks_out_and_pushes(git_world: GitWorld) -> None:
    source = sh(git_world.work, "rev-parse", "HEAD~1")
    events: list[str] = []
    out = prerelease(git_world, source, events=events)
    assert out.result is not None
    assert git_world.remote_sha("refs/heads/pre-release-v0.6.0") == source
    assert sh(git_world.work, "branch", "--show-current") == "pre-release-v0.6.0"
    assert sh(git_world.work, "rev-parse", "HEAD") == source
    # every command is announced before it runs
    assert [e for e in events if e.startswith("$ git ") and "fetch" not in e] == [
        f"$ git branch pre-release-v0.6.0 {source}",
        "$ git switch pre-release-v0.6.0",
        "$ git push --set-upstream origin pre-release-v0.6.0:refs/heads/pre-release-v0.6.0",
    ]
    # a re-run plans nothing
    again = prerelease(git_world, source)
    assert again.plan.converged and again.result is None


def test_prerelease_dry_run_changes_nothing(git_world: GitWorld) -> None:
    source = sh(git_world.work, "rev-parse", "HEAD")
    before = (git_world.refs(), git_world.refs(git_world.work), sh(git_world.work, "status", "--porcelain"))
    shown: list[str] = []
    out = prerelease(git_world, source, dry_run=True, show=shown.append)
    assert out.result is None and not out.plan.converged
    assert "git branch pre-release-v0.6.0" in shown[0] and "git push --set-upstream origin" in shown[0]
    after = (git_world.refs(), git_world.refs(git_world.work), sh(git_world.work, "status", "--porcelain"))
    assert after == before


def test_prerelease_refuses_dirty_tree(git_world: GitWorld) -> None:
    (git_world.work / "README.md").write_text("edited\n")
    with pytest.raises(GitStateError, match=r"uncommitted changes \(1 file\(s\): README.md\)"):
        prerelease(git_world, sh(git_world.work, "rev-parse", "HEAD"))
    assert git_world.remote_sha("refs/heads/pre-release-v0.6.0") is None


def test_prerelease_refuses_missing_remote_and_unknown_commit(git_world: GitWorld) -> None:
    with pytest.raises(InputError, match="not a commit of this repository"):
        prerelease(git_world, "0123456789abcdef0123456789abcdef01234567")
    sh(git_world.work, "remote", "rename", "origin", "upstream")
    with pytest.raises(GitStateError, match="no remote 'origin'"):
        prerelease(git_world, "HEAD")


def test_prerelease_refuses_an_existing_branch_from_elsewhere(git_world: GitWorld) -> None:
    sh(git_world.work, "branch", "pre-release-v0.6.0", "HEAD~2")
    with pytest.raises(GitStateError, match="already exists at .* and was not made from"):
        prerelease(git_world, sh(git_world.work, "rev-parse", "HEAD"))
    # ... and one on the remote only, too
    sh(git_world.work, "branch", "-D", "pre-release-v0.6.0")
    git_world.push_commit("pre-release-v0.6.0", "someone else's branch", start="main")
    with pytest.raises(GitStateError, match="origin/pre-release-v0.6.0 exists at .* does not contain"):
        prerelease(git_world, sh(git_world.work, "rev-parse", "HEAD~2"))


def test_prerelease_rerun_after_release_commits_pushes_them(git_world: GitWorld) -> None:
    source = sh(git_world.work, "rev-parse", "HEAD")
    prerelease(git_world, source)
    kit = git_world.commit(git_world.work, "Update model specs\n\nRelease-Kit: spec.update")
    out = prerelease(git_world, source)
    assert [s.describe() for s in out.plan.actions] == [
        "git push origin pre-release-v0.6.0:refs/heads/pre-release-v0.6.0"
    ]
    assert git_world.remote_sha("refs/heads/pre-release-v0.6.0") == kit


def test_prerelease_with_branch_checked_out_elsewhere_on_remote_ahead(git_world: GitWorld) -> None:
    source = sh(git_world.work, "rev-parse", "HEAD")
    prerelease(git_world, source)
    git_world.push_commit("pre-release-v0.6.0", "a colleague's fix")
    with pytest.raises(GitStateError, match="is ahead of your local"):
        prerelease(git_world, source)


# -- rc -----------------------------------------------------------------------------------------------------
def rc(world: GitWorld, **kw: object) -> gitflow.FlowOutcome:
    return gitflow.rc_flow(flow(world, **kw), V, show=lambda _: None)  # type: ignore[arg-type]


def test_rc_waits_for_the_merge_commit(git_world: GitWorld) -> None:
    with pytest.raises(GitStateError, match="exists neither on origin nor locally"):
        rc(git_world)
    prerelease(git_world, sh(git_world.work, "rev-parse", "HEAD"))
    git_world.commit(git_world.work, "release changes")
    prerelease(git_world, sh(git_world.work, "rev-parse", "HEAD~1"))
    with pytest.raises(GitStateError, match="is not merged into origin/dev"):
        rc(git_world)
    git_world.push_commit("dev", "more dev work")  # dev moved on: a fast-forward is impossible
    git_world.merge_pr("pre-release-v0.6.0", "dev", how="squash")
    with pytest.raises(GitStateError, match="not merged into origin/dev: merge its PR with 'Create a merge commit'"):
        rc(git_world)
    merge = git_world.merge_pr("pre-release-v0.6.0", "dev", how="merge")
    out = rc(git_world)
    assert ("merged", f"into dev by merge commit {merge[:12]}") in out.plan.facts
    pre = git_world.remote_sha("refs/heads/pre-release-v0.6.0")
    assert git_world.remote_sha("refs/heads/rc-v0.6.0") == pre
    assert sh(git_world.work, "branch", "--show-current") == "rc-v0.6.0"
    assert rc(git_world).plan.converged


def test_rc_refuses_a_fast_forward_merge(git_world: GitWorld) -> None:
    prerelease(git_world, sh(git_world.work, "rev-parse", "HEAD"))
    git_world.commit(git_world.work, "release changes")
    prerelease(git_world, sh(git_world.work, "rev-parse", "HEAD~1"))
    git_world.merge_pr("pre-release-v0.6.0", "dev", how="ff")
    with pytest.raises(GitStateError, match="without a merge commit"):
        rc(git_world)


# -- hot-fix ------------------------------------------------------------------------------------------------
def cut_rc(world: GitWorld) -> str:
    prerelease(world, sh(world.work, "rev-parse", "HEAD"))
    world.commit(world.work, "Bump VERSION\n\nRelease-Kit: images.promote", {"VERSION": "0.6.0\n"})
    prerelease(world, sh(world.work, "rev-parse", "HEAD~1"))
    world.merge_pr("pre-release-v0.6.0", "dev")
    rc(world)
    return str(world.remote_sha("refs/heads/rc-v0.6.0"))


def hotfix(world: GitWorld, name: str, user: str | None = None) -> gitflow.FlowOutcome:
    return gitflow.hotfix_flow(flow(world), name, user, None, show=lambda _: None)


def apply(world: GitWorld, target: str, **kw: object) -> gitflow.FlowOutcome:
    return gitflow.apply_hotfix_flow(flow(world, **kw), target, None, show=lambda _: None)  # type: ignore[arg-type]


def test_hotfix_branch_from_rc_then_fast_forward(git_world: GitWorld) -> None:
    rc_sha = cut_rc(git_world)
    hotfix(git_world, "Fix Qwen OOM!")
    branch = "alice/hot-fix-fix-qwen-oom"
    assert git_world.remote_sha(f"refs/heads/{branch}") == rc_sha
    assert sh(git_world.work, "branch", "--show-current") == branch
    fix = git_world.commit(git_world.work, "Fix the OOM", {"src/fix.py": "ok = True\n"})
    out = hotfix(git_world, "Fix Qwen OOM!")  # re-run: pushes the new commit
    assert [s.describe() for s in out.plan.actions] == [f"git push origin {branch}:refs/heads/{branch}"]
    with pytest.raises(GitStateError, match="is not on origin/dev"):
        apply(git_world, fix)
    git_world.push_commit("dev", "unrelated dev work")
    merge = git_world.merge_pr(branch, "dev")
    out = apply(git_world, merge)
    assert [s.describe() for s in out.plan.actions][-2:] == [
        f"git merge --ff-only {fix}",
        "git push origin rc-v0.6.0:refs/heads/rc-v0.6.0",
    ]
    assert git_world.remote_sha("refs/heads/rc-v0.6.0") == fix  # the same commit id as on dev
    assert apply(git_world, merge).plan.converged
    assert apply(git_world, fix).plan.converged


def test_second_hotfix_is_cherry_picked_with_x(git_world: GitWorld) -> None:
    cut_rc(git_world)
    hotfix(git_world, "first")
    first = git_world.commit(git_world.work, "first fix", {"src/a.py": "a = 1\n"})
    hotfix(git_world, "first")
    sh(git_world.work, "switch", "-q", "rc-v0.6.0")
    hotfix(git_world, "second")  # branched from the RC before the first fix is applied
    second = git_world.commit(git_world.work, "second fix", {"src/b.py": "b = 1\n"})
    hotfix(git_world, "second")
    m1 = git_world.merge_pr("alice/hot-fix-first", "dev")
    m2 = git_world.merge_pr("alice/hot-fix-second", "dev")
    apply(git_world, m1)
    out = apply(git_world, m2)
    assert any(s.describe() == f"git cherry-pick -x {second}" for s in out.plan.actions)
    rc_tip = str(git_world.remote_sha("refs/heads/rc-v0.6.0"))
    msg = sh(git_world.work, "log", "-1", "--format=%B", rc_tip)
    assert f"(cherry picked from commit {second})" in msg
    assert sh(git_world.work, "rev-parse", f"{rc_tip}~1") == first
    assert apply(git_world, m2).plan.converged  # the same patch is recognised


def test_apply_refuses_squash_and_dirty_tree(git_world: GitWorld) -> None:
    cut_rc(git_world)
    hotfix(git_world, "squashy")
    git_world.commit(git_world.work, "a fix")
    hotfix(git_world, "squashy")
    squashed = git_world.merge_pr("alice/hot-fix-squashy", "dev", how="squash")
    with pytest.raises(GitStateError, match="without a merge commit"):
        apply(git_world, squashed)
    (git_world.work / "VERSION").write_text("9.9.9\n")
    with pytest.raises(GitStateError, match="uncommitted changes"):
        apply(git_world, squashed)


def test_apply_dry_run_changes_nothing(git_world: GitWorld) -> None:
    cut_rc(git_world)
    hotfix(git_world, "dry")
    git_world.commit(git_world.work, "a fix")
    hotfix(git_world, "dry")
    merge = git_world.merge_pr("alice/hot-fix-dry", "dev")
    before = (git_world.refs(), git_world.refs(git_world.work))
    out = apply(git_world, merge, dry_run=True)
    assert out.result is None and out.plan.actions
    assert (git_world.refs(), git_world.refs(git_world.work)) == before


def test_hotfix_names() -> None:
    assert gitflow.hotfix_branch("Alice.Smith", "Fix: Llama 70B / T3K") == "alice.smith/hot-fix-fix-llama-70b-t3k"
    with pytest.raises(InputError):
        gitflow.hotfix_branch("alice", "!!!")
    assert gitflow.newest_rc(["dev", "rc-v0.9.0", "rc-v0.10.0", "rc-vx"]) == "rc-v0.10.0"


# -- the task layer -----------------------------------------------------------------------------------------
def inv(world: GitWorld, *args: str) -> subprocess.CompletedProcess[str]:
    env = git_env()
    env["RELEASE_REPO_ROOT"] = str(world.work)
    for var in ("GH_PAT", "GITHUB_TOKEN"):
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), *args],
        cwd=world.work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_tasks_print_the_plan_and_fail_in_one_line(git_world: GitWorld) -> None:
    dry = inv(git_world, "git.prerelease", "--version", "0.6.0", "--from", "HEAD", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1. git branch pre-release-v0.6.0" in dry.stdout and "dry run: nothing was changed" in dry.stdout
    assert git_world.remote_sha("refs/heads/pre-release-v0.6.0") is None
    (git_world.work / "VERSION").write_text("0.6.0\n")
    dirty = inv(git_world, "git.prerelease", "--version", "0.6.0", "--from", "HEAD")
    assert dirty.returncode == 3
    assert dirty.stderr.strip().splitlines()[-1].startswith("error: the working tree has uncommitted changes")
    bad = inv(git_world, "git.rc", "--version", "0.6")
    assert bad.returncode == 2 and "--version: '0.6' is not a MAJOR.MINOR.PATCH version" in bad.stderr


def test_default_from_is_the_head_of_the_newest_last_good_run(git_world: GitWorld) -> None:
    source = sh(git_world.work, "rev-parse", "HEAD~2")
    logs = git_world.work / "release_logs"
    logs.mkdir()
    record = {"ci_run_id": 111, "ci_run_number": 7, "ci_run_url": "https://github.com/o/r/actions/runs/111"}
    (logs / "models_ci_last_good_5_to_7.json").write_text(json.dumps({"m1": record, "m2": {}}))
    with pytest.raises(ConfigError, match="needs the GitHub API: set GH_PAT, or pass --from SHA"):
        prerelease(git_world, None)
    entry = {"ci_metadata": {"run_id": 111, "run_number": 7, "head_sha": source}}
    (logs / "models_ci_all_results_5_to_7.json").write_text(json.dumps({"m1": [entry]}))
    out = prerelease(git_world, None)
    assert ("from", f"{source[:12]} (head of Models CI run 7)") in out.plan.facts
    assert git_world.remote_sha("refs/heads/pre-release-v0.6.0") == source


def test_branch_guard(git_world: GitWorld) -> None:
    git = Git(git_world.work, environ=git_env())
    gitflow.branch_guard(git, "dev", step="spec.update")
    with pytest.raises(GitStateError, match="spec.update must run on pre-release-v0.6.0, but dev is checked out"):
        gitflow.branch_guard(git, "pre-release-v0.6.0", step="spec.update")
