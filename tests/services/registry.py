"""Real OCI registries for the tests (release/sim/registry.py): Debian's `docker-registry` on 127.0.0.1.

Session fixtures:
- `registry`: htpasswd (Basic) auth, storage in a temporary folder, a free port.
- `registry2`: a second, independent one, for copies between registries (no mount possible).
- `token_registry`: a registry with the distribution token flow, and its token server.
- `seeder`: pushes small random images (shared base layers, a multi-arch index) through the kit's own client.
Function fixtures: `fresh_registry` (a registry of its own), `unique_repo` (a repository-name prefix).

Each test uses its own repository names (`unique_repo`), so the session-wide registries need no cleaning.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from release.imageref import ImageRef
from release.oci import sha256_digest
from release.sim.registry import (
    Registry,
    Seeder,
    TokenServer,
    random_layer,
    start_registry,
    start_token_registry,
    stop_registry,
)

__all__ = [
    "Registry",
    "Seeder",
    "TokenServer",
    "random_layer",
    "skopeo_digest",
    "start_registry",
    "start_token_registry",
    "stop_registry",
]


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"), "registry1")
    yield reg
    stop_registry(reg)


@pytest.fixture(scope="session")
def registry2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"), "registry2")
    yield reg
    stop_registry(reg)


@pytest.fixture
def fresh_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry of its own for one test (for tests that check the whole registry's state)."""
    reg = start_registry(tmp_path_factory.mktemp("registry"), "fresh")
    yield reg
    stop_registry(reg)


@pytest.fixture
def unique_repo() -> str:
    """A repository-name prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def seeder(registry: Registry) -> Iterator[Seeder]:
    client = registry.client()
    yield Seeder(client)
    client.close()


def skopeo_digest(ref: ImageRef, reg: Registry) -> str:
    """The digest another client (skopeo) sees for `ref`."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise RuntimeError("skopeo is missing: apt-get install -y skopeo")
    out = subprocess.run(
        [
            skopeo,
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            f"{reg.username}:{reg.password}",
            f"docker://{ref}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return sha256_digest(out)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, TokenServer]]:
    reg, tokens = start_token_registry(tmp_path_factory.mktemp("registry"))
    yield reg, tokens
    stop_registry(reg)
    tokens.close()
