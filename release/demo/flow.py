"""The release flow in the clone: `inv prerelease`, the maintainer's merge of the pre-release PR, `inv release` (or
the step tasks they are made of), each task a child process that a SIGTERM terminates."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from release import artifacts_summary, catalogue, release_inputs, wiring
from release.config import Config
from release.demo.console import banner, say
from release.demo.options import DemoOptions
from release.demo.services import Services
from release.demo.workspace import PROJECT, git
from release.errors import ReleaseError
from release.http import make_session
from release.notes import KIT_TRAILER
from release.version import Version


class StepFailed(ReleaseError):
    """A command of the flow failed; its own output above says why."""


class Interrupts:
    """SIGTERM handling that never leaves a task running: while a task runs, SIGTERM terminates it (and the demo
    stops after it); otherwise it interrupts the demo like Ctrl-C. A SIGTERM that arrives while a task is being
    started is held until the task is known, so it cannot escape."""

    def __init__(self) -> None:
        self.requested = False
        self.child: subprocess.Popen[bytes] | None = None
        self.spawning = False

    def on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self.child is not None:
            self.child.terminate()
        elif not self.spawning:
            raise KeyboardInterrupt

    def run(self, cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> int:
        self.spawning = True
        try:
            proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env))
            self.child = proc
        finally:
            self.spawning = False
        try:
            if self.requested:
                proc.terminate()
            return proc.wait()
        finally:
            self.child = None
            if proc.poll() is None:  # Ctrl-C or an error in the demo itself
                proc.kill()
                proc.wait()
            if self.requested:
                raise KeyboardInterrupt


INTERRUPTS = Interrupts()


def run_inv(services: Services, *args: str, label: str | None = None) -> None:
    """`inv ARGS` in the clone (its own tasks.py and release package) with the demo's environment."""
    banner(f"inv {' '.join(args)}" if label is None else label)
    cmd = [sys.executable, "-m", "invoke", *args]
    code = INTERRUPTS.run(cmd, cwd=services.project.clone, env=services.environment())
    if code != 0:
        raise StepFailed(f"`inv {' '.join(args)}` failed (exit {code}); see its output above", exit_code=code)


def has_composites(services: Services) -> bool:
    """Whether the clone's tasks.py has the top-level `prerelease` and `release` tasks."""
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "--list", "--list-format=json"],
        cwd=services.project.clone,
        env=services.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StepFailed(f"`inv --list` failed in {services.project.clone}: {proc.stderr.strip()[-500:]}")
    names = {t.get("name") for t in json.loads(proc.stdout).get("tasks", [])}
    return {"prerelease", "release"} <= names


def git_in_clone(services: Services, *args: str) -> str:
    return git(*args, cwd=services.project.clone, env=services.environment())


def commit_and_push(services: Services, message: str, kit_step: str) -> None:
    """Commit what the steps changed (catalogue, outputs, summaries) with the kit's trailer, then push."""
    git_in_clone(services, "add", "-A")
    if git_in_clone(services, "status", "--porcelain", "--untracked-files=no"):
        git_in_clone(services, "commit", "-q", "-m", message, "--trailer", f"{KIT_TRAILER}: {kit_step}")
    branch = git_in_clone(services, "rev-parse", "--abbrev-ref", "HEAD")
    git_in_clone(services, "push", "-q", "origin", f"{branch}:refs/heads/{branch}")
    say(f"committed and pushed {branch} ({git_in_clone(services, 'rev-parse', '--short', 'HEAD')})")


def newest_last_good(services: Services) -> str:
    path = release_inputs.newest_ci_file(services.project.clone / "release_logs", "last_good")
    if path is None:
        raise StepFailed("inv ci.read wrote no models_ci_last_good_*.json")
    return str(path.relative_to(services.project.clone))


def images_to_build(services: Services, summary: str) -> list[str]:
    found = artifacts_summary.read_if_exists(services.project.clone / "release_logs" / summary)
    return list(found.to_build) if found is not None else []


