"""Image-tag commits (release/imagetags.py): the kit's one parser of them, used by ci.read, spec.update, promotion
and the demo. Table tests over every tag shape the pipeline meets, and a bounded hypothesis fuzz."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release import imagetags

TM = "ef93cf18b3aee66cc9ec703423de0ad3c6fde844"
VL40 = "6e67d2d1c0ffee1234567890abcdef0123456789"
CI = "ghcr.io/tenstorrent/tt-shield/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"
DEV = "ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"
RELEASE = "ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-release-ubuntu-22.04-amd64"
CLOUD = "ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-cloud-ubuntu-22.04-amd64"
MEDIA = "ghcr.io/tenstorrent/tt-media-inference-server"


def as_tuple(got: imagetags.TagCommits | None) -> tuple | None:
    return None if got is None else (got.version, got.tt_metal, got.vllm, got.suffix)


@pytest.mark.parametrize(
    ("tag", "has_vllm", "expected"),
    [
        # Models CI: <ci version>-<40 hex tt-metal>-<7 hex vLLM>-<job id>
        (f"0.0.5-{TM}-1d799da-52729064622", None, ("0.0.5", TM, "1d799da", "52729064622")),
        (f"0.0.5-{TM}-1d799da-52729064622", True, ("0.0.5", TM, "1d799da", "52729064622")),
        # the tag both parsers once disagreed on: a hyphenated tt-metal tag in a Models CI tag
        ("0.0.5-v0.61.1-rc1-abc1234-123", None, ("0.0.5", "v0.61.1-rc1", "abc1234", "123")),
        ("0.0.5-v0.61.1-rc1-abc1234-123", True, ("0.0.5", "v0.61.1-rc1", "abc1234", "123")),
        ("0.0.5-v0.62.0-rc33-5cbc982-123456", None, ("0.0.5", "v0.62.0-rc33", "5cbc982", "123456")),
        # released dev/release images: 7- or 12-character prefixes (model_spec truncates to 12)
        ("0.5.0-ae65ee5-35f023f", None, ("0.5.0", "ae65ee5", "35f023f", None)),
        ("0.5.0-ae65ee5-35f023f", True, ("0.5.0", "ae65ee5", "35f023f", None)),
        ("0.6.0-25305db1c0ff-6e67d2d1c0ff", None, ("0.6.0", "25305db1c0ff", "6e67d2d1c0ff", None)),
        ("0.5.0-v0.61.1-rc1-5cbc982", None, ("0.5.0", "v0.61.1-rc1", "5cbc982", None)),
        ("0.5.0-ae65ee5-35f023fa", True, ("0.5.0", "ae65ee5", "35f023fa", None)),
        # cloud images: the commits untruncated
        (f"0.6.0-{TM}-{VL40}", None, ("0.6.0", TM, VL40, None)),
        (f"0.6.0-v0.61.1-rc1-{VL40}", True, ("0.6.0", "v0.61.1-rc1", VL40, None)),
        # explicit media / forge images: no vLLM part
        (f"0.4.0-{TM}", None, ("0.4.0", TM, None, None)),
        (f"0.4.0-{TM}", False, ("0.4.0", TM, None, None)),
        (f"0.0.5-{TM}-52729064622", None, ("0.0.5", TM, None, "52729064622")),
        (f"0.0.5-{TM}-52729064622", False, ("0.0.5", TM, None, "52729064622")),
        ("0.4.0-v0.61.1-rc1", None, ("0.4.0", "v0.61.1-rc1", None, None)),
        ("0.4.0-v0.61.1-rc1", False, ("0.4.0", "v0.61.1-rc1", None, None)),
        ("0.0.5-v0.61.1-rc1-52729064622", None, ("0.0.5", "v0.61.1-rc1", None, "52729064622")),
        ("0.4.0-ae65ee5-123", False, ("0.4.0", "ae65ee5-123", None, None)),  # too short for a job id
        # shapes that carry no commits
        ("latest", None, None),
        ("0.5.0", None, None),
        ("0.5.0-", None, None),
        ("0.5.0-ae65ee5--35f023f", None, None),  # an empty part
        ("v0.5.0-ae65ee5-35f023f", None, None),
        ("0.5.0-ae65ee5", True, None),  # a vLLM part is required
        ("0.5.0-v0.61.1-rc1", True, None),
        ("0.5-ae65ee5-35f023f", None, None),
        (f"0.5.0-{'a' * 130}", None, None),  # longer than a tag may be
    ],
)  # fmt: skip
def test_parse_commit_tag(tag: str, has_vllm: bool | None, expected: tuple | None) -> None:
    assert as_tuple(imagetags.parse_commit_tag(tag, has_vllm=has_vllm)) == expected


@pytest.mark.parametrize(
    ("image", "has_vllm", "expected"),
    [
        (f"{CI}:0.0.5-{TM}-1d799da-52729064622", None, (TM, "1d799da")),
        (f"localhost:5000/tt-shield/vllm-x:0.0.5-{TM}-1d799da-5272", None, (TM, "1d799da")),
        (f"{CI}:0.0.5-{TM}-1d799da-52@sha256:{'a' * 64}", None, (TM, "1d799da")),
        (f"{CI}:0.0.5-v0.61.1-rc1-abc1234-123", None, ("v0.61.1-rc1", "abc1234")),
        (f"{CI}:0.0.5-{TM}-1d799da8-52", None, (TM, "1d799da8")),  # an 8-character vLLM SHA
        (f"{DEV}:0.6.0-25305db-6e67d2d", None, ("25305db", "6e67d2d")),
        (f"{RELEASE}:0.5.0-ae65ee5-35f023f", None, ("ae65ee5", "35f023f")),
        (f"{RELEASE}:0.5.0-v0.61.1-rc1-5cbc982", True, ("v0.61.1-rc1", "5cbc982")),
        (f"{CLOUD}:0.6.0-{TM}-{VL40}", True, (TM, VL40)),
        (f"{MEDIA}:0.4.0-{TM}", False, (TM, None)),
        (f"{MEDIA}:0.4.0-{TM}", None, (TM, None)),
        ("localhost:5000/x/y", None, (None, None)),
        ("registry:5000/x/y@sha256:" + "b" * 64, None, (None, None)),
        ("", None, (None, None)),
        (None, None, (None, None)),
    ],
)  # fmt: skip
def test_image_commits(image: str | None, has_vllm: bool | None, expected: tuple) -> None:
    assert imagetags.image_commits(image, has_vllm=has_vllm) == expected


def test_same_commit() -> None:
    assert imagetags.same_commit("ae65ee5", "ae65ee5c0ffee" + "0" * 27)
    assert imagetags.same_commit("AE65EE5c", "ae65ee5")
    assert not imagetags.same_commit("ae65ee5", "ae65ee6")
    assert imagetags.same_commit("v0.61.1-rc1", "v0.61.1-rc1")
    assert not imagetags.same_commit("v0.61.1", "v0.61.1-rc1")


def test_one_parser_in_the_kit() -> None:
    """No other module reads commits out of tags with its own expressions."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "release"
    offenders = [
        p.name
        for p in root.rglob("*.py")
        if p.name != "imagetags.py" and re.search(r"\[0-9a-fA-F\]\{40\}\)-\(|_TAG_FULL|_TAG_WITH_VLLM", p.read_text())
    ]
    assert offenders == []


