"""Copying images registry to registry over the request primitives of `release.registry` (our `pkg/v1/remote`
write path), with as few round trips as the protocol allows:

- mount first: `POST …/blobs/uploads/?mount=&from=` answers 201 when the blob is present or mounted, 202 when an
  upload is needed (then the blob is streamed; a blob the destination already holds is not);
- between registries, where no mount is possible, a blob is HEADed, then streamed once per destination registry;
  other repositories of that registry mount it from the first one;
- each blob once per destination repository and run, however many images share it;
- an index: every child manifest is read at once, every blob of every child goes at once, then the children are
  PUT together, then the index;
- verified with the registry's answers: the `Docker-Content-Digest` of each mount, upload commit and manifest PUT
  must be the digest asked for (`inv images.audit` reads the destinations again).

Requests run on two thread pools (blobs; manifests); a request never waits for one queued after it, so callers
may wait on them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from release.errors import RegistryError, ReleaseError
from release.imageref import ImageRef
from release.oci import Descriptor, Manifest

log = logging.getLogger(__name__)

OnEvent = Callable[[dict[str, Any]], None]
T = TypeVar("T")
MAX_DEPTH = 4  # an index of indexes of images is the deepest the kit expects


@dataclass
class CopyResult:
    """What a copy did. `digest` is the one the registry answered for the manifest PUT (checked against ours)."""

    src: ImageRef
    dst: ImageRef
    digest: str
    media_type: str
    manifests_put: int = 0
    blobs_present: int = 0
    blobs_mounted: int = 0
    blobs_uploaded: int = 0
    bytes_uploaded: int = 0
    skipped: bool = False  # the destination already had this digest

    def count_blob(self, how: str, size: int) -> None:
        if how == "present":
            self.blobs_present += 1
        elif how == "mounted":
            self.blobs_mounted += 1
        else:
            self.blobs_uploaded += 1
            self.bytes_uploaded += size


@dataclass
class CopyEstimate:
    """What a copy would cost, computed with reads only (for `--dry-run`)."""

    digest: str
    manifests: int = 0
    blobs: int = 0
    blobs_present: int = 0
    mounts: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    image_bytes: int = 0
    requests: int = 0


class Wire(Protocol):
    """The request primitives of `RegistryClient` a copy is made of."""

    def get_manifest(self, ref: ImageRef, *, scopes: tuple[str, ...] = ()) -> Manifest: ...
    def put_manifest(self, ref: ImageRef, manifest: Manifest, *, scopes: tuple[str, ...] = ()) -> str: ...
    def blob_exists(self, ref: ImageRef, digest: str, *, scopes: tuple[str, ...] = ()) -> bool: ...
    def start_upload(
        self, dst: ImageRef, digest: str, mount_from: str | None, scopes: tuple[str, ...]
    ) -> tuple[bool, str]: ...
    def cancel_upload(self, dst: ImageRef, location: str, scopes: tuple[str, ...]) -> None: ...
    def stream_blob(
        self, src: ImageRef, desc: Descriptor, dst: ImageRef, location: str, scopes: tuple[str, ...]
    ) -> int: ...
    def upload_requests(self, size: int) -> int: ...


def copy_scopes(src: ImageRef, dst: ImageRef) -> tuple[str, ...]:
    """One token for both ends when they share a registry, so a mount is authorized."""
    if src.registry == dst.registry and src.repository != dst.repository:
        return (dst.scope("pull,push"), src.scope("pull"))
    return (dst.scope("pull,push"),)


def source_scopes(src: ImageRef, dst: ImageRef) -> tuple[str, ...]:
    """Reading the source during a copy: the copy's token when both ends share a registry."""
    return copy_scopes(src, dst) if src.registry == dst.registry else (src.scope("pull"),)


Level = list[tuple[ImageRef, ImageRef, Manifest]]  # (source, destination, manifest) of one depth of a tree


