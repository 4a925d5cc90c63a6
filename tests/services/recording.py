"""HTTP servers for the tests that record the Authorization header of every request they receive.

- `RecordingServer`: answers every request with one configured reply (a status, headers, a body); stands in for
  a registry nobody configured, or a token server on another host.
- `RecordingProxy`: forwards to a real registry (`docker-registry` cannot record headers itself) and can play a
  hostile or unusual registry: upload `Location`s pointed at another host name, blob GETs redirected to a
  "storage host" with a signed URL (which, like real storage, rejects requests that carry Authorization).

Both listen on 127.0.0.1; `localhost:PORT` reaches the same listener under another host name, which is how the
tests make "another host" without a second machine. Every request is recorded as a `Seen` (Host header,
method, path, Authorization).

Fixtures: `recording_server` (a factory) and `recording_proxy` (a factory); servers stop after the test.
"""

from __future__ import annotations

import base64
import http.client
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, urlunsplit

import pytest

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"}


@dataclass(frozen=True)
class Seen:
    host: str
    method: str
    path: str
    authorization: str | None


@dataclass
class Reply:
    status: int = 404
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _Recorder:
    """The listener and the log shared by both servers."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with recorder._lock:
                    recorder.seen.append(
                        Seen(self.headers.get("Host", ""), self.command, self.path, self.headers.get("Authorization"))
                    )
                reply = recorder.answer(self, body)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if "content-length" not in {k.lower() for k in reply.headers}:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def host(self) -> str:
        """The registry-style host: `127.0.0.1:PORT`."""
        return f"127.0.0.1:{self.port}"

    @property
    def other_name(self) -> str:
        """The same listener under another host name: `localhost:PORT`."""
        return f"localhost:{self.port}"

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> Reply:
        raise NotImplementedError

    def requests_to(self, host: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.host == host]

    def authorizations(self, host: str | None = None) -> list[str | None]:
        with self._lock:
            return [s.authorization for s in self.seen if host is None or s.host == host]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class RecordingServer(_Recorder):
    """Answers everything with `reply` (or `respond(handler, body)` when given)."""

    def __init__(
        self, reply: Reply | None = None, respond: Callable[[BaseHTTPRequestHandler, bytes], Reply] | None = None
    ):
        super().__init__()
        self.reply = reply or Reply()
        self.respond = respond

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> Reply:
        return self.respond(handler, body) if self.respond else self.reply


class RecordingProxy(_Recorder):
    """Forwards to `upstream` (`127.0.0.1:PORT` of a docker-registry), recording what it receives.

    `upload_location_host`: the Location of a started upload names this host instead (the registry's own answer
    otherwise). `blob_redirect_host`: blob GETs answer 307 to `http://HOST/_storage/...?X-Amz-Signature=...`;
    `/_storage/` requests are served from the registry with `storage_credentials` and refused (400) when they
    carry an Authorization header.
    """

    SIGNATURE = "X-Amz-Signature=f00dfeedcafe&X-Amz-Credential=AKIATEST%2Fus-east-1&X-Amz-Expires=300"

    def __init__(
        self,
        upstream: str,
        *,
        upload_location_host: str | None = None,
        blob_redirect_host: str | None = None,
        storage_credentials: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.upstream = upstream
        self.upload_location_host = upload_location_host
        self.blob_redirect_host = blob_redirect_host
        self.storage_credentials = storage_credentials

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> Reply:
        path = handler.path
        if path.startswith("/_storage/"):
            if handler.headers.get("Authorization"):
                return Reply(400, {"Content-Type": "application/xml"}, b"<Error><Code>InvalidArgument</Code></Error>")
            headers = {}
            if self.storage_credentials:
                raw = ":".join(self.storage_credentials).encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
            return self._forward("GET", urlsplit(path).path.removeprefix("/_storage"), headers, b"")
        if (
            self.blob_redirect_host
            and handler.command == "GET"
            and re.fullmatch(r"/v2/.+/blobs/sha256:[0-9a-f]{64}", path)
        ):
            return Reply(307, {"Location": f"http://{self.blob_redirect_host}/_storage{path}?{self.SIGNATURE}"})
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        reply = self._forward(handler.command, path, headers, body)
        location = reply.headers.get("Location")
        if location and self.upload_location_host and "/blobs/uploads/" in path and handler.command == "POST":
            parts = urlsplit(location)
            reply.headers["Location"] = urlunsplit(
                ("http", self.upload_location_host, parts.path, parts.query, parts.fragment)
            )
        return reply

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP}
            if method == "HEAD":
                return Reply(resp.status, out, b"")
            out = {k: v for k, v in out.items() if k.lower() != "content-length"}
            return Reply(resp.status, out, data)
        finally:
            conn.close()


@pytest.fixture
def recording_server() -> Iterator[Callable[..., RecordingServer]]:
    made: list[RecordingServer] = []

    def make(reply: Reply | None = None, respond: Callable[[BaseHTTPRequestHandler, bytes], Reply] | None = None):
        server = RecordingServer(reply, respond)
        made.append(server)
        return server

    yield make
    for s in made:
        s.close()


@pytest.fixture
def recording_proxy() -> Iterator[Callable[..., RecordingProxy]]:
    made: list[RecordingProxy] = []

    def make(upstream: str, **kwargs: object) -> RecordingProxy:
        proxy = RecordingProxy(upstream, **kwargs)  # type: ignore[arg-type]
        made.append(proxy)
        return proxy

    yield make
    for p in made:
        p.close()
