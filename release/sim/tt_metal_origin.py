"""A bare git repository shaped like tt-metal, standing in for https://github.com/tenstorrent/tt-metal.git in
rehearsals (the demo's offline builds resolve their commits in it: RELEASE_TT_METAL_REPO) and the tests.

`make_origin(workdir, commits_count=4)`: that many commits (at least four; each with the base image's
`dockerfile/Dockerfile`, stage ci-build, FROM scratch), a lightweight tag `v0.61.1-rc1`, an annotated tag
`v0.62.0-rc33`, a branch `stable`, and a tag `x<short SHA of commit 0>` pointing elsewhere (a look-alike that
must never match commit 0).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BASE_DOCKERFILE = (
    "ARG UBUNTU_VERSION=22.04\n"
    "FROM scratch AS ci-build\n"
    "ARG UBUNTU_VERSION\n"
    "COPY VERSION.txt /opt/tt-metal/\n"
    'LABEL org.tenstorrent.release.kind="base" org.tenstorrent.release.ubuntu-version="${UBUNTU_VERSION}"\n'
)


@dataclass(frozen=True)
class Origin:
    path: Path
    commits: tuple[str, ...]  # full SHAs, oldest first

    @property
    def url(self) -> str:
        return str(self.path)

    def short(self, i: int) -> str:
        return self.commits[i][:7]


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env).stdout


def make_origin(workdir: Path, *, commits_count: int = 4, extra_tags: Sequence[str] = ()) -> Origin:
    """The bare repository `workdir/tt-metal.git`. `extra_tags` (names not already used) are lightweight tags on
    the newest commit: a rehearsal gives the tt-metal commits its catalogue names, so any image can be built."""
    work = workdir / "work"
    work.mkdir(parents=True)
    _git(work, "init", "-q", "-b", "main")
    commits = []
    for i in range(max(4, commits_count)):
        (work / "dockerfile").mkdir(exist_ok=True)
        (work / "dockerfile" / "Dockerfile").write_text(BASE_DOCKERFILE)
        (work / "VERSION.txt").write_text(f"tt-metal {i}\n")
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", f"commit {i}")
        commits.append(_git(work, "rev-parse", "HEAD").strip())
    _git(work, "tag", "v0.61.1-rc1", commits[1])
    _git(work, "tag", "-a", "-m", "rc33", "v0.62.0-rc33", commits[2])
    _git(work, "branch", "stable", commits[2])
    _git(work, "tag", f"x{commits[0][:7]}", commits[3])
    taken = set(_git(work, "for-each-ref", "--format=%(refname:short)").split())
    for name in dict.fromkeys(extra_tags):
        if name not in taken and name not in commits:
            _git(work, "tag", name, commits[-1])
    bare = workdir / "tt-metal.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    return Origin(bare, tuple(commits))
