"""Hostile registry data: whatever a registry answers, the client returns valid values or raises a kit error of
one line (never KeyError, ValueError or a `requests` exception). Table tests for the cases named in the issue,
then hypothesis fuzzing (bounded: a deadline and max_examples) of manifests and of whole answers served through
an in-memory transport (no sockets)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.errors import RegistryError, ReleaseError
from release.http import make_session
from release.imageref import ImageRef, is_digest
from release.oci import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest
from release.registry import RegistryClient
from release.registry_auth import Keychain
from release.registry_transport import parse_challenge

D = "sha256:" + "ab" * 32
D2 = "sha256:" + "cd" * 32
FUZZ = settings(
    max_examples=150, deadline=2000, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)  # fixed cases: a failure reproduces

Answer = tuple[int, dict[str, str], bytes] | BaseException


class Scripted(requests.adapters.BaseAdapter):
    """A transport that answers from `respond(request)` in memory (at most `limit` requests per client)."""

    def __init__(
        self, respond: Callable[[requests.PreparedRequest], Answer], limit: int = 25, *, framed: bool = True
    ) -> None:
        super().__init__()
        self.respond = respond
        self.framed = framed
        self.limit = limit
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        if len(self.sent) > self.limit:
            raise requests.ConnectionError("too many requests in a test")
        answer = self.respond(request)
        if isinstance(answer, BaseException):
            raise answer
        status, headers, body = answer
        if request.method == "HEAD":
            body = b""  # a HEAD answer has no body, whatever its Content-Length says
        elif self.framed:
            headers = {**headers, "Content-Length": str(len(body))}  # framing is http.client's business
        raw = urllib3.HTTPResponse(body=io.BytesIO(body), headers=headers, status=status, preload_content=False,
                                   decode_content=False, request_method=request.method)  # fmt: skip
        return requests.adapters.HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        pass


def client_for(
    respond: Callable[[requests.PreparedRequest], Answer], *, framed: bool = True
) -> tuple[RegistryClient, Scripted]:
    session = make_session()
    adapter = Scripted(respond, framed=framed)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RegistryClient(session, Keychain(username="u", password=_secret(), hosts=("ghcr.io",))), adapter


def _secret():  # type: ignore[no-untyped-def]
    from release.config import Secret

    return Secret("pw-not-shown")


def manifest_answer(doc: Any, media_type: str = OCI_MANIFEST) -> Answer:
    raw = json.dumps(doc).encode()
    return 200, {"Content-Type": media_type, "Docker-Content-Digest": sha256_digest(raw)}, raw


REF = ImageRef.parse("ghcr.io/tenstorrent/ci:1")


def assert_kit_error(fn: Callable[[], Any]) -> ReleaseError:
    with pytest.raises(ReleaseError) as e:
        fn()
    assert "\n" not in str(e.value), str(e.value)
    assert "pw-not-shown" not in str(e.value)
    return e.value


# ------------------------------------------------------------------------------------------ tables


@pytest.mark.parametrize(
    ("doc", "media_type", "names"),
    [
        ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}, OCI_MANIFEST, "'config' is missing"),
        ({"schemaVersion": 2, "config": {"digest": D, "size": 1}}, DOCKER_MANIFEST, "'layers' is missing"),
        ({"mediaType": OCI_INDEX}, OCI_INDEX, "'manifests' is missing"),
        ({"mediaType": DOCKER_LIST, "manifests": {"a": 1}}, DOCKER_LIST, "'manifests' is not a list"),
        ({"config": {"digest": "sha256:../../etc", "size": 1}, "layers": []}, OCI_MANIFEST, "config has digest"),
        ({"config": {"digest": D, "size": 1}, "layers": [{"digest": D2}]}, OCI_MANIFEST, "layers[0] has no valid size"),
        ({"config": {"digest": D, "size": -1}, "layers": []}, OCI_MANIFEST, "config has no valid size"),
        ({"config": {"digest": D, "size": True}, "layers": []}, OCI_MANIFEST, "config has no valid size"),
        ({"config": D, "layers": []}, OCI_MANIFEST, "config is not a descriptor"),
        ({"manifests": [{"digest": D + "\n", "size": 1}]}, OCI_INDEX, "manifests[0] has digest"),
        ({"manifests": [{"digest": "sha256:" + "a" * 63, "size": 1}]}, OCI_INDEX, "manifests[0] has digest"),
        ({"config": {"digest": D, "size": 1, "mediaType": 7}, "layers": []}, OCI_MANIFEST, "mediaType"),
    ],
)
def test_broken_manifests_are_clear_errors(doc: dict, media_type: str, names: str) -> None:
    raw = json.dumps(doc).encode()
    manifest = Manifest(raw, media_type, sha256_digest(raw))
    with pytest.raises(RegistryError) as e:
        manifest.children() + manifest.blobs()
    assert names in str(e.value)


@pytest.mark.parametrize(
    "exc",
    [
        requests.ConnectionError("refused"),
        requests.Timeout("slow"),
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.ChunkedEncodingError("broke off"),
        requests.exceptions.ContentDecodingError("gzip"),
        requests.exceptions.InvalidURL("bad"),
        requests.exceptions.InvalidSchema("ftp"),
        requests.exceptions.TooManyRedirects("loop"),
        requests.exceptions.SSLError("bad cert"),
        requests.exceptions.RetryError("retries"),
        requests.RequestException("anything"),
    ],
)
def test_every_requests_exception_is_one_kit_line(exc: BaseException) -> None:
    client, _ = client_for(lambda r: exc)
    err = assert_kit_error(lambda: client.get_manifest(REF))
    assert isinstance(err, RegistryError) and "ghcr.io" in str(err)


def test_an_answer_that_breaks_off_mid_manifest_is_a_kit_error() -> None:
    class Broken(io.BytesIO):
        def read(self, *args: Any, **kwargs: Any) -> bytes:
            raise urllib3.exceptions.ProtocolError("connection broken")

    def respond(request: requests.PreparedRequest) -> Answer:
        return 200, {"Content-Type": OCI_MANIFEST}, b"{}"

    client, adapter = client_for(respond)

    def send(request: requests.PreparedRequest, stream: bool = False, **kwargs: Any) -> requests.Response:
        raw = urllib3.HTTPResponse(body=Broken(b"{}"), headers={"Content-Type": OCI_MANIFEST}, status=200,
                                   preload_content=False)  # fmt: skip
        return requests.adapters.HTTPAdapter().build_response(request, raw)

    adapter.send = send  # type: ignore[method-assign]
    assert_kit_error(lambda: client.get_manifest(REF))


def test_a_huge_manifest_is_refused_without_reading_it_all() -> None:
    client, _ = client_for(lambda r: (200, {"Content-Type": OCI_MANIFEST, "Content-Length": str(10**10)}, b"{}"),
                           framed=False)  # fmt: skip
    err = assert_kit_error(lambda: client.get_manifest(REF))
    assert "more than the" in str(err)
    client, _ = client_for(lambda r: (200, {"Content-Type": OCI_MANIFEST}, b" " * (5 * 1024 * 1024)))
    assert "more than the" in str(assert_kit_error(lambda: client.get_manifest(REF)))


def test_a_hostile_error_body_stays_on_one_line() -> None:
    body = json.dumps({"errors": [{"code": "DENIED\nerror: fake", "message": "line one\nline two\x1b[31m"}]})
    client, _ = client_for(lambda r: (403, {"Content-Type": "application/json"}, body.encode()))
    err = assert_kit_error(lambda: client.get_manifest(REF))
    assert "line one line two" in str(err)


def test_a_tag_list_that_is_not_a_list_is_a_kit_error() -> None:
    client, _ = client_for(lambda r: (200, {"Content-Type": "application/json"}, b'{"tags": {"a": 1}}'))
    assert_kit_error(lambda: client.list_tags(REF))
    client, _ = client_for(lambda r: (200, {"Content-Type": "application/json"}, b"[1, 2"))
    assert_kit_error(lambda: client.list_tags(REF))


# ------------------------------------------------------------------------------------------ fuzz

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_digests = st.one_of(
    st.just(D), st.just(D2), st.text(max_size=80), st.from_regex(r"sha(256|512):[0-9a-fA-F]{0,130}", fullmatch=True)
)
_sizes = st.one_of(st.integers(0, 2**40), st.integers(-5, -1), st.booleans(), st.text(max_size=5), st.none())
_valid_descriptor = st.fixed_dictionaries(
    {"mediaType": st.sampled_from([OCI_MANIFEST, DOCKER_MANIFEST]), "digest": st.sampled_from([D, D2]),
     "size": st.integers(0, 2**40)},
    optional={"platform": st.fixed_dictionaries({"os": st.just("linux"), "architecture": st.just("amd64")})},
)  # fmt: skip
_broken_descriptor = st.one_of(
    _json,
    st.fixed_dictionaries(
        {"digest": _digests, "size": _sizes},
        optional={
            "mediaType": st.one_of(st.sampled_from([OCI_MANIFEST, DOCKER_MANIFEST, "x"]), st.integers()),
            "platform": st.one_of(_json, st.fixed_dictionaries({"os": _json, "architecture": _json})),
            "urls": st.one_of(st.none(), st.lists(st.text(max_size=10), max_size=2)),
        },
    ),
)
_descriptors = st.lists(st.one_of(_valid_descriptor, _valid_descriptor, _broken_descriptor), max_size=4)
# Mostly well-formed manifests with a broken part here and there, and plain JSON of any shape.
_manifest_doc = st.one_of(
    st.fixed_dictionaries(
        {
            "schemaVersion": st.just(2),
            "config": st.one_of(_valid_descriptor, _broken_descriptor),
            "layers": _descriptors,
        }
    ),
    st.fixed_dictionaries({"schemaVersion": st.just(2), "manifests": _descriptors}),
    st.fixed_dictionaries(
        {},
        optional={
            "mediaType": st.sampled_from([OCI_MANIFEST, OCI_INDEX, DOCKER_LIST, DOCKER_MANIFEST, "bogus"]),
            "config": _json,
            "layers": _json,
            "manifests": _json,
        },
    ),
    _json,
)


@settings(max_examples=300, deadline=2000, derandomize=True, database=None)
@given(_manifest_doc, st.sampled_from([OCI_MANIFEST, OCI_INDEX, DOCKER_LIST, DOCKER_MANIFEST]))
def test_fuzz_manifest_descriptors(doc: Any, media_type: str) -> None:
    raw = json.dumps(doc).encode()
    manifest = Manifest(raw, media_type, sha256_digest(raw))
    try:
        found = manifest.children() + manifest.blobs()
    except RegistryError as e:
        assert "\n" not in str(e)
        return
    for d in found:
        assert is_digest(d.digest) and isinstance(d.size, int) and d.size >= 0 and isinstance(d.media_type, str)


_header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def _header(*plausible: str) -> st.SearchStrategy[str]:
    """Mostly a plausible value, sometimes any text."""
    return st.one_of(st.sampled_from(plausible), st.sampled_from(plausible), _header_text)


_answer = st.tuples(
    st.one_of(st.just(200), st.sampled_from([200, 201, 202, 204, 301, 307, 400, 401, 403, 404, 429, 500])),
    st.fixed_dictionaries(
        {},
        optional={
            "Content-Type": _header(OCI_MANIFEST, OCI_INDEX, DOCKER_LIST, "application/json"),
            "Docker-Content-Digest": _header(D, D2),
            "Content-Length": _header("0", "12", "4096"),
            "Location": _header("/v2/x/blobs/uploads/1?_state=abc", "http://evil.example/upload", "ftp://x/y"),
            "WWW-Authenticate": _header('Bearer realm="https://ghcr.io/token",service="ghcr.io"',
                                        'Bearer realm="http://evil.example/t"', 'Bearer realm="ftp://x"',
                                        'Basic realm="r"', "Bearer"),
            "Link": _header("</v2/x/tags/list?n=1&last=a>; rel=next", "<http://evil.example/x>; rel=next"),
        },
    ),
    st.one_of(
        _manifest_doc.map(lambda d: json.dumps(d).encode()),
        st.sampled_from([b'{"tags": ["a"]}', b'{"tags": null}', b'{"token": "t", "expires_in": 60}', b""]),
        st.binary(max_size=200),
    ),
)  # fmt: skip


@FUZZ
@given(st.data())
def test_fuzz_whole_answers_give_values_or_kit_errors(data: st.DataObject) -> None:
    def respond(request: requests.PreparedRequest) -> Answer:
        return data.draw(_answer)

    client, _ = client_for(respond)
    dst = ImageRef.parse("ghcr.io/tenstorrent/dev:1")
    for call in (lambda: client.head_manifest(REF), lambda: client.get_manifest(REF), lambda: client.list_tags(REF),
                 lambda: client.copy(REF, dst)):  # fmt: skip
        try:
            call()
        except ReleaseError as e:
            assert "\n" not in str(e) and "pw-not-shown" not in str(e)


@FUZZ
@given(_header_text)
def test_fuzz_challenges_parse(header: str) -> None:
    scheme, params = parse_challenge(header)
    assert isinstance(scheme, str) and all(isinstance(v, str) for v in params.values())
