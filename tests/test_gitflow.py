"""The git choreography against real repositories: a bare origin, the engineer's clone, a maintainer's clone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from release import gitflow
from release.errors import GitError, GitStateError, InputError
from release.git import Git
from release.github_types import RepoRef
from release.sim.history import generate_history
from release.version import Version
from tests.builders import last_good_record
from tests.cli import run_inv
from tests.conftest import REPO_ROOT
from tests.services.git_world import GitWorld, git_env, sh
from tests.services.github_server import TOKEN, small_models

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
    return gitflow.ReleaseFiles(
        world.work, world.work / "release_logs", world.work / "workflows" / "model_specs.toml", world.work / "VERSION"
    )


def prerelease(world: GitWorld, source: str | None, *, show=None, **kw: object) -> gitflow.FlowOutcome:
    return gitflow.prerelease_flow(
        flow(world, **kw),  # type: ignore[arg-type]
        V,
        files(world),
        source=source,
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
    return run_inv("-r", str(REPO_ROOT), *args, cwd=world.work, env=env)


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


def record(run: int, job: int, commit: str | None) -> dict:
    return last_good_record("i", run, ci_run_id=1000 + run, ci_job_id=job, tt_inference_server_commit=commit)


def write_ci_files(world: GitWorld, last_good: dict, all_results: dict | None = None, span: str = "5_to_7") -> None:
    logs = world.work / "release_logs"
    logs.mkdir(exist_ok=True)
    (logs / f"models_ci_last_good_{span}.json").write_text(json.dumps(last_good))
    if all_results is not None:
        (logs / f"models_ci_all_results_{span}.json").write_text(json.dumps(all_results))


def test_default_from_is_the_commit_the_newest_last_good_run_tested(git_world: GitWorld) -> None:
    source = sh(git_world.work, "rev-parse", "HEAD~2")
    other = sh(git_world.work, "rev-parse", "HEAD~1")
    line = f"HEAD is now at {source[:7]} dev work 0"
    checkout = {"commit": source[:7], "line_number": 41, "line": line}
    entry = {"ci_metadata": {"run_id": 1007, "run_number": 7, "ci_job_metadata": {"job_id": 71}}, "ci_logs": {
        "tt_inference_server_checkout": checkout}}  # fmt: skip
    write_ci_files(
        git_world,
        {"m1": record(7, 71, source[:7]), "m2": record(5, 51, other), "m3": record(6, 61, None), "m4": {}},
        {"m1": [entry]},
    )
    shown: list[str] = []
    out = prerelease(git_world, None, show=shown.append)
    facts = dict(out.plan.facts)
    assert facts["from"] == f"{source[:12]} (tt-inference-server commit tested by Models CI run 7, job 71)"
    assert facts["log line"] == f"41: {line}"
    assert [v for k, v in out.plan.facts if k == "other commit"] == [
        f"m2: {other[:12]} (run 5)",
        "m3: unknown (no checkout in the job log) (run 6)",
    ]
    assert git_world.remote_sha("refs/heads/pre-release-v0.6.0") == source  # the prefix, expanded
    assert "log line" in shown[0] and "other commit" in shown[0]


@pytest.mark.parametrize(
    ("last_good", "message"),
    [
        ({"m1": record(7, 71, "deadbee"), "m2": record(5, 51, None)},
         r"Models CI run 7, job 71 is deadbee, which is not a commit of this repository .* Pass --from SHA"),
        ({"m1": record(7, 71, None), "m2": record(5, 51, "deadbee")},
         r"Models CI run 7 \(job 71, m1\): its job log shows no tt-inference-server checkout .* pass --from SHA"),
        ({"m1": record(7, 71, "1111111"), "m2": record(7, 72, "2222222")},
         r"the jobs of Models CI run 7 checked out different .*job 71 \(m1\): 1111111; job 72 \(m2\): 2222222"),
        ({"m1": {}}, "no model has a last good Models CI run"),
    ],
)  # fmt: skip
def test_default_from_refuses_what_it_cannot_resolve(git_world: GitWorld, last_good: dict, message: str) -> None:
    write_ci_files(git_world, last_good)
    with pytest.raises(InputError, match=message):
        prerelease(git_world, None)
    assert git_world.remote_sha("refs/heads/pre-release-v0.6.0") is None


def test_an_unresolvable_default_is_exit_2_in_one_line(git_world: GitWorld) -> None:
    write_ci_files(git_world, {"m1": record(7, 71, "deadbee")})
    done = inv(git_world, "git.prerelease", "--version", "0.6.0")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: tt-inference-server commit tested by Models CI run 7, job 71") and "--from" in last


def test_an_ambiguous_prefix_is_refused(git_world: GitWorld) -> None:
    """Commits are made until two share their first four hex digits (git's shortest abbreviation)."""
    tree = sh(git_world.work, "rev-parse", "HEAD^{tree}")
    by_prefix: dict[str, str] = {}
    prefix = None
    for n in range(5000):
        sha = sh(git_world.work, "commit-tree", tree, "-m", f"filler {n}")
        if sha[:4] in by_prefix:
            prefix = sha[:4]
            break
        by_prefix[sha[:4]] = sha
    assert prefix is not None
    write_ci_files(git_world, {"m1": record(7, 71, prefix)})
    with pytest.raises(InputError, match=rf"run 7, job 71 is {prefix}, a prefix of 2 commits here .* --from"):
        prerelease(git_world, None)


def test_prerelease_after_ci_read_branches_from_the_commit_ci_tested(git_world: GitWorld, github_factory) -> None:
    """`inv ci.read`, then `inv git.prerelease --version X` with no --from: the branch starts at the
    tt-inference-server commit that the newest last-good run checked out (read from its job logs)."""
    commits = [sh(git_world.work, "rev-parse", f"HEAD~{n}") for n in (2, 1, 0)]
    hist = generate_history(small_models()[:4], runs=5, seed=4, special_runs=False, expired_runs=0,
                            project_commits=commits)  # fmt: skip
    server = github_factory(hist)
    truth = hist.expected_last_good(4)
    newest = max(run for run, _ in truth.values())
    expected = next(r.project_commit for r in hist.runs if r.run_number == newest)
    (git_world.work / "workflows").mkdir()
    shutil.copy(REPO_ROOT / "workflows" / "model_specs.toml", git_world.work / "workflows" / "model_specs.toml")
    env = {**git_env(), "RELEASE_REPO_ROOT": str(git_world.work), "GITHUB_API_URL": server.api_url, "GH_PAT": TOKEN}

    def task(*args: str, token: bool = True) -> subprocess.CompletedProcess[str]:
        run_env = env if token else {k: v for k, v in env.items() if k != "GH_PAT"}
        return subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), *args], cwd=git_world.work,
                              env=run_env, capture_output=True, text=True, check=False)  # fmt: skip

    read = task("ci.read", "--max-runs", "4")
    assert read.returncode == 0, read.stderr
    done = task("git.prerelease", "--version", "0.6.0", token=False)  # no GitHub needed
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"{expected[:12]} (tt-inference-server commit tested by Models CI run {newest}, job " in done.stdout
    assert "log line" in done.stdout
    assert git_world.remote_sha("refs/heads/pre-release-v0.6.0") == expected


