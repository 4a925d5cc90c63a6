"""A TCP proxy on 127.0.0.1 that adds a fixed one-way latency without limiting bandwidth.

Each direction has a reader that stamps every chunk with its arrival time and a writer that sends it once
`delay` seconds have passed, so a round trip costs 2 × delay, as on a real network link.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator

import pytest


class LatencyProxy:
    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(128)
        self.port = int(self._server.getsockname()[1])
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            for a, b in ((client, server), (server, client)):
                q: queue.Queue[tuple[float, bytes]] = queue.Queue()
                threading.Thread(target=self._read, args=(a, q), daemon=True).start()
                threading.Thread(target=self._write, args=(b, q), daemon=True).start()

    def _read(self, sock: socket.socket, q: queue.Queue[tuple[float, bytes]]) -> None:
        while True:
            try:
                data = sock.recv(262144)
            except OSError:
                data = b""
            q.put((time.monotonic(), data))
            if not data:
                return

    def _write(self, sock: socket.socket, q: queue.Queue[tuple[float, bytes]]) -> None:
        while True:
            stamp, data = q.get()
            wait = stamp + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                return
            try:
                sock.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._closed = True
        self._server.close()


@pytest.fixture
def latency_proxy_factory() -> Iterator[type[LatencyProxy]]:
    made: list[LatencyProxy] = []

    class _Made(LatencyProxy):
        def __init__(self, upstream: tuple[str, int], delay: float) -> None:
            super().__init__(upstream, delay)
            made.append(self)

    yield _Made
    for p in made:
        p.close()
