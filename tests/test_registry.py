"""RegistryClient against real distribution registries on 127.0.0.1 (tests/services/registry.py)."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from release.config import Secret
from release.errors import RegistryAuthError, RegistryResponseError, TagConflict
from release.http import make_session
from release.imageref import ImageRef
from release.oci import DOCKER_MANIFEST, OCI_INDEX
from release.registry import RegistryClient
from release.registry_auth import Keychain
from release.registry_transport import parse_challenge
from tests.services.registry import Registry, Seeder, random_layer, skopeo_digest

KB = 1024


def test_head_get_put_manifest(registry: Registry, seeder: Seeder, unique_repo: str) -> None:
    ref = registry.ref(f"{unique_repo}/img:1")
    digest = seeder.image(ref, [random_layer(3 * KB), random_layer(2 * KB)])
    client = registry.client()
    desc = client.head_manifest(ref)
    assert desc is not None and desc.digest == digest
    m = client.get_manifest(ref)
    assert m.digest == digest and not m.is_index and len(m.blobs()) == 3
    assert client.head_manifest(registry.ref(f"{unique_repo}/img:missing")) is None
    assert client.list_tags(ref) == ["1"]


def test_copy_same_registry_mounts_every_blob(registry: Registry, seeder: Seeder, unique_repo: str) -> None:
    src = registry.ref(f"{unique_repo}/ci:0.0.5-abc")
    digest = seeder.image(src, [random_layer(4 * KB) for _ in range(3)])
    dst = registry.ref(f"{unique_repo}/release:0.6.0")
    client = registry.client()
    result = client.copy(src, dst)
    assert result.digest == digest
    assert (result.blobs_mounted, result.blobs_uploaded, result.bytes_uploaded) == (4, 0, 0)
    assert client.stats.bytes_uploaded == 0
    assert client.digest(dst) == digest
    assert skopeo_digest(dst, registry) == digest


def test_copy_between_registries_streams(
    registry: Registry, registry2: Registry, seeder: Seeder, unique_repo: str
) -> None:
    src = registry.ref(f"{unique_repo}/ci:1")
    layers = [random_layer(5 * KB), random_layer(7 * KB)]
    digest = seeder.image(src, layers, media_type=DOCKER_MANIFEST)
    dst = registry2.ref(f"{unique_repo}/release:1")
    client = RegistryClient(make_session(), _both(registry, registry2))
    result = client.copy(src, dst)
    assert result.digest == digest and result.blobs_uploaded == 3 and result.blobs_mounted == 0
    assert result.bytes_uploaded >= 12 * KB
    assert skopeo_digest(dst, registry2) == digest
    assert client.get_manifest(dst).media_type == DOCKER_MANIFEST


def test_chunked_upload(registry: Registry, registry2: Registry, seeder: Seeder, unique_repo: str) -> None:
    src = registry.ref(f"{unique_repo}/big:1")
    digest = seeder.image(src, [random_layer(50 * KB)])
    dst = registry2.ref(f"{unique_repo}/big:1")
    client = RegistryClient(make_session(), _both(registry, registry2), chunk_size=16 * KB)
    client.copy(src, dst)
    assert client.stats.by_method["PATCH"] == 4  # 50 KB in 16 KB chunks
    assert skopeo_digest(dst, registry2) == digest


@pytest.mark.parametrize("docker", [False, True])
def test_copy_index_children_first(
    registry: Registry, registry2: Registry, seeder: Seeder, unique_repo: str, docker: bool
) -> None:
    base = random_layer(3 * KB)
    src = registry.ref(f"{unique_repo}/multi:1")
    digest = seeder.index(src, {"amd64": [base, random_layer(KB)], "arm64": [base, random_layer(KB)]}, docker=docker)
    client = RegistryClient(make_session(), _both(registry, registry2))
    manifest = client.get_manifest(src)
    assert manifest.is_index and len(manifest.children()) == 2
    for dst in (registry.ref(f"{unique_repo}/multi-copy:1"), registry2.ref(f"{unique_repo}/multi:1")):
        result = client.copy(src, dst)
        assert result.digest == digest and result.manifests_put == 3
        for child in manifest.children():
            assert client.head_manifest(dst.with_digest(child.digest)) is not None
        reg = registry if dst.registry == registry.host else registry2
        assert skopeo_digest(dst, reg) == digest
    if not docker:
        assert manifest.media_type == OCI_INDEX


def test_copy_by_digest(registry: Registry, seeder: Seeder, unique_repo: str) -> None:
    src = registry.ref(f"{unique_repo}/ci:1")
    digest = seeder.image(src, [random_layer(KB)])
    pinned = ImageRef.parse(f"{registry.host}/{unique_repo}/ci@{digest}")
    dst = registry.ref(f"{unique_repo}/out:2")
    assert registry.client().copy(pinned, dst).digest == digest


def test_existing_same_digest_writes_nothing(registry: Registry, seeder: Seeder, unique_repo: str) -> None:
    src = registry.ref(f"{unique_repo}/ci:1")
    seeder.image(src, [random_layer(KB)])
    dst = registry.ref(f"{unique_repo}/rel:1")
    registry.client().copy(src, dst)
    again = registry.client()
    result = again.copy(src, dst)
    assert result.skipped and again.stats.writes == 0


def test_conflict_is_refused_and_tag_unmoved(registry: Registry, seeder: Seeder, unique_repo: str) -> None:
    src = registry.ref(f"{unique_repo}/ci:1")
    seeder.image(src, [random_layer(KB)])
    dst = registry.ref(f"{unique_repo}/rel:1")
    other = seeder.image(dst, [random_layer(KB)])
    client = registry.client()
    with pytest.raises(TagConflict) as e:
        client.copy(src, dst)
    assert other in str(e.value) and "refusing to move" in str(e.value)
    assert client.digest(dst) == other
    assert client.stats.writes == 0


def images_sharing_a_layer(registry: Registry, seeder: Seeder, repo: str, *, count: int, shared: int) -> list[ImageRef]:
    """`REPO/ci0:1` … `REPO/ci{count-1}:1`: each one layer of its own and one layer of `shared` bytes they all have."""
    base = random_layer(shared)
    srcs = [registry.ref(f"{repo}/ci{i}:1") for i in range(count)]
    for ref in srcs:
        seeder.image(ref, [base, random_layer(KB)])
    return srcs


def test_shared_layer_streams_once_across_repositories(
    registry: Registry, registry2: Registry, seeder: Seeder, unique_repo: str
) -> None:
    srcs = images_sharing_a_layer(registry, seeder, unique_repo, count=4, shared=20 * KB)
    client = RegistryClient(make_session(), _both(registry, registry2))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: client.copy(s, registry2.ref(f"{unique_repo}/{s.repository}:1")), srcs))
    assert sum(r.blobs_mounted for r in results) >= 3  # the base layer: streamed once, mounted elsewhere
    assert client.stats.bytes_uploaded < 2 * 20 * KB + 4 * 2 * KB


def test_estimate_matches_copy(registry: Registry, registry2: Registry, seeder: Seeder, unique_repo: str) -> None:
    src = registry.ref(f"{unique_repo}/ci:1")
    seeder.image(src, [random_layer(3 * KB), random_layer(3 * KB)])
    client = RegistryClient(make_session(), _both(registry, registry2))
    same = client.estimate_copy(src, registry.ref(f"{unique_repo}/rel:1"))
    assert (same.mounts, same.uploads, same.upload_bytes) == (3, 0, 0)
    cross = client.estimate_copy(src, registry2.ref(f"{unique_repo}/rel:1"))
    assert cross.uploads == 3 and cross.upload_bytes > 6 * KB
    writes_before = client.stats.writes
    assert writes_before == 0
    result = client.copy(src, registry2.ref(f"{unique_repo}/rel:1"))
    assert result.bytes_uploaded == cross.upload_bytes


def test_wrong_credentials(registry: Registry, unique_repo: str) -> None:
    keychain = Keychain(username="releaser", password=Secret("not-the-password"), hosts=(registry.host,))
    client = RegistryClient(make_session(), keychain)
    with pytest.raises(RegistryAuthError) as e:
        client.head_manifest(registry.ref(f"{unique_repo}/x:1"))
    assert "rejected the credentials from REGISTRY_USERNAME" in str(e.value)
    assert "not-the-password" not in str(e.value)
    assert e.value.exit_code == 2


def test_no_credentials(registry: Registry, unique_repo: str, tmp_path: Path) -> None:
    client = RegistryClient(make_session(), Keychain(docker_config=tmp_path))
    with pytest.raises(RegistryAuthError, match="REGISTRY_USERNAME and REGISTRY_PASSWORD go to the release registry"):
        client.head_manifest(registry.ref(f"{unique_repo}/x:1"))


def test_error_names_method_url_status_and_codes(registry: Registry, unique_repo: str) -> None:
    client = registry.client()
    with pytest.raises(RegistryResponseError) as e:
        client.get_manifest(registry.ref(f"{unique_repo}/nothing:1"))
    err = e.value
    assert (err.method, err.status) == ("GET", 404)
    assert "MANIFEST_UNKNOWN" in err.codes or "NAME_UNKNOWN" in err.codes
    assert f"{unique_repo}/nothing/manifests/1" in str(err)


def test_docker_config_auths_and_helper(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique_repo: str
) -> None:
    import base64

    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {f"https://{registry.host}": {"auth": auth}}}))
    client = RegistryClient(make_session(), Keychain(docker_config=tmp_path))
    assert client.head_manifest(registry.ref(f"{unique_repo}/x:1")) is None

    helper_dir = tmp_path / "bin"
    helper_dir.mkdir()
    helper = helper_dir / "docker-credential-fake"
    helper.write_text(
        "#!/bin/sh\nread server\n"
        f'[ "$server" = "{registry.host}" ] || exit 1\n'
        f'echo \'{{"Username": "{registry.username}", "Secret": "{registry.password}"}}\'\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper_dir}{os.pathsep}{os.environ['PATH']}")
    cfg = tmp_path / "helper"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"credHelpers": {registry.host: "fake"}}))
    client = RegistryClient(make_session(), Keychain(docker_config=cfg))
    assert client.head_manifest(registry.ref(f"{unique_repo}/x:1")) is None


def test_keychain_order_and_redaction(tmp_path: Path) -> None:
    kc = Keychain(username="u", password=Secret("p4ss"), hosts=("ghcr.io",), docker_config=tmp_path,
                  github_token=Secret("ghp_x"))  # fmt: skip
    cred = kc.resolve("ghcr.io")
    assert cred is not None and cred.username == "u"
    assert "p4ss" not in repr(cred)
    kc = Keychain(docker_config=tmp_path, github_token=Secret("ghp_x"), github_token_source="GH_PAT")
    cred = kc.resolve("ghcr.io")
    assert cred is not None and cred.source == "GH_PAT" and "ghp_x" not in repr(cred)
    assert kc.resolve("quay.io") is None


def test_parse_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"'
    )
    assert scheme == "bearer"
    assert params == {"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:a/b:pull"}


class _Both:
    def __init__(self, *regs: Registry) -> None:
        self._by_host = {r.host: r.keychain() for r in regs}

    def resolve(self, registry: str):  # type: ignore[no-untyped-def]
        kc = self._by_host.get(registry)
        return kc.resolve(registry) if kc else None

    def token_host_allowed(self, registry: str, token_host: str) -> bool:
        kc = self._by_host.get(registry)
        return kc is not None and kc.token_host_allowed(registry, token_host)


def _both(*regs: Registry) -> _Both:
    return _Both(*regs)


def test_token_flow_one_token_covers_a_mount(token_registry, unique_repo: str) -> None:
    reg, tokens = token_registry
    client = reg.client()
    seeder = Seeder(client)
    src = reg.ref(f"{unique_repo}/ci:1")
    digest = seeder.image(src, [random_layer(2048), random_layer(1024)])
    tokens.requests.clear()
    copier = reg.client()
    result = copier.copy(src, reg.ref(f"{unique_repo}/dev:1"))
    assert result.digest == digest and result.blobs_mounted == 3 and result.bytes_uploaded == 0
    # one token for the whole copy: push on the destination and pull on the source (so the mount is allowed)
    assert [sorted(s) for s in tokens.requests] == [
        [f"repository:{unique_repo}/ci:pull", f"repository:{unique_repo}/dev:pull,push"],
    ]
    assert skopeo_digest(reg.ref(f"{unique_repo}/dev:1"), reg) == digest


def test_token_flow_wrong_password(token_registry, unique_repo: str) -> None:
    reg, _ = token_registry
    client = RegistryClient(
        make_session(), Keychain(username=reg.username, password=Secret("nope-nope"), hosts=(reg.host,))
    )
    with pytest.raises(RegistryAuthError) as e:
        client.head_manifest(reg.ref(f"{unique_repo}/x:1"))
    assert "refused the credentials from REGISTRY_USERNAME" in str(e.value) and "nope-nope" not in str(e.value)


def test_token_flow_cross_registry_mounts_from_a_repository_filled_earlier(
    registry: Registry, seeder: Seeder, token_registry, unique_repo: str
) -> None:
    reg, tokens = token_registry
    srcs = images_sharing_a_layer(registry, seeder, unique_repo, count=2, shared=16 * KB)
    client = RegistryClient(make_session(), _both(registry, reg))
    first = client.copy(srcs[0], reg.ref(f"{unique_repo}/a:1"))
    second = client.copy(srcs[1], reg.ref(f"{unique_repo}/b:1"))
    assert first.blobs_uploaded == 3 and first.blobs_mounted == 0
    assert second.blobs_mounted == 1 and second.blobs_uploaded == 2  # the base layer came from repository a
    assert any(f"repository:{unique_repo}/a:pull" in scopes for scopes in tokens.requests)


def test_one_ping_learns_the_auth_scheme_before_concurrent_requests(token_registry, unique_repo: str) -> None:
    """The first request to a registry is preceded by one `GET /v2/`; the requests started meanwhile wait for it
    instead of each being refused with a 401."""
    import re

    reg, tokens = token_registry
    seeder = Seeder(reg.client())
    srcs = [reg.ref(f"{unique_repo}/ci{i}:1") for i in range(4)]
    for ref in srcs:
        seeder.image(ref, [random_layer(512)])
    tokens.requests.clear()
    client = reg.client()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda s: client.copy(s, reg.ref(f"{unique_repo}/dev:{s.repository[-1]}")), srcs))
    log = (reg.root / "registry.log").read_text(errors="replace")
    answered = re.findall(r'"(?:GET|HEAD|POST|PUT|PATCH|DELETE) (/v2/\S*) HTTP/1.1" (\d{3})', log)
    mine = [status for path, status in answered if path.startswith(f"/v2/{unique_repo}/")]
    assert mine and "401" not in mine
    assert client.stats.by_method["PING"] == 1
    assert len(tokens.requests) == len({tuple(sorted(s)) for s in tokens.requests})  # one token per scope set
