"""Private Docker engines for the tests: `dockerd` started as root with the vfs storage driver, no iptables and
no bridge, listening on a unix socket in a temporary folder.

Each engine has its own data-root, exec-root (where its managed containerd keeps its socket), pidfile and
containerd namespaces, so two run side by side without touching the machine's own engine.

Session fixtures: `dockerd` (one engine) and `dockerd2` (a second one, for multi-engine scheduling).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


@dataclass
class Dockerd:
    name: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def log_tail(self, n: int = 3000) -> str:
        try:
            return (self.root / "dockerd.log").read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    def client(self):  # type: ignore[no-untyped-def]
        import docker

        return docker.APIClient(base_url=self.url, version="auto", timeout=120)


def start_dockerd(name: str) -> Dockerd:
    if not Path(DOCKERD).exists():
        raise RuntimeError("dockerd is missing: apt-get install -y docker.io")
    if os.geteuid() != 0:
        raise RuntimeError("dockerd needs root: run the tests as root (as .ci/run does)")
    # Short paths: unix socket paths are limited to 108 bytes.
    root = Path(tempfile.mkdtemp(prefix=f"dk-{name}-", dir="/tmp"))
    argv = [
        DOCKERD,
        "--storage-driver=vfs",
        "--iptables=false",
        "--ip-masq=false",
        "--bridge=none",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'dockerd.pid'}",
        f"--host=unix://{root / 'docker.sock'}",
        f"--containerd-namespace={name}",
        f"--containerd-plugins-namespace={name}-plugins",
        "--log-level=warn",
    ]
    log = (root / "dockerd.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    engine = Dockerd(name, root, proc)
    deadline = time.monotonic() + 60
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd {name} exited ({proc.returncode}):\n{engine.log_tail()}")
        if (root / "docker.sock").exists():
            try:
                engine.client().ping()
                return engine
            except Exception as e:  # not ready yet
                last = e
        time.sleep(0.1)
    stop_dockerd(engine)
    raise RuntimeError(f"dockerd {name} did not answer within 60 s ({last}):\n{engine.log_tail()}")


def stop_dockerd(engine: Dockerd) -> None:
    proc = engine.process
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    shutil.rmtree(engine.root, ignore_errors=True)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    engine = start_dockerd("kit1")
    yield engine
    stop_dockerd(engine)


@pytest.fixture(scope="session")
def dockerd2() -> Iterator[Dockerd]:
    engine = start_dockerd("kit2")
    yield engine
    stop_dockerd(engine)
