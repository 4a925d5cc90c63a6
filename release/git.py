"""The git client: `git` run as a subprocess with argument lists (never a shell). No policy lives here.

`Git(repo).run("fetch", "origin")` returns stdout; a non-zero exit raises `GitError` carrying stderr. The
small helpers below answer one question each (does this ref exist, is A an ancestor of B...) and leave every
decision to `release.gitflow`.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from release.errors import GitError
from release.git_types import Commit
from release.redact import redact_text

log = logging.getLogger(__name__)

# A field and a record separator that cannot occur in commit metadata.
_FS = "\x1f"
_RS = "\x1e"
_COMMIT_FORMAT = _FS.join(("%H", "%P", "%an", "%ae", "%s", "%B")) + _RS


class Git:
    """One repository (a working tree or a bare repository), driven through the `git` executable."""

    def __init__(self, repo: Path, *, executable: str = "git", environ: Mapping[str, str] | None = None) -> None:
        self.repo = Path(repo)
        self._exe = executable
        env = dict(os.environ if environ is None else environ)
        # Never wait for a password prompt, and keep messages in one language.
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["LC_ALL"] = "C"
        self._env = env

    def __repr__(self) -> str:
        return f"Git({str(self.repo)!r})"

    # -- the one primitive -------------------------------------------------------------------------------
    def run(self, *args: str, input: str | None = None, ok: Sequence[int] = (0,)) -> str:
        """Run `git <args>` in the repository; return stdout without its final newline."""
        out = self._exec(args, input=input, ok=ok)[1]
        return out[:-1] if out.endswith("\n") else out

    def _exec(self, args: Sequence[str], *, input: str | None = None, ok: Sequence[int] = (0,)) -> tuple[int, str]:
        argv = [self._exe, "-C", str(self.repo), *args]
        log.debug("run %s", redact_text(" ".join(argv)))
        try:
            proc = subprocess.run(argv, input=input, capture_output=True, text=True, env=self._env, check=False)
        except FileNotFoundError:
            raise GitError(f"{self._exe!r} not found: install git (apt-get install git) or put it on PATH") from None
        if proc.returncode not in ok:
            stderr = redact_text(proc.stderr.strip())
            lines = stderr.splitlines() or ["(no message)"]
            said = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[-1])
            if "not a git repository" in stderr:
                raise GitError(
                    f"{self.repo} is not a git checkout: run this in a clone of the project ({said})",
                    stderr=stderr,
                    returncode=proc.returncode,
                    exit_code=2,
                )
            raise GitError(
                f"git {redact_text(' '.join(args))} failed (exit {proc.returncode}): {said}",
                stderr=stderr,
                returncode=proc.returncode,
            )
        return proc.returncode, proc.stdout

    # -- questions -----------------------------------------------------------------------------------------
    def rev_parse(self, ref: str) -> str | None:
        """The commit `ref` names, or None when it names no commit here."""
        code, out = self._exec(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], ok=(0, 1))
        return out.strip() if code == 0 and out.strip() else None

    def current_branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        code, out = self._exec(["symbolic-ref", "--quiet", "--short", "HEAD"], ok=(0, 1))
        return out.strip() if code == 0 else None

    def head(self) -> str | None:
        return self.rev_parse("HEAD")

    def status_porcelain(self, *, untracked: bool = False) -> list[str]:
        """`git status --porcelain` lines; untracked files only when asked."""
        out = self.run("status", "--porcelain=v1", f"--untracked-files={'normal' if untracked else 'no'}")
        return [line for line in out.splitlines() if line.strip()]

    def remote_url(self, remote: str) -> str | None:
        code, out = self._exec(["config", "--get", f"remote.{remote}.url"], ok=(0, 1))
        return out.strip() if code == 0 else None

    def config_get(self, key: str) -> str | None:
        code, out = self._exec(["config", "--get", key], ok=(0, 1))
        return out.strip() if code == 0 else None

    def ls_remote(self, remote: str, *patterns: str) -> dict[str, str]:
        """{ref name: sha} on the remote (annotated tags also appear peeled, as `refs/tags/X^{}`)."""
        out = self.run("ls-remote", "--", remote, *patterns)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name:
                refs[name.strip()] = sha.strip()
        return refs

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        code, _ = self._exec(["merge-base", "--is-ancestor", ancestor, descendant], ok=(0, 1))
        return code == 0

    def has_commit(self, sha: str) -> bool:
        code, _ = self._exec(["cat-file", "-e", f"{sha}^{{commit}}"], ok=(0, 1, 128))
        return code == 0

    def rev_list(self, *args: str) -> list[str]:
        out = self.run("rev-list", *args)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def commits(self, *rev_args: str) -> list[Commit]:
        """Commits selected by `git log <rev_args>` (newest first unless `--reverse` is given)."""
        out = self.run("log", f"--format={_COMMIT_FORMAT}", *rev_args)
        result: list[Commit] = []
        for record in out.split(_RS):
            record = record.lstrip("\n")
            if not record:
                continue
            sha, parents, an, ae, subject, message = record.split(_FS, 5)
            result.append(Commit(sha, tuple(parents.split()), an, ae, subject, message.rstrip("\n")))
        return result

    def commit(self, ref: str) -> Commit:
        found = self.commits("-n", "1", ref, "--")
        if not found:
            raise GitError(f"{ref}: no such commit")
        return found[0]

    def cherry(self, upstream: str, head: str) -> list[tuple[str, str]]:
        """`git cherry upstream head`: ('+' or '-', sha) per commit of head; '-' = an equivalent is upstream."""
        out = self.run("cherry", upstream, head)
        pairs: list[tuple[str, str]] = []
        for line in out.splitlines():
            sign, _, sha = line.strip().partition(" ")
            if sha:
                pairs.append((sign, sha.strip()))
        return pairs

    def show_file(self, rev: str, path: str) -> str | None:
        """The content of `path` (relative to the repository root) at commit `rev`, or None when it has none."""
        code, _ = self._exec(["cat-file", "-e", f"{rev}:{path}"], ok=(0, 1, 128))
        if code != 0:
            return None
        return self._exec(["show", f"{rev}:{path}"])[1]

    def tag_target(self, tag: str) -> str | None:
        """The commit a local tag points at, or None."""
        return self.rev_parse(f"refs/tags/{tag}")
