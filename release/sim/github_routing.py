"""The fake GitHub's HTTP layer (standard library only): two listeners, the route table, and what every answer
goes through.

Two listeners on 127.0.0.1: the API host and a blob host that, like GitHub's storage, rejects requests that carry
an Authorization header (what it serves comes from `RoutingServer.blob`, which a server fills in: Models CI's job
logs and artifact zips, release/sim/github_actions.py). For tests and benchmarks:
- bearer-token check (401 "Bad credentials" / "Requires authentication"); with `repo_tokens`, each repository
  answers only to its own token (404 otherwise, as GitHub does for a private repository a token cannot see);
- every request's Host and Authorization header recorded in `seen` (tests fail when a token reaches the wrong
  host or route);
- pagination with `Link` headers (per_page capped at 100): `paginate`;
- weak ETags and 304 answers for `If-None-Match`;
- `x-ratelimit-*` headers; injected faults by request number (502, 429 + Retry-After, 403 primary rate limit,
  403 secondary rate limit, connection reset; rate limits may name their seconds: `429:86400`);
- injected latency; request counting per route and status;
- the OpenAPI validation hook: an optional `validator(method, route, status, body)` called for every JSON answer
  (tests plug in GitHub's OpenAPI description there: tests/openapi/validate.py).

Routes are keyed by method and OpenAPI path template: `add_route("POST", "/repos/{owner}/{repo}/pulls", fn)`;
`fn(server, request)` gets a `SimRequest` (path params, query, headers, parsed JSON body) and returns a `Reply`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

Validator = Callable[[str, str, int, Any], None]  # (method, path template, status, JSON body)
DOCS = "https://docs.github.com/rest"


class Reply:
    """What a route returns: a JSON body, raw bytes, or a redirect."""

    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ):
        self.status = status
        self.body = body
        self.raw = raw
        self.headers = dict(headers or {})
        self.content_type = content_type


def error(status: int, message: str) -> Reply:
    return Reply(status, {"message": message, "documentation_url": DOCS, "status": str(status)})


@dataclass
class Faults:
    """Faults injected by request sequence number (1-based) or period: 502, 429, 403-primary, 403-secondary,
    reset and timeout (answer held `hang_seconds`) on the API host; reset, timeout and corrupt (a byte in the
    middle flipped) on the blob host."""

    at: dict[int, str] = field(default_factory=dict)  # request number → kind
    every: dict[int, str] = field(default_factory=dict)  # period → kind (request number % period == 0)
    blob_every: dict[int, str] = field(default_factory=dict)

    def pick(self, n: int, *, blob: bool = False) -> str | None:
        if not blob and n in self.at:
            return self.at[n]
        table = self.blob_every if blob else self.every
        for period, kind in sorted(table.items()):
            if n % period == 0:
                return kind
        return None


@dataclass
class Stats:
    api: int = 0
    blob: int = 0
    not_modified: int = 0
    faults: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, str, int, bool]] = field(default_factory=list)  # host, path, status, had auth

    def reset(self) -> None:
        self.api = self.blob = self.not_modified = self.faults = 0
        self.by_route.clear()
        self.log.clear()


@dataclass(frozen=True)
class Seen:
    """One request as received: which listener, the Host header, method, path (query included), Authorization."""

    listener: str  # "api" or "blob"
    host: str
    method: str
    path: str
    authorization: str | None


@dataclass(frozen=True)
class SimRequest:
    """What a route sees: the method, the path parameters of its template, the query, headers and JSON body."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None  # parsed JSON body (POST/PATCH/PUT), or None
    raw: bytes = b""  # the body as sent (release asset uploads are not JSON)


Route = Callable[["RoutingServer", SimRequest], Reply]
S = TypeVar("S", bound="RoutingServer")


