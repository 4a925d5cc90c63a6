"""Private Docker engines: `dockerd` started as root with the vfs storage driver, no iptables and no bridge,
listening on a unix socket in a folder of its own under /tmp, for rehearsals (the demo's builds) and the tests.

Each engine has its own data-root, exec-root (where its managed containerd keeps its socket), pidfile and
containerd namespaces, so two run side by side without touching the machine's own engine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.errors import ServiceError

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


@dataclass
class Dockerd:
    name: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The engine's address, for DOCKER_HOST or `--docker-host`."""
        return f"unix://{self.root}/docker.sock"

    def log_tail(self, n: int = 3000) -> str:
        try:
            return (self.root / "dockerd.log").read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    def client(self) -> Any:
        """A low-level docker SDK client for this engine."""
        import docker

        return docker.APIClient(base_url=self.url, version="auto", timeout=120)


def unavailable_reason() -> str | None:
    """Why a private dockerd cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "a private dockerd needs root (run as root, as the tests and CI do)"
    if not Path(DOCKERD).exists():
        return "dockerd is missing (apt-get install -y docker.io)"
    return None


def start_dockerd(name: str) -> Dockerd:
    """Start engine `name` (also its containerd namespace) and wait until it answers a ping (60 s at most)."""
    reason = unavailable_reason()
    if reason is not None:
        raise ServiceError(reason)
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
    with (root / "dockerd.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    engine = Dockerd(name, root, proc)
    deadline = time.monotonic() + 60
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"dockerd {name} exited ({proc.returncode}):\n{engine.log_tail()}")
        if (root / "docker.sock").exists():
            try:
                engine.client().ping()
                return engine
            except Exception as e:  # not ready yet
                last = e
        time.sleep(0.1)
    stop_dockerd(engine)
    raise ServiceError(f"dockerd {name} did not answer within 60 s ({last}):\n{engine.log_tail()}")


def stop_dockerd(engine: Dockerd) -> None:
    """Stop the engine (SIGTERM, then SIGKILL after 30 s) and delete its folder."""
    proc = engine.process
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    shutil.rmtree(engine.root, ignore_errors=True)
