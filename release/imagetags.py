"""Pure: the commits carried by image tags (the kit's one parser of them), and how commit references compare.

Tag shapes (§2.4), `<version>-<tt-metal>[-<vLLM>][-<job id>]`:
- Models CI: `0.0.5-<40 hex tt-metal>-<7 hex vLLM>-<job id>`, or `0.0.5-<40 hex>[-<job id>]` for media/forge;
- released dev/release images: `0.5.0-<tt-metal[:12]>-<vLLM[:12]>`; cloud images: the commits untruncated;
- explicit media images: `0.4.0-<40 hex tt-metal>`.
The tt-metal part may be a tag with hyphens (`v0.61.1-rc1`); the vLLM part is a 7–40 hex SHA; a job id is digits.

Whether a vLLM part is there is known to most callers (the catalogue's vllm_commit, the spec's engine) and
passed as `has_vllm`. Without it (None) the tag decides: a hex part before a trailing number is the vLLM SHA and
the number a job id; a trailing number of 9 or more digits, or one after a 40-hex tt-metal SHA, is a job id;
otherwise a trailing hex part is the vLLM SHA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TAG = 128  # the longest tag the OCI distribution spec allows

_VERSION = re.compile(r"\d+\.\d+\.\d+")
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"^[0-9a-f]{7,40}$")
JOB_ID_DIGITS = 9  # without a hint, a trailing number this long is a job id (GitHub's have 11 digits)
MIN_SUFFIX_DIGITS = 6  # a shorter trailing number is part of the tt-metal reference


@dataclass(frozen=True)
class TagCommits:
    version: str
    tt_metal: str
    vllm: str | None
    suffix: str | None  # the CI job id at the end of Models CI tags


def parse_commit_tag(tag: str, *, has_vllm: bool | None = None) -> TagCommits | None:
    """The version, tt-metal reference, vLLM SHA and job id of a tag; None when the tag has another shape
    (no `X.Y.Z-` start, an empty part, or no vLLM part although `has_vllm`)."""
    if len(tag) > MAX_TAG:
        return None
    version, sep, rest = tag.partition("-")
    if not sep or not _VERSION.fullmatch(version):
        return None
    parts = rest.split("-")
    if not all(parts):
        return None
    reading = _reading(parts, has_vllm)
    if reading is None:
        return None
    metal_parts, vllm, suffix = reading
    return TagCommits(version, "-".join(parts[:metal_parts]), vllm, suffix)


def _reading(parts: list[str], has_vllm: bool | None) -> tuple[int, str | None, str | None] | None:
    """(how many leading parts are the tt-metal reference, vLLM, job id)."""
    n = len(parts)
    last = parts[-1]
    with_both = n >= 3 and _DIGITS.fullmatch(last) is not None and _SHA.fullmatch(parts[-2]) is not None
    with_vllm = n >= 2 and _SHA.fullmatch(last) is not None
    with_suffix = n >= 2 and _DIGITS.fullmatch(last) is not None and len(last) >= MIN_SUFFIX_DIGITS
    if has_vllm is True:
        if with_both:
            return n - 2, parts[-2], last
        return (n - 1, last, None) if with_vllm else None
    if has_vllm is False:
        return (n - 1, None, last) if with_suffix else (n, None, None)
    if with_both:
        return n - 2, parts[-2], last
    job_id = with_suffix and (len(last) >= JOB_ID_DIGITS or (n == 2 and _FULL_SHA.fullmatch(parts[0]) is not None))
    if job_id:
        return n - 1, None, last
    if with_vllm:
        return n - 1, last, None
    if with_suffix:
        return n - 1, None, last
    return n, None, None


def image_tag(image: str) -> str | None:
    """The tag of an image reference (`host:port/repo:tag@digest` → `tag`), or None."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1] or None


def image_commits(image: str | None, *, has_vllm: bool | None = None) -> tuple[str | None, str | None]:
    """(tt-metal, vLLM) of an image's tag; (None, None) when it carries none (see parse_commit_tag)."""
    tag = image_tag(image) if image else None
    parsed = parse_commit_tag(tag, has_vllm=has_vllm) if tag else None
    if parsed is None:
        return None, None
    return parsed.tt_metal, parsed.vllm


def commits_disagree(tag: TagCommits, *, tt_metal: str | None, vllm: str | None) -> tuple[str, str, str | None] | None:
    """The first commit a tag disagrees on, as (which, expected, in the tag): "tt-metal" or "vLLM"; None when the
    tag agrees. An expected commit of None is not checked."""
    if tt_metal is not None and not same_commit(tt_metal, tag.tt_metal):
        return "tt-metal", tt_metal, tag.tt_metal
    if vllm is not None and not same_commit(vllm, tag.vllm or ""):
        return "vLLM", vllm, tag.vllm
    return None


def same_commit(expected: str, found: str) -> bool:
    """SHAs match by prefix in either direction (at least 7 characters); tags and branches must be equal."""
    a, b = expected.strip().lower(), found.strip().lower()
    if _HEX.match(a) and _HEX.match(b):
        return a.startswith(b) or b.startswith(a)
    return expected.strip() == found.strip()
