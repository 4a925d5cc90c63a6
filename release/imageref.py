"""Pure: image references parsed once into values (our version of go-containerregistry's `pkg/name`).

`ImageRef.parse("https://ghcr.io/tenstorrent/x:0.5.0")` accepts what operators paste: an optional `https://`,
`http://` or `docker://` prefix, a registry host with an optional port, a repository path, and a tag and/or a
digest. After parsing, nothing splits strings on `:` or `/` again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from release.errors import InputError

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"

# Every pattern is used with `fullmatch`: `$` would also match before a final newline.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
_PREFIXES = ("https://", "http://", "docker://")


class ImageRefError(InputError):
    """A reference that cannot be parsed; the message names the bad part."""


def is_digest(text: object) -> bool:
    """ALGORITHM:HEX of the right length (sha256: 64 hex digits, sha512: 128), nothing around it."""
    return isinstance(text, str) and _DIGEST.fullmatch(text) is not None


def _valid_host(host: str) -> bool:
    if not _HOST.fullmatch(host):
        return False
    port = host.rsplit(":", 1)[1] if ":" in host.rsplit("]", 1)[-1] else ""
    return not port or 0 < int(port) <= 65535


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1; a port and IPv6 brackets are allowed (`127.0.0.1:5000`, `[::1]:5000`)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _without_scheme(text: str) -> str:
    """A reference as written, stripped, without a leading `https://` (or another of _PREFIXES)."""
    text = text.strip()
    for prefix in _PREFIXES:
        if text.lower().startswith(prefix):
            return text[len(prefix) :]
    return text


@dataclass(frozen=True, order=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        original = text
        text = _without_scheme(text)
        if not text:
            raise ImageRefError(f"{original!r}: empty image reference")
        name, at, digest = text.partition("@")
        if at and not is_digest(digest):
            raise ImageRefError(
                f"{original!r}: digest {digest!r} is not ALGORITHM:HEX (e.g. sha256: and 64 hex digits)"
            )
        tag: str | None = None
        slash = name.rfind("/")
        colon = name.rfind(":")
        if colon > slash:
            name, tag = name[:colon], name[colon + 1 :]
            if not _TAG.fullmatch(tag):
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
        if not _valid_host(registry):
            raise ImageRefError(f"{original!r}: registry {registry!r} is not HOST or HOST:PORT")
        if registry == "index.docker.io":
            registry = DEFAULT_REGISTRY
        for component in path:
            if not _COMPONENT.fullmatch(component):
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
        return is_loopback_host(self.registry)

    def with_tag(self, tag: str) -> ImageRef:
        if not _TAG.fullmatch(tag):
            raise ImageRefError(f"tag {tag!r} is not valid")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> ImageRef:
        """Pin to a digest; the tag stays for display only (requests use the digest)."""
        if not is_digest(digest):
            raise ImageRefError(f"digest {digest!r} is not ALGORITHM:HEX")
        return replace(self, digest=digest)

    def without_digest(self) -> ImageRef:
        return replace(self, digest=None)

    def in_repository(self, repository: str) -> ImageRef:
        return replace(self, repository=repository)

    def rewrite(self, registry_map: Mapping[str, str] | Iterable[tuple[str, str]]) -> ImageRef:
        """Swap the registry host via `registry_map` (RELEASE_REGISTRY_REWRITE): ghcr.io=127.0.0.1:5000."""
        registry = rewrite_registry(self.registry, registry_map)
        return self if registry == self.registry else replace(self, registry=registry)

    def scope(self, actions: str = "pull") -> str:
        """The token-auth scope for this repository, e.g. `repository:a/b:pull,push`."""
        return f"repository:{self.repository}:{actions}"

    def same_repository(self, other: ImageRef) -> bool:
        return self.registry == other.registry and self.repository == other.repository


def rewrite_registry(registry: str, registry_map: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """A registry host through RELEASE_REGISTRY_REWRITE (unchanged when no pair names it)."""
    pairs = registry_map.items() if isinstance(registry_map, Mapping) else registry_map
    return next((dst for src, dst in pairs if src == registry), registry)


@dataclass(frozen=True)
class RepoPrefix:
    """An allow-list entry: a registry host and the leading components of a repository path.

    `ghcr.io/tenstorrent/` covers `ghcr.io/tenstorrent/x` and `ghcr.io/tenstorrent/a/b`, never
    `ghcr.io/tenstorrent-evil/x`: prefixes match whole path components. `ghcr.io/` covers the whole host.
    """

    registry: str
    path: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> RepoPrefix:
        original = text
        text = _without_scheme(text)
        registry, _, rest = text.partition("/")
        if not _valid_host(registry):
            raise ImageRefError(
                f"{original!r}: a source prefix starts with a registry host (e.g. ghcr.io/tenstorrent/)"
            )
        path = tuple(p for p in rest.split("/") if p)
        for component in path:
            if not _COMPONENT.fullmatch(component):
                raise ImageRefError(f"{original!r}: repository part {component!r} is not valid")
        return cls(DEFAULT_REGISTRY if registry == "index.docker.io" else registry, path)

    def __str__(self) -> str:
        return "/".join((self.registry, *self.path)) + "/"

    def rewrite(self, registry_map: Mapping[str, str] | Iterable[tuple[str, str]]) -> RepoPrefix:
        return replace(self, registry=rewrite_registry(self.registry, registry_map))

    def covers(self, ref: ImageRef) -> bool:
        parts = tuple(ref.repository.split("/"))
        return ref.registry == self.registry and parts[: len(self.path)] == self.path and len(parts) > len(self.path)


@dataclass(frozen=True)
class SourceAllowList:
    """Where source images may come from (RELEASE_SOURCE_REGISTRIES), as written and after the rewrite.

    Entries are written with public hosts; a reference matches when it is covered by an entry as written or by
    the entry with its host rewritten (`ghcr.io/tenstorrent/` also covers `127.0.0.1:5000/tenstorrent/x` under
    `RELEASE_REGISTRY_REWRITE=ghcr.io=127.0.0.1:5000`).
    """

    prefixes: tuple[RepoPrefix, ...]
    registry_map: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(
        cls, entries: Iterable[str], *, registry_map: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    ) -> SourceAllowList:
        pairs = tuple(registry_map.items() if isinstance(registry_map, Mapping) else registry_map)
        return cls(tuple(RepoPrefix.parse(e) for e in entries), pairs)

    def allows(self, ref: ImageRef) -> bool:
        return any(p.covers(ref) or p.rewrite(self.registry_map).covers(ref) for p in self.prefixes)

    @property
    def registries(self) -> tuple[str, ...]:
        """The hosts the entries name, after the rewrite (the source registries credentials may go to)."""
        return tuple(dict.fromkeys(p.rewrite(self.registry_map).registry for p in self.prefixes))

    def __str__(self) -> str:
        return ",".join(str(p) for p in self.prefixes) or "(empty)"
