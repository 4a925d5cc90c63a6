"""Pure: the commits carried by image tags, and how commit references are compared.

Models CI tags are `<ci version>-<tt-metal>-<vLLM>-<job id>` (or without vLLM for media/forge images); released
tags are `<VERSION>-<tt-metal>-<vLLM>`. The tt-metal part may itself contain hyphens (`v0.61.1-rc1`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TagCommits:
    version: str
    tt_metal: str
    vllm: str | None
    suffix: str | None  # the CI job id at the end of Models CI tags


_TAG_WITH_VLLM = re.compile(r"^(?P<ver>\d+\.\d+\.\d+)-(?P<tm>.+?)-(?P<vllm>[0-9a-f]{7,40})(?:-(?P<sfx>\d+))?$")
_TAG_NO_VLLM = re.compile(r"^(?P<ver>\d+\.\d+\.\d+)-(?P<tm>.+?)(?:-(?P<sfx>\d{6,}))?$")
_HEX = re.compile(r"^[0-9a-f]{7,40}$")


def parse_commit_tag(tag: str, *, has_vllm: bool) -> TagCommits | None:
    """`0.0.5-<tm>-<vllm>-<job id>` or `0.5.0-<tm>-<vllm>` (or without vLLM for media/forge images).

    The tt-metal part may itself contain hyphens (`v0.61.1-rc1`); the vLLM part is a hex SHA.
    """
    m = (_TAG_WITH_VLLM if has_vllm else _TAG_NO_VLLM).match(tag)
    if not m:
        return None
    return TagCommits(m["ver"], m["tm"], m["vllm"] if has_vllm else None, m["sfx"])


def same_commit(expected: str, found: str) -> bool:
    """SHAs match by prefix in either direction (at least 7 characters); tags and branches must be equal."""
    a, b = expected.strip().lower(), found.strip().lower()
    if _HEX.match(a) and _HEX.match(b):
        return a.startswith(b) or b.startswith(a)
    return expected.strip() == found.strip()
