"""The registry client's transport rules (our `pkg/v1/remote/transport`): authorization per registry, answers read
within bounds, and transport failures turned into one line.

- `TokenAuth`: Basic, or the distribution token flow (401 + `WWW-Authenticate: Bearer realm,service,scope`), one
  token per registry and set of scopes. The token server (`realm`) must be https, or http on a loopback host,
  and gets the registry's credential only when the keychain allows that host (`token_host_allowed`); else it is
  asked anonymously.
- `read_limited`: a streamed body up to a limit (manifests, token answers, error bodies).
- `transport_failure`: the one-line message for a request that got no usable answer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import requests

from release.errors import RegistryAuthError, RegistryError, RegistryResponseError
from release.http import InsecureRedirect, plain_http_allowed
from release.redact import redact_url
from release.registry_auth import Credential

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_MANIFEST_BYTES = 4 * MiB  # what distribution itself accepts for a manifest
MAX_SMALL_BODY = MiB  # token answers, error bodies


class KeychainLike(Protocol):
    def resolve(self, registry: str) -> Credential | None: ...

    def token_host_allowed(self, registry: str, token_host: str) -> bool: ...


def shown_url(url: str) -> str:
    """A URL as error messages show it: no user information, no query string (upload URLs carry signed state)."""
    return redact_url(url, query=False)


@dataclass
class RequestStats:
    """Counts of requests by method and blob bytes moved; thread-safe."""

    by_method: Counter[str] = field(default_factory=Counter)
    bytes_uploaded: int = 0
    bytes_downloaded: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, method: str) -> None:
        with self._lock:
            self.by_method[method] += 1

    def add_bytes(self, *, up: int = 0, down: int = 0) -> None:
        with self._lock:
            self.bytes_uploaded += up
            self.bytes_downloaded += down

    @property
    def writes(self) -> int:
        return sum(n for m, n in self.by_method.items() if m in ("POST", "PUT", "PATCH", "DELETE"))

    @property
    def total(self) -> int:
        return sum(self.by_method.values())


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="https://x/token",service="x",scope="repository:a:pull"` → ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE.findall(rest))


class TokenAuth:
    """Per-registry authorization: the scheme the registry asked for and tokens per scope set."""

    def __init__(self, session: requests.Session, keychain: KeychainLike, stats: RequestStats) -> None:
        self._session = session
        self._keychain = keychain
        self._stats = stats
        self._lock = threading.Lock()
        self._scheme: dict[str, tuple[str, dict[str, str]]] = {}
        self._tokens: dict[tuple[str, tuple[str, ...]], tuple[str, float]] = {}  # → (token, refresh after)

    def header(self, registry: str, scopes: tuple[str, ...]) -> str | None:
        """The Authorization header for a request, once the registry has told us its scheme."""
        with self._lock:
            scheme = self._scheme.get(registry)
            cached = self._tokens.get((registry, scopes))
        if scheme is None:
            return None
        if scheme[0] == "basic":
            cred = self._keychain.resolve(registry)
            return cred.basic_header() if cred else None
        # A token about to expire is renewed before use: an upload that streams its body cannot be replayed.
        token = cached[0] if cached and cached[1] > time.monotonic() else self._fetch_token(registry, scopes, scheme[1])
        return f"Bearer {token}"

    def on_challenge(self, registry: str, scopes: tuple[str, ...], resp: requests.Response) -> str:
        """Answer a 401: return the Authorization header to retry with, or raise advice."""
        header = resp.headers.get("WWW-Authenticate", "")
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            cred = self._keychain.resolve(registry)
            if cred is None:
                raise RegistryAuthError(
                    f"{registry} asks for credentials and none are configured for it: REGISTRY_USERNAME and "
                    "REGISTRY_PASSWORD go to the release registry and the hosts of RELEASE_SOURCE_REGISTRIES only; "
                    f"for another registry run `docker login {registry}`"
                )
            with self._lock:
                self._scheme[registry] = ("basic", params)
            return cred.basic_header()
        if scheme != "bearer" or "realm" not in params:
            raise RegistryAuthError(f"{registry} answered 401 with an auth scheme the kit does not speak: {scheme!r}")
        with self._lock:
            self._scheme[registry] = ("bearer", {k: v for k, v in params.items() if k != "scope"})
        return f"Bearer {self._fetch_token(registry, scopes, params)}"

    def _fetch_token(self, registry: str, scopes: tuple[str, ...], params: dict[str, str]) -> str:
        """The distribution token flow: GET realm?service=&scope=… with Basic credentials (or anonymously).

        The realm must be https (http only on loopback) and carry no user information; it gets the registry's
        credential only when the keychain allows that host, else it is asked anonymously.
        """
        realm = params["realm"]
        token_host = check_realm(registry, realm)
        cred = self._keychain.resolve(registry)
        withheld = cred is not None and not self._keychain.token_host_allowed(registry, token_host)
        if withheld:
            log.debug("not sending the credentials of %s to the token server on %s", registry, token_host)
            cred = None
        wanted = list(scopes)
        if params.get("scope") and params["scope"] not in wanted:
            wanted.append(params["scope"])
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query.extend(("scope", s) for s in wanted)
        headers = {"Authorization": cred.basic_header()} if cred else {}
        self._stats.count("GET")
        try:
            token_resp = self._session.get(realm, params=query, headers=headers, stream=True)
            raw = read_limited(token_resp, MAX_SMALL_BODY, f"the token answer of {shown_url(realm)}")
        except requests.RequestException as e:
            raise RegistryError(transport_failure("GET", realm, registry, e)) from None
        if token_resp.status_code in (401, 403):
            who = f"the credentials from {cred.source}" if cred else "anonymous access"
            why = (
                f"; the credentials of {registry} were not sent to {token_host}, which is another host: "
                "the kit sends them to the registry's own host only"
                if withheld
                else "; check the user name and password or token (push needs write access to the packages)"
            )
            raise RegistryAuthError(f"{shown_url(realm)} refused {who} for {registry} ({token_resp.status_code}){why}")
        if token_resp.status_code != 200:
            raise RegistryResponseError(
                f"token request GET {shown_url(realm)} answered {token_resp.status_code}",
                method="GET",
                url=shown_url(realm),
                status=token_resp.status_code,
            )
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = {}
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not token.isprintable():
            raise RegistryAuthError(f"{shown_url(realm)} answered without a token")
        expires = body.get("expires_in")
        lifetime = expires if isinstance(expires, int) and not isinstance(expires, bool) else 60
        with self._lock:
            self._tokens[(registry, scopes)] = (token, time.monotonic() + max(0, lifetime - 30))
        return token

    def describe(self, registry: str) -> str:
        """Whose credentials went to `registry`, for messages."""
        cred = self._keychain.resolve(registry)
        return f"the credentials from {cred.source}" if cred else "anonymous access"


def check_realm(registry: str, realm: str) -> str:
    """The token server's host (with its port), once the realm passed the rules; else RegistryAuthError."""
    bad = RegistryAuthError(f"{registry} names a token server that is not an http(s) URL ({shown_url(realm)[:200]!r})")
    try:
        parts = urlsplit(realm)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise bad from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise bad
    if "@" in parts.netloc:
        raise RegistryAuthError(f"{registry} names a token server with user information in its URL; refused")
    netloc = f"[{host}]" if ":" in host else host
    token_host = f"{netloc}:{port}" if port is not None else netloc
    if not plain_http_allowed(realm):
        raise RegistryAuthError(
            f"{registry} names a token server over plain http on {token_host} ({shown_url(realm)}); the kit speaks "
            "plain http to loopback hosts only"
        )
    return token_host