class RoutingServer:
    """The listeners and the route table; what every request and answer goes through."""

    def __init__(
        self,
        *,
        token: str = "ghp_test_token",
        latency: float = 0.0,
        validator: Validator | None = None,
        require_auth: bool = True,
        port: int = 0,
        extra_tokens: tuple[str, ...] = (),
        repo_tokens: dict[str, str] | None = None,
    ) -> None:
        self.token = token
        self.extra_tokens = extra_tokens
        self.repo_tokens = dict(repo_tokens or {})  # "owner/repo" → the only token that repository answers to
        self.seen: list[Seen] = []
        self.latency = latency
        self.validator = validator
        self.require_auth = require_auth
        self.faults = Faults()
        self.stats = Stats()
        self.validation_errors: list[str] = []
        self.rate_remaining = 5000
        self.rate_reset_in = 3600.0  # seconds from now announced in x-ratelimit-reset
        self.hang_seconds = 1.0  # how long a "timeout" fault holds the answer
        self._lock = threading.Lock()
        self._routes: list[tuple[str, str, re.Pattern[str], Route]] = []
        self._api = _make_server(self, blob=False, port=port)
        self._blob = _make_server(self, blob=True)
        self._threads: list[threading.Thread] = []

    # lifecycle
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    @property
    def blob_url(self) -> str:
        return f"http://127.0.0.1:{self._blob.server_address[1]}"

    def start(self: S) -> S:
        for srv in (self._api, self._blob):
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for srv in (self._api, self._blob):
            srv.shutdown()
            srv.server_close()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authorizations(self, path_prefix: str = "", *, method: str | None = None) -> list[str | None]:
        """The Authorization header of every request whose path starts with `path_prefix` (and of `method`)."""
        with self._lock:
            return [s.authorization for s in self.seen
                    if s.path.startswith(path_prefix) and (method is None or s.method == method)]  # fmt: skip

    def add_route(self, method: str, template: str, fn: Route) -> None:
        """Register `METHOD template` (an OpenAPI path template such as /repos/{owner}/{repo}/pulls).

        Answers are validated as the operation `method template` of the OpenAPI slice; GET answers get ETags.
        A trailing `{ref}` also matches slashes (`/git/ref/{ref}` serves `/git/ref/tags/v1.0.0`).
        """
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        if template.endswith("/{ref}"):  # git refs contain slashes: git/ref/tags/v1.0.0
            regex = regex.removesuffix("(?P<ref>[^/]+)") + "(?P<ref>.+)"
        self._routes.append((method.upper(), template, re.compile("^" + regex + "$"), fn))

    # request handling
    def _next(self, blob: bool) -> int:
        with self._lock:
            if blob:
                self.stats.blob += 1
                return self.stats.blob
            self.stats.api += 1
            return self.stats.api

    def handle(self, handler: BaseHTTPRequestHandler, blob: bool, method: str = "GET") -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        if self.latency:
            time.sleep(self.latency)
        n = self._next(blob)
        split = urlsplit(handler.path)
        auth = handler.headers.get("Authorization")
        with self._lock:
            host = handler.headers.get("Host", "")
            self.seen.append(Seen("blob" if blob else "api", host, method, handler.path, auth))
        fault = self.faults.pick(n, blob=blob)
        if fault == "timeout":
            with self._lock:
                self.stats.faults += 1
            time.sleep(self.hang_seconds)
        if fault == "reset":
            with self._lock:
                self.stats.faults += 1
                self.stats.log.append(("blob" if blob else "api", split.path, 0, bool(auth)))
            _reset(handler)
            return
        if blob:
            reply = self._blob_reply(split.path, auth)
            route = "blob"
            if fault == "corrupt" and reply.raw:
                with self._lock:
                    self.stats.faults += 1
                mid = len(reply.raw) // 2
                reply.raw = reply.raw[:mid] + bytes([reply.raw[mid] ^ 0xFF]) + reply.raw[mid + 1 :]
        else:
            route, reply = self._api_reply(handler, method, split.path, split.query, raw_body, auth, fault)
        with self._lock:
            self.stats.by_route[f"{route} {reply.status}"] += 1
            self.stats.log.append(("blob" if blob else "api", split.path, reply.status, bool(auth)))
        self._send(handler, route, reply, blob=blob)

    def _api_reply(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        query: str,
        raw_body: bytes,
        auth: str | None,
        fault: str | None,
    ) -> tuple[str, Reply]:
        if fault is not None and fault != "timeout":
            with self._lock:
                self.stats.faults += 1
            return f"{method} fault", _fault_reply(fault)
        if self.require_auth:
            if not auth:
                return f"{method} auth", error(401, "Requires authentication")
            if auth not in {f"Bearer {t}" for t in (self.token, *self.extra_tokens)}:
                return f"{method} auth", error(401, "Bad credentials")
            m = re.match(r"/repos/([^/]+/[^/]+)/", path)
            owner_repo = m.group(1) if m else None
            if owner_repo in self.repo_tokens and auth != f"Bearer {self.repo_tokens[owner_repo]}":
                return f"{method} unknown", error(404, "Not Found")
        query_params = {k: v[-1] for k, v in parse_qs(query).items()}
        content_type = handler.headers.get("Content-Type") or "application/json"
        try:
            body = json.loads(raw_body) if raw_body and "json" in content_type else None
        except ValueError:
            return f"{method} unknown", error(400, "Problems parsing JSON")
        for route_method, template, pattern, fn in self._routes:
            m = pattern.match(path)
            if m and route_method == method:
                headers = {k: v for k, v in handler.headers.items()}
                request = SimRequest(method, path, m.groupdict(), query_params, headers, body, raw_body)
                reply = fn(self, request)
                template = f"{method} {template}"
                if method == "GET" and reply.status == 200 and reply.body is not None and reply.raw is None:
                    etag = 'W/"' + hashlib.sha256(_dumps(reply.body)).hexdigest()[:40] + '"'
                    reply.headers["ETag"] = etag
                    if handler.headers.get("If-None-Match") == etag:
                        with self._lock:
                            self.stats.not_modified += 1
                        return template, Reply(304, None, headers={"ETag": etag})
                return template, reply
        return f"{method} unknown", error(404, "Not Found")

    def _blob_reply(self, path: str, auth: str | None) -> Reply:
        if auth:
            return Reply(
                400,
                raw=b"<Error><Code>InvalidAuthenticationInfo</Code><Message>Authentication "
                b"information is not given in the correct format.</Message></Error>",
                content_type="application/xml",
            )
        return self.blob(path)

    def blob(self, path: str) -> Reply:
        """What the blob host serves at `path` (a server with blobs answers more than this)."""
        return blob_not_found()

    def _send(self, handler: BaseHTTPRequestHandler, route: str, reply: Reply, *, blob: bool) -> None:
        if reply.raw is not None:
            data = reply.raw
        elif reply.body is not None:
            data = _dumps(reply.body)
            if self.validator is not None and not blob:
                try:
                    method, _, template = route.partition(" ")
                    self.validator(method, template, reply.status, reply.body)
                except Exception as e:
                    with self._lock:
                        self.validation_errors.append(f"{route} {reply.status}: {e}")
        else:
            data = b""
        handler.send_response(reply.status)
        if reply.status != 304:
            handler.send_header("Content-Type", reply.content_type)
        if not blob:
            with self._lock:
                remaining = self.rate_remaining
                reset = int(time.time() + self.rate_reset_in)
            handler.send_header("x-ratelimit-limit", "5000")
            handler.send_header("x-ratelimit-remaining", reply.headers.pop("x-ratelimit-remaining", str(remaining)))
            handler.send_header("x-ratelimit-reset", reply.headers.pop("x-ratelimit-reset", str(reset)))
            handler.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        for k, v in reply.headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    # helpers for routes
    def paginate(
        self, items: list[Any], params: dict[str, str], path: str, key: str, render: Callable[[Any], Any]
    ) -> Reply:
        try:
            per_page = min(max(int(params.get("per_page", 30)), 1), 100)
            page = max(int(params.get("page", 1)), 1)
        except ValueError:
            return error(422, "Invalid request.")
        start = (page - 1) * per_page
        body = {"total_count": len(items), key: [render(i) for i in items[start : start + per_page]]}
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = []

        def url(p: int) -> str:
            return f"{self.api_url}{path}?" + urlencode({**params, "per_page": per_page, "page": p})

        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links += [f'<{url(1)}>; rel="first"', f'<{url(page - 1)}>; rel="prev"']
        headers = {"Link": ", ".join(links)} if links else {}
        return Reply(200, body, headers=headers)

    def user_json(self, login: str) -> dict[str, Any]:
        base = f"{self.api_url}/users/{login}"
        return {
            "login": login,
            "id": 1_000_001,
            "node_id": "U_test",
            "avatar_url": "https://avatars.example/u",
            "gravatar_id": "",
            "url": base,
            "html_url": f"https://github.com/{login}",
            "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events",
            "type": "Organization",
            "site_admin": False,
        }