def test_commit_and_push_run_on_the_release_branch_only_and_converge(git_world: GitWorld) -> None:
    """The composites' commit and push steps: a plan of `git add` + `git commit` with the kit's message, then a
    fast-forward push; each refuses another branch, and a re-run plans nothing."""
    work, branch = git_world.work, "pre-release-v0.6.0"
    paths = ["VERSION", "release_logs/dev_artifacts_summary.md"]
    with pytest.raises(GitStateError, match=f"prerelease must run on {branch}, but dev is checked out"):
        gitflow.commit_flow(flow(git_world), branch, paths, step="prerelease", version=V, show=lambda _: None)
    with pytest.raises(GitStateError, match=f"push must run on {branch}, but dev is checked out"):
        gitflow.push_flow(flow(git_world), branch, show=lambda _: None)
    prerelease(git_world, sh(work, "rev-parse", "HEAD"))
    (work / "VERSION").write_text("0.6.0\n")
    (work / "release_logs").mkdir(exist_ok=True)
    (work / "release_logs" / "dev_artifacts_summary.md").write_text("# images\n")
    (work / "unrelated.txt").write_text("not a release file\n")  # untracked, not listed: left alone
    head, shown = sh(work, "rev-parse", "HEAD"), []
    dry = gitflow.commit_flow(flow(git_world, dry_run=True), branch, paths, step="prerelease", version=V,
                              show=shown.append)  # fmt: skip
    assert dry.result is None and dry.files == tuple(paths) and "git commit -q -m 'Pre-release 0.6.0:" in shown[0]
    assert sh(work, "diff", "--cached", "--name-only") == "" and sh(work, "rev-parse", "HEAD") == head  # dry run
    out = gitflow.commit_flow(flow(git_world), branch, paths, step="prerelease", version=V, show=lambda _: None)
    assert out.files == tuple(paths) and out.result is not None
    message = sh(work, "log", "-1", "--format=%B")
    assert message.startswith("Pre-release 0.6.0: VERSION and images\n") and "- VERSION\n" in message
    assert sh(work, "show", "--name-only", "--format=", "HEAD").split() == paths
    again = gitflow.commit_flow(flow(git_world), branch, paths, step="prerelease", version=V, show=lambda _: None)
    assert again.files == () and again.plan.converged
    pushed = gitflow.push_flow(flow(git_world), branch, show=lambda _: None)
    assert pushed.result is not None and git_world.remote_sha(f"refs/heads/{branch}") == sh(work, "rev-parse", "HEAD")
    assert gitflow.push_flow(flow(git_world), branch, show=lambda _: None).plan.converged