class Copier:
    """Copies and estimates; one per RegistryClient. Thread-safe."""

    def __init__(self, wire: Wire, *, workers: int) -> None:
        self._w = wire
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="blob")
        # Manifests have their own workers: an index's children are not queued behind other images' blobs.
        self._manifest_pool = ThreadPoolExecutor(max_workers=max(1, workers // 2), thread_name_prefix="manifest")
        self._lock = threading.Lock()
        self._blobs: dict[tuple[str, str, str], Future[str]] = {}  # (registry, repository, digest) → transfer
        self._streams: dict[tuple[str, str], tuple[str, Future[str]]] = {}  # (registry, digest) → (repo, transfer)
        self._known: dict[tuple[str, str], set[str]] = {}  # (registry, digest) → repositories holding it

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._manifest_pool.shutdown(wait=False, cancel_futures=True)

    # -- copy ------------------------------------------------------------------------------------------------

    def copy(self, src: ImageRef, dst: ImageRef, manifest: Manifest, emit: OnEvent) -> CopyResult:
        """Everything `manifest` refers to into dst's repository, then the manifest itself (at dst's tag)."""
        scopes = copy_scopes(src, dst)
        levels = self._levels(src, dst, manifest, source_scopes(src, dst))
        result = CopyResult(src, dst, manifest.digest, manifest.media_type)
        transfers = [(d, b, self._blob(s, d, b)) for level in levels for s, d, m in level for b in m.blobs()]
        errors: list[ReleaseError] = []
        for d, desc, fut in transfers:
            try:
                how = fut.result()
            except ReleaseError as e:
                errors.append(e)
                continue
            result.count_blob(how, desc.size)
            emit({"event": "blob", "how": how, "dst": str(d), "digest": desc.digest, "size": desc.size})
        if errors:
            raise errors[0]
        for level in reversed(levels[1:]):  # children before the index that names them
            puts = [self._manifest_pool.submit(self._w.put_manifest, d, m, scopes=scopes) for _, d, m in level]
            _results(puts)
            result.manifests_put += len(level)
        result.digest = self._w.put_manifest(dst, manifest, scopes=scopes)
        result.manifests_put += 1
        return result

    def _levels(self, src: ImageRef, dst: ImageRef, manifest: Manifest, read: tuple[str, ...]) -> list[Level]:
        """The manifest tree, depth by depth; the children of one depth are read at once."""
        levels: list[Level] = [[(src, dst, manifest)]]
        while True:
            wanted = [
                (s.with_digest(c.digest), d.without_digest().with_digest(c.digest))
                for s, d, m in levels[-1]
                for c in m.children()
            ]
            if not wanted:
                return levels
            if len(levels) >= MAX_DEPTH:
                raise RegistryError(f"{src}: indexes nested deeper than {MAX_DEPTH} levels; the kit does not copy it")
            reads = [self._manifest_pool.submit(self._w.get_manifest, s, scopes=read) for s, _ in wanted]
            levels.append([(s, d, m) for (s, d), m in zip(wanted, _results(reads), strict=True)])

    def _blob(self, src: ImageRef, dst: ImageRef, desc: Descriptor) -> Future[str]:
        """The transfer that makes `desc` present in dst's repository: one per repository and run; later
        callers get a future that settles as "present" when the first transfer is done."""
        key = (dst.registry, dst.repository, desc.digest)
        with self._lock:
            first = self._blobs.get(key)
            if first is not None and not _failed(first):
                follower: Future[str] = Future()
                first.add_done_callback(lambda f: _settle_follower(f, follower))
                return follower
            if src.registry == dst.registry:
                fut = self._pool.submit(self._copy_blob, src, dst, desc)
            else:
                fut = self._stream_once(src, dst, desc)
            self._blobs[key] = fut
            return fut

    def _stream_once(self, src: ImageRef, dst: ImageRef, desc: Descriptor) -> Future[str]:
        """Between registries (called under the lock): the first repository of the destination registry that
        needs the blob gets it streamed; the others wait for it, then mount from there."""
        key = (dst.registry, desc.digest)
        entry = self._streams.get(key)
        if entry is None or _failed(entry[1]):
            fut = self._pool.submit(self._copy_blob, src, dst, desc)
            self._streams[key] = (dst.repository, fut)
            return fut
        # `entry` went earlier into the same FIFO pool: it is running or done, so waiting cannot deadlock.
        return self._pool.submit(self._copy_blob_after, entry[1], src, dst, desc)

    def _copy_blob_after(self, first: Future[str], src: ImageRef, dst: ImageRef, desc: Descriptor) -> str:
        try:
            first.result()
        except ReleaseError:  # the other transfer failed: this one tries on its own
            log.debug("shared transfer of %s failed; copying separately", desc.digest)
        return self._copy_blob(src, dst, desc)

    def _copy_blob(self, src: ImageRef, dst: ImageRef, desc: Descriptor) -> str:
        """Make `desc` present in dst's repository → "present" | "mounted" | "uploaded"."""
        scopes = copy_scopes(src, dst)
        if src.registry == dst.registry:
            mount_from: str | None = src.repository
        else:
            mount_from = self._known_repo(dst.registry, desc.digest, exclude=dst.repository)
            if mount_from is not None:  # mounting from a repository this run filled: the token must read it too
                scopes = (*scopes, ImageRef(dst.registry, mount_from).scope("pull"))
            elif self._w.blob_exists(dst, desc.digest, scopes=scopes):
                return self._remember("present", dst, desc)
        mounted, location = self._w.start_upload(dst, desc.digest, mount_from, scopes)
        if mounted:
            return self._remember("mounted", dst, desc)
        if mount_from is not None and self._w.blob_exists(dst, desc.digest, scopes=scopes):
            log.debug("mount of %s into %s refused, but it is there", desc.digest, dst.name)
            self._w.cancel_upload(dst, location, scopes)
            return self._remember("present", dst, desc)
        log.debug("streaming %s into %s", desc.digest, dst.name)
        self._w.stream_blob(src, desc, dst, location, scopes)
        return self._remember("uploaded", dst, desc)

    def _remember(self, how: str, dst: ImageRef, desc: Descriptor) -> str:
        with self._lock:
            self._known.setdefault((dst.registry, desc.digest), set()).add(dst.repository)
        return how

    def _known_repo(self, registry: str, digest: str, exclude: str) -> str | None:
        with self._lock:
            repos = sorted(self._known.get((registry, digest), set()) - {exclude})
        return repos[0] if repos else None

    # -- estimate --------------------------------------------------------------------------------------------

    def estimate(self, src: ImageRef, dst: ImageRef, manifest: Manifest) -> CopyEstimate:
        """Reads only: what `copy` would send. Counts the plan's two reads (HEAD destination, GET source), then
        per child manifest a GET and a PUT, per blob a mount (same registry) or HEAD + upload, and the PUT."""
        est = CopyEstimate(digest=manifest.digest, manifests=1, requests=3)
        levels = self._levels(src, dst, manifest, (src.scope("pull"),))
        children = sum(len(level) for level in levels[1:])
        est.manifests += children
        est.requests += 2 * children
        seen: set[str] = set()
        for level in levels:
            for _, _, m in level:
                for b in m.blobs():
                    est.blobs += 1
                    est.image_bytes += b.size
                    if b.digest not in seen:
                        seen.add(b.digest)
                        self._estimate_blob(src, dst, b, est)
        return est

    def _estimate_blob(self, src: ImageRef, dst: ImageRef, b: Descriptor, est: CopyEstimate) -> None:
        if src.registry == dst.registry:
            est.mounts += 1  # 201: present or mounted
            est.requests += 1
            return
        est.requests += 1  # HEAD
        if self._w.blob_exists(dst, b.digest, scopes=(dst.scope("pull"),)):
            est.blobs_present += 1
            return
        est.uploads += 1
        est.upload_bytes += b.size
        est.requests += 2 + self._w.upload_requests(b.size)  # POST, GET source, PUT (and PATCH chunks)


def _failed(fut: Future[Any]) -> bool:
    return fut.done() and fut.exception() is not None


def _settle_follower(first: Future[str], follower: Future[str]) -> None:
    exc = first.exception()
    if exc is not None:
        follower.set_exception(exc)
    else:
        follower.set_result("present")  # another image of this repository did the transfer


def _results(futures: list[Future[T]]) -> list[T]:
    """Every result, after every future is done (so nothing is left running); the first error is raised."""
    out: list[T] = []
    error: BaseException | None = None
    for f in futures:
        try:
            out.append(f.result())
        except ReleaseError as e:
            error = error or e
    if error is not None:
        raise error
    return out