def one_line(text: str) -> str:
    """Text from a registry, made safe for a one-line message (no newlines or control characters)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def read_limited(resp: requests.Response, limit: int, what: str) -> bytes:
    """The body of a streamed answer, at most `limit` bytes (RegistryError beyond); the answer is closed."""
    try:
        declared = int(resp.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    try:
        if declared > limit:
            raise RegistryError(f"{what} is {declared} bytes, more than the {limit} the kit reads")
        buf = bytearray()
        for chunk in resp.iter_content(64 * 1024):
            buf += chunk
            if len(buf) > limit:
                raise RegistryError(f"{what} is more than the {limit} bytes the kit reads")
        return bytes(buf)
    finally:
        resp.close()


_TRANSPORT_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (InsecureRedirect, "redirected to plain http on a host that is not loopback (refused)"),
    (requests.exceptions.ChunkedEncodingError, "the answer broke off"),
    (requests.exceptions.ContentDecodingError, "the answer could not be decoded"),
    (requests.exceptions.TooManyRedirects, "too many redirects"),
    (requests.exceptions.InvalidURL, "not a valid URL"),
    (requests.exceptions.InvalidSchema, "not an http(s) URL"),
    (requests.exceptions.MissingSchema, "not an http(s) URL"),
    (requests.exceptions.SSLError, "TLS failed"),
    (requests.Timeout, "timed out"),
    (requests.ConnectionError, "connection failed"),
)


def transport_failure(method: str, url: str, registry: str, e: BaseException) -> str:
    """One line for a request that got no usable answer (after the session's retries)."""
    reason = next((text for kind, text in _TRANSPORT_REASONS if isinstance(e, kind)), type(e).__name__)
    if isinstance(e, (requests.ConnectionError, requests.Timeout)) and not isinstance(e, requests.exceptions.SSLError):
        return (
            f"cannot reach registry {registry} ({method} {shown_url(url)}: {reason}); check the network, "
            "or RELEASE_REGISTRY_REWRITE for a rehearsal"
        )
    return f"{method} {shown_url(url)} (registry {registry}): {reason}; run again, or check the registry"
