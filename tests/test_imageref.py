"""ImageRef: parsing table, rendering, rewriting, scopes; the purity of the module; fuzzed hostile input."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.imageref import ImageRef, ImageRefError, RepoPrefix

D = "sha256:" + "ab" * 32
TM = "ef93cf18b3aee66cc9ec703423de0ad3c6fde844"


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        (
            f"ghcr.io/tenstorrent/tt-shield/vllm-tt-metal-src-dev-ubuntu-22.04-amd64:0.0.5-{TM}-1d799da-52729064622",
            "ghcr.io",
            "tenstorrent/tt-shield/vllm-tt-metal-src-dev-ubuntu-22.04-amd64",
            f"0.0.5-{TM}-1d799da-52729064622",
            None,
        ),
        (
            "https://ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64:0.1.0-f8f2728-91dddb0",
            "ghcr.io",
            "tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64",
            "0.1.0-f8f2728-91dddb0",
            None,
        ),
        (
            "localhost:5000/a/b:0.5.0-v0.61.1-rc1-5cbc982",
            "localhost:5000",
            "a/b",
            "0.5.0-v0.61.1-rc1-5cbc982",
            None,
        ),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", None, None),
        (f"127.0.0.1:5000/a/b@{D}", "127.0.0.1:5000", "a/b", None, D),
        (f"127.0.0.1:5000/a/b:1.0@{D}", "127.0.0.1:5000", "a/b", "1.0", D),
        ("docker://ghcr.io/x/y:1", "ghcr.io", "x/y", "1", None),
        ("ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", None),
        ("index.docker.io/foo/bar", "docker.io", "foo/bar", None, None),
        (
            "ghcr.io/tenstorrent/tt-media-inference-server:0.4.0-" + TM,
            "ghcr.io",
            "tenstorrent/tt-media-inference-server",
            "0.4.0-" + TM,
            None,
        ),
    ],
)
def test_parse(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = ImageRef.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ImageRef.parse(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty"),
        ("ghcr.io/Tenstorrent/x:1", "'Tenstorrent'"),
        ("ghcr.io/a/b:-bad", "tag '-bad'"),
        ("ghcr.io/a/b@sha256:xyz", "digest 'sha256:xyz'"),
        ("ghcr.io/a//b:1", "repository part ''"),
        ("bad_host.io:99/a:1", "'bad_host.io:99'"),
        ("ghcr.io/a\n/b:1", "'a\\n'"),  # a newline inside is refused (`$` would have let it through)
        ("ghcr.io/a/b:1\nx", "tag '1\\nx'"),
        ("ghcr.io/a/b@sha256:" + "a" * 64 + "\n0", "digest"),
        ("127.0.0.1:70000/a:1", "'127.0.0.1:70000'"),
    ],
)
def test_parse_errors_name_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(ImageRefError) as e:
        ImageRef.parse(text)
    assert names in str(e.value)


def test_values() -> None:
    ref = ImageRef.parse("https://ghcr.io/a/b:1.0")
    assert str(ref) == "ghcr.io/a/b:1.0"
    assert ref.link == "https://ghcr.io/a/b:1.0"
    assert ref.reference == "1.0"
    assert str(ref.with_tag("2.0")) == "ghcr.io/a/b:2.0"
    assert ref.with_digest(D).reference == D
    assert str(ref.with_digest(D).with_tag("3")) == "ghcr.io/a/b:3"
    assert ImageRef.parse("ghcr.io/a/b").reference == "latest"
    assert ref.scope("pull,push") == "repository:a/b:pull,push"
    assert ref.name == "ghcr.io/a/b"
    assert not ref.is_loopback
    assert ImageRef.parse("127.0.0.1:5000/a:1").is_loopback
    assert ImageRef.parse("localhost:5000/a:1").is_loopback
    assert ImageRef.parse("localhost:5000/a:1").host == "localhost"


def test_rewrite() -> None:
    ref = ImageRef.parse("ghcr.io/tenstorrent/x:1")
    assert str(ref.rewrite({"ghcr.io": "127.0.0.1:5000"})) == "127.0.0.1:5000/tenstorrent/x:1"
    assert str(ref.rewrite([("docker.io", "127.0.0.1:5001")])) == "ghcr.io/tenstorrent/x:1"
    assert ref.rewrite(()) is ref


def test_imageref_is_pure() -> None:
    code = (
        "import sys, release.imageref\n"
        "io = ('requests', 'docker', 'subprocess', 'urllib3', 'release.registry')\n"
        "bad = [m for m in io if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loopback_is_decided_on_the_address_not_a_prefix() -> None:
    assert ImageRef.parse("127.0.0.1:5000/a").is_loopback and ImageRef.parse("[::1]:5000/a/b").is_loopback
    assert ImageRef.parse("localhost:5000/a").is_loopback and ImageRef.parse("127.1.2.3:5000/a").is_loopback
    assert not ImageRef.parse("127.evil.com/a/b").is_loopback


# ------------------------------------------------------------------------------------ hostile input (fuzz)

FUZZ = settings(
    max_examples=300, deadline=2000, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)  # fixed cases: a failure reproduces
_REF_ALPHABET = st.sampled_from([*list("abz09-_.:/@ \n\t\x00Aé[]"), "sha256:", "ghcr.io/", "https://", "::1"])


@FUZZ
@given(st.one_of(st.text(max_size=80), st.lists(_REF_ALPHABET, max_size=40).map("".join)))
def test_fuzz_parse_gives_a_clean_value_or_a_kit_error(text: str) -> None:
    try:
        ref = ImageRef.parse(text)
    except ImageRefError as e:
        assert e.exit_code == 2
        return
    for part in (ref.registry, ref.repository, ref.tag or "", ref.digest or ""):
        assert part.isprintable() and not any(c.isspace() for c in part)
    assert ImageRef.parse(str(ref)) == ref  # a parsed value prints as text that parses back to itself


@FUZZ
@given(st.one_of(st.text(max_size=60), st.lists(_REF_ALPHABET, max_size=30).map("".join)))
def test_fuzz_source_prefixes(text: str) -> None:
    try:
        prefix = RepoPrefix.parse(text)
    except ImageRefError:
        return
    assert RepoPrefix.parse(str(prefix)) == prefix
