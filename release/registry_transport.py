"""The registry client's transport (our `pkg/v1/remote/transport`): the one request path, authorization per
registry, answers read within bounds, and transport failures turned into one line.

- `RegistryTransport.request`: every request of `RegistryClient` goes through it. Authorization goes only to the
  registry's own origin (an upload `Location` or a redirect on another host gets none, and a 401 from there is an
  error, not a challenge to answer); plain http only for loopback hosts; the first request to a registry is
  preceded by one `GET /v2/` that learns the auth scheme, so concurrent requests do not each take a 401; a 401
  is answered once; every answer goes through `check`, which raises a `RegistryResponseError` naming the method,
  the URL without its query, the status and the OCI error codes.
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
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from release.errors import RegistryAuthError, RegistryError, RegistryResponseError
from release.http import InsecureRedirect, plain_http_allowed, same_origin
from release.imageref import is_loopback_host
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


class RegistryTransport:
    """The one request path to registries, shared by every call of a `RegistryClient`; thread-safe."""

    def __init__(
        self, session: requests.Session, keychain: KeychainLike, *, upload_session: requests.Session | None = None
    ) -> None:
        self._session = session
        self._upload_session = upload_session or session
        self.stats = RequestStats()
        self._auth = TokenAuth(session, keychain, self.stats)
        self._lock = threading.Lock()
        self._pinged: set[str] = set()
        self._ping_locks: dict[str, threading.Lock] = {}

    @staticmethod
    def registry_base(registry: str) -> str:
        """The API root of a registry: the origin its credentials are for."""
        scheme = "http" if is_loopback_host(registry) else "https"
        host = "registry-1.docker.io" if registry == "docker.io" else registry
        return f"{scheme}://{host}/v2/"

    def _ping(self, registry: str, scopes: tuple[str, ...]) -> None:
        """Before the first request to a registry, `GET /v2/` once: its 401 tells the auth scheme (and the token
        for `scopes` is fetched there), so the requests started meanwhile wait instead of each taking a 401."""
        with self._lock:
            if registry in self._pinged:
                return
            gate = self._ping_locks.setdefault(registry, threading.Lock())
        with gate:
            if registry in self._pinged:
                return
            url = self.registry_base(registry)
            try:
                self.request(
                    "GET", url, registry=registry, scopes=scopes, ok=(200, 401), ping=True, stream=True
                ).close()  # the body is not needed
            except RegistryAuthError:
                raise
            except RegistryError as e:  # no usable answer: the requests themselves will say what is wrong
                log.debug("GET %s: %s; going on without a ping", url, e)
            with self._lock:
                self._pinged.add(registry)

    def request(
        self,
        method: str,
        url: str,
        *,
        registry: str,
        scopes: tuple[str, ...],
        ok: tuple[int, ...],
        replayable: bool = True,
        upload: bool = False,
        ping: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """The one request path: the origin rules, the auth header, one answer to a 401 challenge, `check`.
        `upload`: over the upload session (a blob's body); `replayable=False`: a body that cannot be sent twice."""
        if not ping:
            self._ping(registry, scopes)
        s = self._upload_session if upload else self._session
        headers = dict(kwargs.pop("headers", {}) or {})
        own = same_origin(url, self.registry_base(registry))  # an upload Location may be on another host
        if not own and not plain_http_allowed(url):
            raise RegistryError(
                f"{method} {shown_url(url)}: registry {registry} pointed at plain http on a host that is not loopback; "
                "refused"
            )
        auth = self._auth.header(registry, scopes) if own else None
        if auth:
            headers["Authorization"] = auth
        counted = "PING" if ping else method
        self.stats.count(counted)
        resp = self._send(s, method, url, registry, headers, kwargs)
        if resp.status_code == 401 and not (own and same_origin(resp.url or url, url)):
            resp.close()
            raise RegistryAuthError(
                f"{method} {shown_url(resp.url or url)} answered 401, but the credentials of {registry} go to "
                f"{registry} only (this URL is on another host, given by the registry); run again, or check the "
                "registry"
            )
        if resp.status_code == 401 and ping:
            # What a ping is for: the scheme is learnt (and the token for `scopes` fetched); no need to ask again.
            resp.close()
            self._auth.on_challenge(registry, scopes, resp)
            return resp
        if resp.status_code == 401:
            if not replayable:
                raise RegistryAuthError(
                    f"{method} {shown_url(url)}: the registry asked for credentials in the middle of an "
                    "upload; run the same command again"
                )
            resp.close()
            headers["Authorization"] = self._auth.on_challenge(registry, scopes, resp)
            self.stats.count(counted)
            resp = self._send(s, method, url, registry, headers, kwargs)
            if resp.status_code == 401:
                raise RegistryAuthError(
                    f"{registry} rejected {self._auth.describe(registry)} ({method} {shown_url(url)} → 401); "
                    "check the user name and password (REGISTRY_USERNAME/REGISTRY_PASSWORD or docker login)"
                )
        return check(resp, method, url, ok)

    @staticmethod
    def _send(
        s: requests.Session, method: str, url: str, registry: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> requests.Response:
        """One request; a registry that cannot be reached (after the session's retries) is a RegistryError."""
        try:
            return s.request(method, url, headers=headers, allow_redirects=method in ("GET", "HEAD"), **kwargs)
        except requests.RequestException as e:
            raise RegistryError(transport_failure(method, url, registry, e)) from None


def check(resp: requests.Response, method: str, url: str, ok: tuple[int, ...]) -> requests.Response:
    """The one place that decides whether a status is acceptable."""
    if resp.status_code in ok:
        return resp
    codes: tuple[str, ...] = ()
    detail = ""
    try:
        body = json.loads(read_limited(resp, MAX_SMALL_BODY, "the error")) if method != "HEAD" else {}
        errors = body.get("errors", []) if isinstance(body, dict) else []
        errors = [e for e in errors if isinstance(e, dict)][:5] if isinstance(errors, list) else []
        codes = tuple(one_line(str(e.get("code", "")))[:60] for e in errors)
        detail = "; ".join(one_line(str(e.get("message", "")))[:200] for e in errors if e.get("message"))
    except (ValueError, RecursionError, RegistryError, requests.RequestException):
        pass
    finally:
        resp.close()
    advice = {
        403: "the credentials lack permission (push needs write access to the destination packages)",
        404: "not found: check the repository and tag",
        429: "rate limited: wait and run again",
    }.get(resp.status_code, "the registry failed; run again later" if resp.status_code >= 500 else "")
    parts = [f"{method} {shown_url(url)} → {resp.status_code}"]
    if codes:
        parts.append(" ".join(codes))
    if detail:
        parts.append(f"({detail})")
    message = " ".join(parts) + (f": {advice}" if advice else "")
    raise RegistryResponseError(message, method=method, url=shown_url(url), status=resp.status_code, codes=codes)


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
