"""The demo's workspace: a fresh folder, the project's bare origin at this checkout's HEAD, and the release
engineer's clone of it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from release.errors import ConfigError, ServiceError
from release.github_types import RepoRef

MARKER = ".release-kit-demo"
PROJECT = RepoRef("tenstorrent", "tt-inference-server")
IDENTITY = ("Demo Release Engineer", "release-engineer@example.com")


def fresh_workspace(path: Path, repo_root: Path) -> Path:
    """Delete and make again the demo workspace; refuse to delete a folder the demo did not make."""
    path = path.resolve()
    root = repo_root.resolve()
    if path == root or path in root.parents:
        raise ConfigError(f"the demo workspace {path} would contain the checkout; choose another --workspace")
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise ConfigError(
                f"{path} exists and was not made by the demo (no {MARKER} in it); choose another --workspace "
                "or delete it yourself"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("made by `python -m release.demo`; deleted and made again on every run\n")
    return path


def git(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=dict(env) if env else None, check=False
    )
    if proc.returncode != 0:
        raise ServiceError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def git_env() -> dict[str, str]:
    """The caller's environment without GIT_* variables (a hook or a worktree must not leak into the demo)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


@dataclass(frozen=True)
class ProjectRepo:
    origin: Path  # bare repository: the project's "GitHub" remote
    clone: Path  # the release engineer's checkout
    head: str  # the commit dev and main start at


def make_project(repo_root: Path, workspace: Path) -> ProjectRepo:
    """A bare origin with `dev` and `main` at this checkout's HEAD, and a clone of `dev` with a git identity."""
    env = git_env()
    head = git("rev-parse", "HEAD", cwd=repo_root, env=env)
    origin = workspace / "origin" / f"{PROJECT.name}.git"
    origin.parent.mkdir(parents=True)
    git("init", "-q", "--bare", "-b", "main", str(origin), env=env)
    # Fetched by the bare repository: nothing runs in (or is written to) the caller's checkout.
    git("--git-dir", str(origin), "fetch", "-q", "--no-tags", str(repo_root), f"{head}:refs/heads/main", env=env)
    git("--git-dir", str(origin), "update-ref", "refs/heads/dev", head, env=env)
    clone = workspace / PROJECT.name
    git("clone", "-q", "-b", "dev", str(origin), str(clone), env=env)
    git("config", "user.name", IDENTITY[0], cwd=clone, env=env)
    git("config", "user.email", IDENTITY[1], cwd=clone, env=env)
    return ProjectRepo(origin, clone, head)
