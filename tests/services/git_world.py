"""A real git world in a temp dir: a bare "origin" with `main` and `dev`, and clones of it.

`git_world` (function-scoped: each test mutates its own repositories) gives the release engineer's checkout
(`world.work`) and a maintainer's clone (`world.maint`) that plays GitHub's part when a PR is merged: a merge
commit, a squash or a rebase. Dates and identities are fixed, so commit ids are reproducible.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_TICK = itertools.count()


def git_env(name: str = "Release Engineer", email: str = "alice@example.com") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
    )
    return env


def sh(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    e = dict(env or git_env())
    n = next(_TICK)
    e.setdefault("GIT_AUTHOR_DATE", f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z")
    e.setdefault("GIT_COMMITTER_DATE", e["GIT_AUTHOR_DATE"])
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=e, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class GitWorld:
    root: Path
    origin: Path
    work: Path
    maint: Path
    env: dict[str, str] = field(default_factory=git_env)

    def commit(self, repo: Path, message: str, files: dict[str, str] | None = None) -> str:
        for name, text in (files or {f"notes/{next(_TICK)}.txt": message}).items():
            p = repo / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
            sh(repo, "add", name)
        sh(repo, "commit", "-q", "-m", message)
        return sh(repo, "rev-parse", "HEAD")

    def remote_sha(self, ref: str) -> str | None:
        out = subprocess.run(
            ["git", "-C", str(self.origin), "rev-parse", "--verify", "--quiet", ref],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() or None

    def refs(self, repo: Path | None = None) -> str:
        return sh(repo or self.origin, "for-each-ref", "--format=%(refname) %(objectname)")

    def merge_pr(self, head: str, base: str, how: str = "merge", message: str | None = None) -> str:
        """Merge origin's `head` into `base` as GitHub would (merge commit, squash or rebase); return base's sha."""
        m = self.maint
        sh(m, "fetch", "-q", "origin")
        sh(m, "checkout", "-q", "-B", base, f"origin/{base}")
        if how == "merge":
            sh(m, "merge", "-q", "--no-ff", "-m", message or f"Merge pull request from {head}", f"origin/{head}")
        elif how == "squash":
            sh(m, "merge", "-q", "--squash", f"origin/{head}")
            sh(m, "commit", "-q", "-m", message or f"{head} (squashed)")
        elif how == "ff":
            sh(m, "merge", "-q", "--ff-only", f"origin/{head}")
        else:
            raise ValueError(how)
        sh(m, "push", "-q", "origin", f"{base}:refs/heads/{base}")
        return sh(m, "rev-parse", "HEAD")

    def push_commit(self, branch: str, message: str, files: dict[str, str] | None = None, start: str = "dev") -> str:
        """A maintainer's commit on origin's `branch` (created from `start` when missing)."""
        m = self.maint
        sh(m, "fetch", "-q", "origin")
        start = f"origin/{branch}" if self.remote_sha(f"refs/heads/{branch}") else f"origin/{start}"
        sh(m, "checkout", "-q", "-B", branch, start)
        sha = self.commit(m, message, files)
        sh(m, "push", "-q", "origin", f"{branch}:refs/heads/{branch}")
        return sha


def make_world(root: Path) -> GitWorld:
    origin = root / "origin.git"
    sh(root, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = root / "seed"
    sh(root, "init", "-q", "-b", "main", str(seed))
    world = GitWorld(root, origin, root / "work", root / "maint")
    world.commit(seed, "initial commit", {"README.md": "tt-inference-server\n", "VERSION": "0.5.0\n"})
    sh(seed, "remote", "add", "origin", str(origin))
    sh(seed, "push", "-q", "origin", "main")
    sh(seed, "checkout", "-q", "-b", "dev")
    for i in range(3):
        world.commit(seed, f"dev work {i}", {f"src/feature_{i}.py": f"x = {i}\n"})
    sh(seed, "push", "-q", "origin", "dev")
    sh(root, "clone", "-q", "-b", "dev", str(origin), str(world.work))
    sh(root, "clone", "-q", str(origin), str(world.maint))
    for repo in (world.work, world.maint):
        sh(repo, "config", "user.email", "alice@example.com")
        sh(repo, "config", "user.name", "Alice Release")
    return world


@pytest.fixture
def git_world(tmp_path: Path) -> Iterator[GitWorld]:
    yield make_world(tmp_path)