# ------------------------------------------------------------------------------------------------ fuzz

FUZZ = settings(
    max_examples=300,
    deadline=500,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
hex_sha = st.integers(7, 40).flatmap(lambda n: st.text("0123456789abcdef", min_size=n, max_size=n))
metal_tag = st.builds(lambda a, b, rc: f"v0.{a}.{b}" + (f"-rc{rc}" if rc else ""), st.integers(0, 99), st.integers(0, 9),
                      st.integers(0, 40))  # fmt: skip
job_id = st.integers(10**8, 10**12).map(str)
version = st.builds(lambda a, b, c: f"{a}.{b}.{c}", st.integers(0, 9), st.integers(0, 30), st.integers(0, 9))


@FUZZ
@given(ver=version, tm=hex_sha | metal_tag, vllm=hex_sha, job=job_id)
def test_models_ci_tags_round_trip(ver: str, tm: str, vllm: str, job: str) -> None:
    for has_vllm in (True, None):
        got = imagetags.parse_commit_tag(f"{ver}-{tm}-{vllm}-{job}", has_vllm=has_vllm)
        assert as_tuple(got) == (ver, tm, vllm, job)


@FUZZ
@given(ver=version, tm=hex_sha | metal_tag, vllm=hex_sha | st.none())
def test_released_tags_round_trip_when_the_shape_is_known(ver: str, tm: str, vllm: str | None) -> None:
    tag = f"{ver}-{tm}" + (f"-{vllm}" if vllm else "")
    got = imagetags.parse_commit_tag(tag, has_vllm=vllm is not None)
    assert as_tuple(got) == (ver, tm, vllm, None)


@FUZZ
@given(tag=st.text(max_size=200), has_vllm=st.sampled_from([True, False, None]))
def test_any_text_gives_commits_or_none(tag: str, has_vllm: bool | None) -> None:
    got = imagetags.parse_commit_tag(tag, has_vllm=has_vllm)
    if got is not None:
        assert tag.startswith(f"{got.version}-") and got.tt_metal
        assert has_vllm is not True or got.vllm is not None
        assert has_vllm is not False or got.vllm is None
        rebuilt = "-".join(p for p in (got.version, got.tt_metal, got.vllm, got.suffix) if p is not None)
        assert rebuilt == tag


@FUZZ
@given(image=st.text(max_size=300))
def test_any_image_reference_gives_a_pair(image: str) -> None:
    tm, vllm = imagetags.image_commits(image)
    assert (tm is None and vllm is None) or isinstance(tm, str)
