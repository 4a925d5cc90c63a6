"""The tt-metal sources an image build needs: a commit resolved to its full SHA, and a checkout of it.

Both go through the git client with argument lists (no shell). Resolution never matches substrings (W-25):
- a 40-hex SHA is used as written;
- a tag or branch name is looked up with `git ls-remote` of exactly `refs/tags/X` and `refs/heads/X`
  (a peeled annotated tag wins);
- an abbreviated SHA is resolved by git itself (`rev-parse`, which refuses ambiguous prefixes) in a cached
  tree-less mirror of the repository's branches and tags.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

from release.errors import BuildError, GitError
from release.redact import redact_url

if TYPE_CHECKING:
    from release.git import Git

log = logging.getLogger(__name__)

DEFAULT_TT_METAL_REPO = "https://github.com/tenstorrent/tt-metal.git"
_FULL_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
_SHORT_SHA = re.compile(r"^[0-9a-fA-F]{4,39}$")
_REF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")  # no glob characters, no leading '-'


GitFactory = Callable[[Path], "Git"]  # a git client for a folder (release.wiring.git_at)


class CommitResolver:
    """`resolve("25305db")` → the 40-hex SHA in `url`; raises BuildError with the reason when it cannot."""

    def __init__(self, git: GitFactory, *, url: str, cache_dir: Path) -> None:
        self._git = git
        self.url = url
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()
        self._mirror_fetched = False

    def resolve(self, commit: str) -> str:
        commit = commit.strip()
        if _FULL_SHA.match(commit):
            return commit.lower()
        if not _REF_NAME.match(commit) or ".." in commit:
            raise BuildError(f"tt-metal commit {commit!r} is not a commit, tag or branch name")
        found = self._ls_remote(commit)
        if found:
            return found
        if _SHORT_SHA.match(commit):
            return self._from_mirror(commit)
        raise BuildError(
            f"tt-metal ref {commit!r} is neither a tag nor a branch of {redact_url(self.url)}: write the full commit "
            "SHA in the catalogue"
        )

    def _ls_remote(self, name: str) -> str | None:
        self.cache_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            out = self._git(self.cache_dir.parent).run(
                "ls-remote", "--", self.url, f"refs/tags/{name}", f"refs/tags/{name}^{{}}", f"refs/heads/{name}"
            )
        except GitError as e:
            raise BuildError(f"cannot list the refs of {redact_url(self.url)}: {e}") from None
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            refs[ref.strip()] = sha.strip()
        for ref in (f"refs/tags/{name}^{{}}", f"refs/tags/{name}", f"refs/heads/{name}"):
            if ref in refs:
                return refs[ref]
        return None

    def _from_mirror(self, prefix: str) -> str:
        with self._lock:
            self._ensure_mirror()
        mirror = self._git(self.cache_dir)
        try:
            out = mirror.run("rev-parse", "--verify", "--end-of-options", f"{prefix}^{{commit}}")
        except GitError as e:
            why = "is ambiguous" if "ambiguous" in (getattr(e, "stderr", "") or str(e)) else "names no commit"
            raise BuildError(
                f"tt-metal commit {prefix!r} {why} in {redact_url(self.url)} (branches and tags): write the full "
                "commit SHA in the catalogue"
            ) from None
        return out.strip()

    def _ensure_mirror(self) -> None:
        if self._mirror_fetched:
            return
        try:
            if not (self.cache_dir / "HEAD").exists():
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                self._git(self.cache_dir).run("init", "--bare", "--quiet")
            self._git(self.cache_dir).run(
                "fetch",
                "--quiet",
                "--filter=tree:0",
                "--prune",
                "--",
                self.url,
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            )
        except GitError as e:
            raise BuildError(f"cannot fetch {redact_url(self.url)} to resolve a short commit: {e}") from None
        self._mirror_fetched = True


@contextmanager
def checkout(git: GitFactory, *, url: str, sha: str, parent: Path | None = None) -> Iterator[Path]:
    """A temporary working tree of `url` at `sha` (fetched alone, depth 1); removed afterwards."""
    with TemporaryDirectory(prefix="tt-metal-", dir=parent) as tmp:
        work = Path(tmp)
        g = git(work)
        try:
            g.run("init", "--quiet")
            g.run("fetch", "--quiet", "--depth", "1", "--", url, sha)
            g.run("checkout", "--quiet", "--detach", "FETCH_HEAD")
        except GitError as e:
            raise BuildError(f"cannot check out tt-metal {sha} from {redact_url(url)}: {e}") from None
        yield work
