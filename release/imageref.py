"""Pure: image references parsed once into values (our version of go-containerregistry's `pkg/name`).

`ImageRef.parse("https://ghcr.io/tenstorrent/x:0.5.0")` accepts what operators paste: an optional `https://`,
`http://` or `docker://` prefix, a registry host with an optional port, a repository path, and a tag and/or a
digest. After parsing, nothing splits strings on `:` or `/` again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from release.errors import InputError

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)
_PREFIXES = ("https://", "http://", "docker://")


class ImageRefError(InputError):
    """A reference that cannot be parsed; the message names the bad part."""


def is_digest(text: str) -> bool:
    return bool(_DIGEST.match(text))


@dataclass(frozen=True, order=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        original = text
        text = text.strip()
        for prefix in _PREFIXES:
            if text.lower().startswith(prefix):
                text = text[len(prefix) :]
                break
        if not text:
            raise ImageRefError(f"{original!r}: empty image reference")
        name, at, digest = text.partition("@")
        if at and not _DIGEST.match(digest):
            raise ImageRefError(
                f"{original!r}: digest {digest!r} is not ALGORITHM:HEX (e.g. sha256: and 64 hex digits)"
            )
        tag: str | None = None
        slash = name.rfind("/")
        colon = name.rfind(":")
        if colon > slash:
            name, tag = name[:colon], name[colon + 1 :]
            if not _TAG.match(tag):
                raise ImageRefError(
                    f"{original!r}: tag {tag!r} is not valid (letters, digits, '_', '.', '-'; at most 128, "
                    "not starting with '.' or '-')"
                )
        parts = name.split("/")
        first = parts[0]
        if len(parts) > 1 and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
            registry, path = first, parts[1:]
        else:
            registry, path = DEFAULT_REGISTRY, parts
            if len(path) == 1:
                path = ["library", *path]
        if not _HOST.match(registry):
            raise ImageRefError(f"{original!r}: registry {registry!r} is not HOST or HOST:PORT")
        if registry == "index.docker.io":
            registry = DEFAULT_REGISTRY
        for component in path:
            if not _COMPONENT.match(component):
                raise ImageRefError(
                    f"{original!r}: repository part {component!r} is not valid (lower-case letters, digits, "
                    "single separators '.', '_', '__' or '-')"
                )
        repository = "/".join(path)
        if len(repository) > 255:
            raise ImageRefError(f"{original!r}: repository name is longer than 255 characters")
        return cls(registry=registry, repository=repository, tag=tag, digest=digest or None)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What goes after /manifests/ in the API: the digest if known, else the tag (default `latest`)."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def link(self) -> str:
        """A clickable form for summaries: https:// in front."""
        return f"https://{self}"

    @property
    def host(self) -> str:
        """The registry without its port."""
        if self.registry.startswith("["):
            return self.registry.split("]", 1)[0] + "]"
        return self.registry.split(":", 1)[0]

    @property
    def is_loopback(self) -> bool:
        """Loopback registries are the only ones spoken to over plain HTTP."""
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")

    def with_tag(self, tag: str) -> ImageRef:
        if not _TAG.match(tag):
            raise ImageRefError(f"tag {tag!r} is not valid")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> ImageRef:
        """Pin to a digest; the tag stays for display only (requests use the digest)."""
        if not _DIGEST.match(digest):
            raise ImageRefError(f"digest {digest!r} is not ALGORITHM:HEX")
        return replace(self, digest=digest)

    def without_digest(self) -> ImageRef:
        return replace(self, digest=None)

    def in_repository(self, repository: str) -> ImageRef:
        return replace(self, repository=repository)

    def rewrite(self, registry_map: Mapping[str, str] | Iterable[tuple[str, str]]) -> ImageRef:
        """Swap the registry host via `registry_map` (RELEASE_REGISTRY_REWRITE): ghcr.io=127.0.0.1:5000."""
        pairs = registry_map.items() if isinstance(registry_map, Mapping) else registry_map
        for src, dst in pairs:
            if src == self.registry:
                return replace(self, registry=dst)
        return self

    def scope(self, actions: str = "pull") -> str:
        """The token-auth scope for this repository, e.g. `repository:a/b:pull,push`."""
        return f"repository:{self.repository}:{actions}"

    def same_repository(self, other: ImageRef) -> bool:
        return self.registry == other.registry and self.repository == other.repository
