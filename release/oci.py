"""Pure: OCI and Docker manifest values (media types, descriptors, manifests), checked before use.

A registry's answer is outside data: `Manifest.children()` and `Manifest.blobs()` raise a `RegistryError` of one
line for a manifest missing a key its media type requires, a descriptor that is not an object, a digest that is
not ALGORITHM:HEX of the right length, or a size that is not a non-negative integer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from release.errors import RegistryError
from release.imageref import is_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
ACCEPT = ", ".join(MANIFEST_TYPES)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: str = ""
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    raw: bytes
    media_type: str
    digest: str

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def _doc(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.raw)
        except (ValueError, RecursionError):
            raise RegistryError(f"manifest {self.digest} is not JSON") from None
        if not isinstance(doc, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return doc

    def _list(self, doc: dict[str, Any], key: str) -> list[Any]:
        value = doc.get(key)
        if not isinstance(value, list):
            what = "is missing" if value is None else "is not a list"
            raise RegistryError(f"manifest {self.digest} ({self.media_type}): {key!r} {what}; the image is broken")
        return value

    def children(self) -> list[Descriptor]:
        """The manifests an index points at (empty for an image manifest)."""
        if not self.is_index:
            return []
        out = []
        for n, d in enumerate(self._list(self._doc(), "manifests")):
            desc = _descriptor(self.digest, f"manifests[{n}]", d, OCI_MANIFEST)
            p = d.get("platform")
            parts = (p.get("os"), p.get("architecture"), p.get("variant")) if isinstance(p, dict) else ()
            platform = "/".join(x for x in parts if isinstance(x, str) and x)
            out.append(Descriptor(desc.media_type, desc.digest, desc.size, platform))
        return out

    def blobs(self) -> list[Descriptor]:
        """Config then layers; foreign layers (with `urls`) stay where they are and are left out."""
        if self.is_index:
            return []
        doc = self._doc()
        if "config" not in doc:
            raise RegistryError(f"manifest {self.digest} ({self.media_type}): 'config' is missing; the image is broken")
        items = [("config", doc["config"])] + [(f"layers[{n}]", d) for n, d in enumerate(self._list(doc, "layers"))]
        out = []
        for where, d in items:
            desc = _descriptor(self.digest, where, d, "")
            if d.get("urls"):
                continue
            out.append(desc)
        return out


def _descriptor(manifest: str, where: str, d: Any, default_type: str) -> Descriptor:
    """One descriptor of a manifest, checked: an object with a valid digest, a size and a string media type."""
    if not isinstance(d, dict):
        raise RegistryError(f"manifest {manifest}: {where} is not a descriptor object")
    digest, size, media_type = d.get("digest"), d.get("size"), d.get("mediaType", default_type)
    if not is_digest(digest):
        shown = repr(digest)[:80]
        raise RegistryError(f"manifest {manifest}: {where} has digest {shown}, not sha256:<64 hex> or sha512:<128 hex>")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise RegistryError(f"manifest {manifest}: {where} has no valid size ({str(size)[:40]!r})")
    if not isinstance(media_type, str):
        raise RegistryError(f"manifest {manifest}: {where} has a mediaType that is not a string")
    return Descriptor(media_type, str(digest), size)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
