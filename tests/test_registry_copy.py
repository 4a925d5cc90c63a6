"""The copy decisions of release/registry_copy.py against a scripted wire: what each registry answer leads to.

The real registries of tests/test_registry.py cannot be made to answer a mount with 202 while the blob exists
(distribution mounts whatever the source repository holds); a scripted wire can.
"""

from __future__ import annotations

import json
import threading

import pytest

from release.errors import RegistryResponseError
from release.imageref import ImageRef
from release.oci import OCI_INDEX, OCI_MANIFEST, Descriptor, Manifest, sha256_digest
from release.registry_copy import Copier

DIGESTS = {name: "sha256:" + name * 64 for name in "abcdef"}


def image(*blobs: str) -> Manifest:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGESTS[blobs[0]], "size": 1},
        "layers": [{"mediaType": "l", "digest": DIGESTS[b], "size": 10} for b in blobs[1:]],
    }
    raw = json.dumps(doc).encode()
    return Manifest(raw, OCI_MANIFEST, sha256_digest(raw))


class ScriptedWire:
    """A registry whose mount answers and blob contents are set per test; every call is recorded."""

    def __init__(self, *, mountable: set[str], present: set[str], manifests: dict[str, Manifest] | None = None):
        self.mountable = mountable  # digests a mount succeeds for (201)
        self.present = present  # digests the destination repository already holds
        self.manifests = manifests or {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def _call(self, what: str, arg: str) -> None:
        with self._lock:
            self.calls.append((what, arg))

    def get_manifest(self, ref: ImageRef, *, scopes: tuple[str, ...] = ()) -> Manifest:
        self._call("GET manifest", str(ref.digest))
        return self.manifests[str(ref.digest)]

    def put_manifest(self, ref: ImageRef, manifest: Manifest, *, scopes: tuple[str, ...] = ()) -> str:
        self._call("PUT manifest", ref.reference)
        return manifest.digest

    def blob_exists(self, ref: ImageRef, digest: str, *, scopes: tuple[str, ...] = ()) -> bool:
        self._call("HEAD blob", digest)
        return digest in self.present

    def start_upload(
        self, dst: ImageRef, digest: str, mount_from: str | None, scopes: tuple[str, ...]
    ) -> tuple[bool, str]:
        self._call("POST mount" if mount_from else "POST", digest)
        if mount_from and digest in self.mountable:
            return True, ""
        return False, f"http://{dst.registry}/v2/{dst.repository}/blobs/uploads/1"

    def cancel_upload(self, dst: ImageRef, location: str, scopes: tuple[str, ...]) -> None:
        self._call("DELETE upload", location.rsplit("/", 1)[1])

    def stream_blob(self, src: ImageRef, desc: Descriptor, dst: ImageRef, location: str, scopes: tuple[str, ...]):
        self._call("stream", desc.digest)
        return desc.size

    def upload_requests(self, size: int) -> int:
        return 1

    def count(self, what: str) -> int:
        return sum(1 for w, _ in self.calls if w == what)


SRC = ImageRef.parse("ghcr.io/org/ci@" + "sha256:" + "1" * 64)
DST = ImageRef.parse("ghcr.io/org/dev:1")
OTHER_REGISTRY = ImageRef.parse("quay.io/org/dev:1")


def copy(wire: ScriptedWire, manifest: Manifest, src: ImageRef = SRC, dst: ImageRef = DST):
    copier = Copier(wire, workers=4)
    try:
        return copier.copy(src, dst, manifest, lambda e: None)
    finally:
        copier.close()


def test_same_registry_mounts_without_asking_first() -> None:
    wire = ScriptedWire(mountable=set(DIGESTS.values()), present=set())
    result = copy(wire, image("a", "b", "c"))
    assert wire.count("POST mount") == 3 and wire.count("HEAD blob") == 0
    assert (result.blobs_mounted, result.blobs_uploaded, result.manifests_put) == (3, 0, 1)


def test_a_refused_mount_of_a_blob_already_there_cancels_the_upload() -> None:
    wire = ScriptedWire(mountable={DIGESTS["a"]}, present={DIGESTS["b"]})
    result = copy(wire, image("a", "b"))
    assert ("DELETE upload", "1") in wire.calls and wire.count("stream") == 0
    assert (result.blobs_mounted, result.blobs_present, result.blobs_uploaded) == (1, 1, 0)


def test_a_refused_mount_of_a_missing_blob_streams_it() -> None:
    wire = ScriptedWire(mountable=set(), present=set())
    result = copy(wire, image("a", "b"))
    assert wire.count("stream") == 2 and wire.count("DELETE upload") == 0
    assert (result.blobs_uploaded, result.bytes_uploaded) == (2, 11)


def test_between_registries_a_head_comes_first() -> None:
    wire = ScriptedWire(mountable=set(), present={DIGESTS["a"]})
    result = copy(wire, image("a", "b"), dst=OTHER_REGISTRY)
    assert wire.count("HEAD blob") == 2 and wire.count("POST") == 1 and wire.count("POST mount") == 0
    assert (result.blobs_present, result.blobs_uploaded) == (1, 1)


def test_a_blob_is_transferred_once_per_repository_and_children_go_before_their_index() -> None:
    amd, arm = image("a", "c", "d"), image("b", "c", "e")  # both children carry layer c
    children = [
        {"mediaType": OCI_MANIFEST, "digest": m.digest, "size": len(m.raw), "platform": {"architecture": arch}}
        for m, arch in ((amd, "amd64"), (arm, "arm64"))
    ]
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()
    index = Manifest(raw, OCI_INDEX, sha256_digest(raw))
    wire = ScriptedWire(mountable=set(DIGESTS.values()), present=set(), manifests={amd.digest: amd, arm.digest: arm})
    result = copy(wire, index, src=SRC.with_digest(index.digest))
    assert wire.count("GET manifest") == 2 and wire.count("POST mount") == 5  # c once
    assert (result.blobs_mounted, result.blobs_present, result.manifests_put) == (5, 1, 3)
    puts = [arg for what, arg in wire.calls if what == "PUT manifest"]
    assert sorted(puts[:2]) == sorted([amd.digest, arm.digest]) and puts[2] == "1"


def test_a_failed_blob_stops_the_manifest_put() -> None:
    class Failing(ScriptedWire):
        def start_upload(self, dst, digest, mount_from, scopes):  # type: ignore[no-untyped-def]
            if digest == DIGESTS["b"]:
                raise RegistryResponseError("POST x → 500", method="POST", url="x", status=500)
            return super().start_upload(dst, digest, mount_from, scopes)

    wire = Failing(mountable=set(DIGESTS.values()), present=set())
    with pytest.raises(RegistryResponseError):
        copy(wire, image("a", "b"))
    assert wire.count("PUT manifest") == 0