# ------------------------------------------------------------------------------------------------ plumbing


def blob_not_found() -> Reply:
    return Reply(404, raw=b"<Error><Code>BlobNotFound</Code></Error>", content_type="application/xml")


def _fault_reply(kind: str) -> Reply:
    """`kind` may carry seconds after a colon: `429:86400` (Retry-After of a day), `403-primary:3600` (the limit
    resets in an hour); without them, 1 second."""
    kind, _, arg = kind.partition(":")
    seconds = arg or "1"
    if kind == "502":
        return error(502, "Server Error")
    if kind == "429":
        reply = error(429, "You have exceeded a secondary rate limit. Please wait a few minutes.")
        reply.headers["Retry-After"] = seconds
        return reply
    if kind == "403-secondary":
        reply = error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
        reply.headers["Retry-After"] = seconds
        return reply
    if kind == "403-primary":
        reply = error(403, "API rate limit exceeded for user ID 1000001.")
        reply.headers["x-ratelimit-remaining"] = "0"
        reply.headers["x-ratelimit-reset"] = str(int(time.time()) + int(seconds))
        return reply
    raise ValueError(f"unknown fault {kind!r}")


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection with an RST instead of answering."""
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)
    handler.connection.close()


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _make_server(owner: RoutingServer, *, blob: bool, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _dispatch(self, method: str) -> None:
            try:
                owner.handle(self, blob, method)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    return srv