def build_step(services: Services, summary: str, *extra: str) -> None:
    wanted = images_to_build(services, summary)
    if not wanted:
        banner("images.build")
        say(f"nothing to build: release_logs/{summary} lists no images_to_build")
        return
    if services.dockerd is None:
        raise StepFailed(
            f"{len(wanted)} image(s) must be built but no Docker engine is available: {services.build_skipped}"
        )
    run_inv(services, "images.build", "--push", *extra, "--only-missing-from", f"release_logs/{summary}")


def prerelease_steps(services: Services, opts: DemoOptions, version: Version) -> None:
    """What `inv prerelease --increment minor` does, one step task at a time."""
    v = str(version)
    run_inv(services, "ci.read", "--max-runs", str(opts.runs))
    last_good = newest_last_good(services)
    run_inv(services, "git.prerelease", "--version", v)
    run_inv(services, "spec.update", last_good)
    run_inv(services, "images.promote", last_good, "--dev", "--increment", opts.increment)
    build_step(services, "dev_artifacts_summary.json")
    run_inv(services, "spec.update", "--output-only")
    banner("commit and push")
    commit_and_push(services, f"Pre-release v{v}: catalogue, outputs and artifact summaries", "prerelease")
    run_inv(services, "git.pr", "--prerelease", "--version", v)


def release_steps(services: Services, version: Version) -> None:
    """What `inv release` does, one step task at a time."""
    v = str(version)
    last_good = newest_last_good(services)
    run_inv(services, "git.rc", "--version", v)
    run_inv(services, "images.promote", last_good, "--release")
    build_step(services, "release_artifacts_summary.json", "--release")
    run_inv(services, "spec.update", last_good, "--against", "origin/main")
    banner("commit and push")
    commit_and_push(services, f"Release candidate v{v}: release artifact summary and models diff", "release")
    run_inv(services, "git.pr", "--rc", "--version", v)
    run_inv(services, "git.notes", "--version", v)


def merge_pull(services: Services, head: str, base: str) -> None:
    """The human step: merge the open PR head → base with a merge commit, on the simulator. The kit's GitHub client
    finds the PR and reads the merge back; the merge itself is the maintainer's request (the kit never merges)."""
    banner(f"merge the PR {head} → {base} (the maintainer's step, on the simulator)")
    cfg = Config.from_env(
        {"GITHUB_API_URL": services.server.api_url, "GITHUB_TOKEN": services.token.reveal()},
        repo_root=services.project.clone,
    )
    github = wiring.project_github_client(cfg)
    found = github.list_pulls(PROJECT, head=f"{PROJECT.owner}:{head}", base=base, state="open")
    if not found:
        raise StepFailed(f"no open PR {head} → {base} on the simulator")
    pr = found[0]
    headers = {"Authorization": f"Bearer {services.token.reveal()}", "Accept": "application/vnd.github+json"}
    session = make_session()
    try:
        url = f"{services.server.api_url}/repos/{PROJECT.owner}/{PROJECT.name}/pulls/{pr.number}/merge"
        resp = session.put(url, json={"merge_method": "merge"}, headers=headers)
        if resp.status_code != 200:
            raise StepFailed(f"merging PR #{pr.number} failed: HTTP {resp.status_code} {resp.text[:200]}")
    finally:
        session.close()
    merged = github.get_pull(PROJECT, pr.number)
    say(f"merged PR #{pr.number} with merge commit {(merged.merge_commit_sha or '')[:12]}\n  {pr.html_url}")


def run_flow(services: Services, opts: DemoOptions) -> Version:
    clone = services.project.clone
    version = catalogue.read_version(clone / "VERSION").bump(opts.increment)
    composites = has_composites(services) if opts.steps is None else not opts.steps
    say(
        f"\nrehearsing release v{version} with "
        + ("the composite tasks" if composites else "the step tasks (no `inv prerelease` in this checkout yet)")
        + f"\n  in {clone}"
    )
    say("environment:\n" + services.shown_environment())
    if composites:
        run_inv(services, "prerelease", "--increment", opts.increment, "--max-runs", str(opts.runs))
    else:
        prerelease_steps(services, opts, version)
    merge_pull(services, f"pre-release-v{version}", "dev")
    if composites:
        run_inv(services, "release")
    else:
        release_steps(services, version)
    return version
