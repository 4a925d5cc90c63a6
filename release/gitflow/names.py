"""Pure: the names of the release's branches and tags, and of hot-fix branches."""

from __future__ import annotations

import re
from collections.abc import Sequence

from release.errors import InputError
from release.version import Version


def prerelease_branch(version: Version) -> str:
    return f"pre-release-v{version}"


def rc_branch(version: Version) -> str:
    return f"rc-v{version}"


def release_tag(version: Version) -> str:
    return f"v{version}"


def slug(text: str) -> str:
    """A branch-name-safe form of free text: `Fix Qwen OOM!` → `fix-qwen-oom`."""
    s = re.sub(r"[^a-z0-9._]+", "-", text.strip().lower()).strip("-._")
    s = re.sub(r"\.{2,}", ".", s)
    return s


def hotfix_branch(user: str, desc: str) -> str:
    u, d = slug(user), slug(desc)
    if not u:
        raise InputError(f"--user {user!r} gives an empty branch prefix; use letters or digits")
    if not d:
        raise InputError(f"--name {desc!r} gives an empty branch name; describe the fix in a few words")
    return f"{u}/hot-fix-{d}"


_RC = re.compile(r"^rc-v(\d+\.\d+\.\d+)$")


def newest_rc(branches: Sequence[str]) -> str | None:
    """The `rc-vX.Y.Z` branch with the highest version among `branches`."""
    found = [(Version.parse(m[1]), b) for b in branches if (m := _RC.match(b))]
    return max(found)[1] if found else None
