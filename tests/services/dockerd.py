"""Private Docker engines for the tests (release/sim/dockerd.py): vfs, no iptables, no bridge, a unix socket.

Session fixtures: `dockerd` (one engine) and `dockerd2` (a second one, for multi-engine scheduling).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from release.sim.dockerd import Dockerd, start_dockerd, stop_dockerd

__all__ = ["Dockerd", "dockerd", "dockerd2", "start_dockerd", "stop_dockerd"]


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
