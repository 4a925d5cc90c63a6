"""RegistryClient: the OCI distribution API over one pooled `requests` session (our `pkg/v1/remote`).

- Manifests of the four media types are read and written byte for byte; the digest is checked on every read
  and every write (a PUT must answer with the digest sent). Manifests read by digest are kept, so a source read
  while planning is not read again to copy it.
- Copies (release/registry_copy.py) mount first (`POST …/blobs/uploads/?mount=&from=`), else stream GET → upload
  (one PUT, or PATCH chunks for large blobs); an index is copied children first.
- Every request goes through `RegistryTransport.request` (release/registry_transport.py): auth (Basic, or the
  token flow with one token per registry and set of scopes; credentials from a `Keychain`, which binds each
  credential to its hosts), Authorization only to the registry's own origin, plain HTTP only for loopback hosts,
  one response check raising `RegistryResponseError`, and every transport failure as one `RegistryError` line.
- Registry data is checked before use: manifests are read up to 4 MiB, must be JSON objects with the keys their
  media type requires, and every descriptor needs a valid digest (ALGORITHM:HEX) and a size.

The client is silent: it logs at DEBUG and reports progress through `on_event` callbacks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import requests

from release.errors import DigestMismatch, RegistryError, RegistryResponseError, TagConflict
from release.imageref import ImageRef, is_digest
from release.oci import ACCEPT, MANIFEST_TYPES, Descriptor, Manifest, sha256_digest
from release.registry_copy import Copier, CopyEstimate, CopyResult, copy_scopes, source_scopes
from release.registry_transport import (
    MAX_MANIFEST_BYTES,
    KeychainLike,
    MiB,
    RegistryTransport,
    one_line,
    read_limited,
    shown_url,
    transport_failure,
)

log = logging.getLogger(__name__)

Event = dict[str, Any]
OnEvent = Callable[[Event], None]


class _HashingReader:
    """A file-like view of a streamed blob that counts and hashes what passes through."""

    def __init__(
        self, chunks: Iterator[bytes], size: int, on_bytes: Callable[[int], None], *, source: str = "the source"
    ) -> None:
        self._chunks = chunks
        self._source = source
        self._buf = b""
        self._pos = 0
        self._size = size
        self._on_bytes = on_bytes
        self.hasher = hashlib.sha256()
        self.read_total = 0

    def __len__(self) -> int:
        return self._size

    def read(self, n: int = -1) -> bytes:
        want = self._size if n < 0 else n
        while len(self._buf) - self._pos < want:
            try:
                more = next(self._chunks)
            except StopIteration:
                break
            except requests.RequestException as e:
                # Raised inside the upload's body: a RegistryError names the source that broke off.
                raise RegistryError(f"reading {self._source} broke off ({type(e).__name__}); run again") from None
            self._buf = self._buf[self._pos :] + more
            self._pos = 0
        data = self._buf[self._pos : self._pos + want]
        self._pos += len(data)
        if data:
            self.hasher.update(data)
            self.read_total += len(data)
            self._on_bytes(len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read(MiB)
            if not data:
                return
            yield data


class RegistryClient:
    """One client for every registry the kit talks to; thread-safe.

    Manifests read by digest are kept for the client's lifetime (content-addressed, so they cannot go stale):
    a source manifest read while planning is not read again to copy or estimate it.
    """

    def __init__(
        self,
        session: requests.Session,
        keychain: KeychainLike,
        *,
        upload_session: requests.Session | None = None,
        chunk_size: int = 64 * MiB,
        blob_workers: int = 4,
    ) -> None:
        self._t = RegistryTransport(session, keychain, upload_session=upload_session)
        self.stats = self._t.stats
        self._request = self._t.request
        self._chunk_size = chunk_size
        self._lock = threading.Lock()
        self._manifests: dict[tuple[str, str, str], Manifest] = {}  # (registry, repository, digest) → manifest
        self._copier = Copier(self, workers=blob_workers)

    def close(self) -> None:
        self._copier.close()

    @staticmethod
    def _base(ref: ImageRef) -> str:
        return RegistryTransport.registry_base(ref.registry)

    def _url(self, ref: ImageRef, kind: str, reference: str = "") -> str:
        return f"{self._base(ref)}{ref.repository}/{kind}/{reference}"

    # -- manifests ---------------------------------------------------------------------------------------

    def head_manifest(self, ref: ImageRef, *, scopes: tuple[str, ...] = ()) -> Descriptor | None:
        """The manifest's descriptor, or None if the tag/digest does not exist."""
        url = self._url(ref, "manifests", ref.reference)
        resp = self._request(
            "HEAD",
            url,
            registry=ref.registry,
            scopes=scopes or (ref.scope("pull"),),
            ok=(200, 404),
            headers={"Accept": ACCEPT},
        )
        if resp.status_code == 404:
            return None
        digest = resp.headers.get("Docker-Content-Digest", "")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        length = resp.headers.get("Content-Length", "")
        if not is_digest(digest) or not length.isdigit():
            # Some registries omit the digest on HEAD; fall back to GET and hash.
            m = self.get_manifest(ref, scopes=scopes)
            return Descriptor(m.media_type, m.digest, len(m.raw))
        return Descriptor(media_type, digest, int(length))

    def digest(self, ref: ImageRef, *, copy_from: ImageRef | None = None) -> str | None:
        """HEAD: the digest `ref` points at, or None. `copy_from`: a copy from there follows, so the request
        uses the copy's token."""
        d = self.head_manifest(ref, scopes=copy_scopes(copy_from, ref) if copy_from else ())
        return d.digest if d else None

    def get_manifest(self, ref: ImageRef, *, scopes: tuple[str, ...] = ()) -> Manifest:
        """GET the manifest; a missing one is a RegistryResponseError (404)."""
        found = self._read_manifest(ref, scopes, ok=(200,))
        assert found is not None
        return found

    def fetch_manifest(self, ref: ImageRef, *, scopes: tuple[str, ...] = ()) -> Manifest | None:
        """GET the manifest, or None when it does not exist."""
        return self._read_manifest(ref, scopes, ok=(200, 404))

    def _read_manifest(self, ref: ImageRef, scopes: tuple[str, ...], *, ok: tuple[int, ...]) -> Manifest | None:
        """By digest, a manifest read before is not read again."""
        if ref.digest:
            with self._lock:
                kept = self._manifests.get((ref.registry, ref.repository, ref.digest))
            if kept is not None:
                return kept
        url = self._url(ref, "manifests", ref.reference)
        resp = self._request(
            "GET",
            url,
            registry=ref.registry,
            scopes=scopes or (ref.scope("pull"),),
            ok=ok,
            headers={"Accept": ACCEPT},
            stream=True,
        )
        if resp.status_code == 404:
            resp.close()
            return None
        try:
            raw = read_limited(resp, MAX_MANIFEST_BYTES, f"the manifest of {ref}")
        except requests.RequestException as e:
            raise RegistryError(transport_failure("GET", url, ref.registry, e)) from None
        digest = sha256_digest(raw)
        if ref.digest and ref.digest != digest:
            raise DigestMismatch(f"{ref}: the registry returned a manifest whose digest is {digest}")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise RegistryError(f"{ref}: the manifest is not JSON") from None
        if not isinstance(doc, dict):
            raise RegistryError(f"{ref}: the manifest is not a JSON object")
        declared = doc.get("mediaType")
        if declared in MANIFEST_TYPES:
            media_type = declared
        if media_type not in MANIFEST_TYPES:
            raise RegistryError(
                f"{ref}: manifest media type {one_line(media_type)[:100]!r} is not supported (Docker schema 1 "
                "images cannot be copied; rebuild the image)"
            )
        manifest = Manifest(raw, media_type, digest)
        with self._lock:
            self._manifests[(ref.registry, ref.repository, digest)] = manifest
        return manifest

    def manifest_digest(self, ref: ImageRef, *, copy_to: ImageRef | None = None) -> str | None:
        """GET: the digest of a copy's source, or None; the manifest is kept for the copy. `copy_to`: the copy
        that may follow, whose token the request uses."""
        m = self.fetch_manifest(ref, scopes=source_scopes(ref, copy_to) if copy_to else ())
        return m.digest if m else None

    def put_manifest(self, ref: ImageRef, manifest: Manifest, *, scopes: tuple[str, ...] = ()) -> str:
        """PUT; returns the digest the registry answered, which must be the manifest's."""
        url = self._url(ref, "manifests", ref.reference)
        resp = self._request(
            "PUT",
            url,
            registry=ref.registry,
            scopes=scopes or (ref.scope("pull,push"),),
            ok=(200, 201),
            data=manifest.raw,
            headers={"Content-Type": manifest.media_type},
        )
        got = resp.headers.get("Docker-Content-Digest", manifest.digest)
        if got != manifest.digest:
            raise DigestMismatch(f"{ref}: the registry stored the manifest as {got}, expected {manifest.digest}")
        return got

    def delete_manifest(self, ref: ImageRef) -> bool:
        """DELETE `ref` (a digest, or a tag where the registry deletes tags): True when deleted, False when it was
        not there. A refusal raises RegistryResponseError with its status and OCI codes (distribution 2.x answers
        a tag 400 DIGEST_INVALID; with deletion disabled, 405 UNSUPPORTED)."""
        url = self._url(ref, "manifests", ref.reference)
        scopes = (ref.scope("delete"),)
        resp = self._request("DELETE", url, registry=ref.registry, scopes=scopes, ok=(200, 202, 204, 404))
        resp.close()
        return resp.status_code != 404

    # -- blobs -------------------------------------------------------------------------------------------

    def blob_exists(self, ref: ImageRef, digest: str, *, scopes: tuple[str, ...] = ()) -> bool:
        url = self._url(ref, "blobs", digest)
        resp = self._request("HEAD", url, registry=ref.registry, scopes=scopes or (ref.scope("pull"),), ok=(200, 404))
        return resp.status_code == 200

    def start_upload(
        self, dst: ImageRef, digest: str, mount_from: str | None, scopes: tuple[str, ...]
    ) -> tuple[bool, str]:
        """POST an upload; with `mount_from`, ask for a cross-repository mount → (mounted, location). A 201 (the
        blob was mounted, or was there) must name `digest`."""
        query = {"mount": digest, "from": mount_from} if mount_from else {}
        url = f"{self._base(dst)}{dst.repository}/blobs/uploads/" + (f"?{urlencode(query)}" if query else "")
        resp = self._request("POST", url, registry=dst.registry, scopes=scopes, ok=(201, 202))
        if resp.status_code == 201:
            _check_committed(resp, dst, digest)
            return True, ""
        location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"POST {shown_url(url)}: the registry gave no upload Location")
        return False, urljoin(url, location)

    def cancel_upload(self, dst: ImageRef, location: str, scopes: tuple[str, ...]) -> None:
        """DELETE an upload session that is not needed (best effort: the registry expires it anyway)."""
        try:
            self._request("DELETE", location, registry=dst.registry, scopes=scopes, ok=(200, 202, 204, 404))
        except RegistryResponseError as e:
            log.debug("cancelling an upload into %s: %s", dst.name, e)

    def upload_requests(self, size: int) -> int:
        """Requests that upload a blob of `size` bytes: one PUT, or PATCH chunks and a closing PUT."""
        return 1 + (-(-size // self._chunk_size) if size > self._chunk_size else 0)

    @staticmethod
    def _with_query(url: str, **params: str) -> str:
        parts = urlsplit(url)
        query = parts.query + ("&" if parts.query else "") + urlencode(params)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

    def stream_blob(
        self, src: ImageRef, desc: Descriptor, dst: ImageRef, location: str, scopes: tuple[str, ...]
    ) -> int:
        """GET the blob from `src` and upload it to `location`; returns bytes uploaded."""
        get_url = self._url(src, "blobs", desc.digest)
        src_resp = self._request(
            "GET", get_url, registry=src.registry, scopes=source_scopes(src, dst), ok=(200,), stream=True
        )
        try:
            chunks = src_resp.iter_content(chunk_size=MiB)

            def on_bytes(n: int) -> None:
                self.stats.add_bytes(down=n, up=n)

            reader = _HashingReader(chunks, desc.size, on_bytes, source=f"{src.name}@{desc.digest}")

            def send(method: str, url: str, ok: int, **kwargs: Any) -> requests.Response:
                """One request of the upload: over the upload session, never replayed (its body is a stream)."""
                return self._request(
                    method, url, registry=dst.registry, scopes=scopes, ok=(ok,), replayable=False, upload=True, **kwargs
                )

            octets = "application/octet-stream"
            if desc.size <= self._chunk_size:
                headers = {"Content-Type": octets, "Content-Length": str(desc.size)}
                committed = send(
                    "PUT", self._with_query(location, digest=desc.digest), 201, data=reader, headers=headers
                )
            else:
                offset = 0
                while offset < desc.size:
                    chunk = reader.read(min(self._chunk_size, desc.size - offset))
                    if not chunk:
                        break
                    headers = {"Content-Type": octets, "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
                    resp = send("PATCH", location, 202, data=chunk, headers=headers)
                    offset += len(chunk)
                    location = urljoin(location, resp.headers.get("Location", location))
                if reader.read(1):
                    raise DigestMismatch(f"{src.name}@{desc.digest}: the blob is larger than its descriptor says")
                committed = send(
                    "PUT", self._with_query(location, digest=desc.digest), 201, headers={"Content-Length": "0"}
                )
            got = "sha256:" + reader.hasher.hexdigest()
            if desc.digest.startswith("sha256:") and got != desc.digest:
                raise DigestMismatch(f"{src.name}@{desc.digest}: the bytes read hash to {got}")
            _check_committed(committed, dst, desc.digest)
            return reader.read_total
        finally:
            src_resp.close()

    # -- copy --------------------------------------------------------------------------------------------

    def copy(
        self,
        src: ImageRef,
        dst: ImageRef,
        *,
        on_event: OnEvent | None = None,
        expect_digest: str | None = None,
        force: bool = False,
    ) -> CopyResult:
        """Copy `src` to `dst` (tag or digest) registry to registry; the tag is never moved to another digest.

        `expect_digest`: refuse if the source no longer has this digest (the plan saw it). `force`: copy again
        even if `dst` already has the same digest (repairs missing blobs; the tag still cannot move).
        """
        emit = on_event or (lambda e: None)
        manifest = self.get_manifest(src, scopes=source_scopes(src, dst))
        if expect_digest and manifest.digest != expect_digest:
            raise DigestMismatch(f"{src} now points at {manifest.digest}, not {expect_digest} as planned; plan again")
        have = self.head_manifest(dst, scopes=copy_scopes(src, dst))
        if have is not None and have.digest != manifest.digest:
            raise TagConflict(
                f"{dst} already points at {have.digest} (source {src} is {manifest.digest}); refusing to "
                "move it. Bump VERSION or delete the tag."
            )
        if have is not None and not force:
            emit({"event": "present", "dst": str(dst), "digest": manifest.digest})
            return CopyResult(src, dst, manifest.digest, manifest.media_type, skipped=True)
        return self.copy_planned(src.with_digest(manifest.digest), dst, on_event=on_event)

    def copy_planned(self, src: ImageRef, dst: ImageRef, *, on_event: OnEvent | None = None) -> CopyResult:
        """Copy `src` (pinned to the planned digest) to `dst`, which the plan saw missing (or chose to put again):
        no new read of `dst`; the source manifest read while planning is reused. The result's digest is the one
        the registry answered for the manifest PUT."""
        emit = on_event or (lambda e: None)
        manifest = self.get_manifest(src, scopes=source_scopes(src, dst))
        result = self._copier.copy(src, dst, manifest, emit)
        emit({"event": "copied", "dst": str(dst), "digest": result.digest})
        return result

    def estimate_copy(self, src: ImageRef, dst: ImageRef) -> CopyEstimate:
        """Reads only: what `copy_planned(src, dst)` would send (requests, mounts, uploads, bytes)."""
        return self._copier.estimate(src, dst, self.get_manifest(src))

    # -- listing (tests, audits) --------------------------------------------------------------------------

    def list_tags(self, ref: ImageRef) -> list[str]:
        """Every tag of `ref`'s repository (none when the repository does not exist)."""
        url = f"{self._base(ref)}{ref.repository}/tags/list?n=1000"
        return self._listing(url, "tags", registry=ref.registry, scope=ref.scope("pull"), missing_ok=True)

    def catalog(self, registry: str) -> list[str]:
        """Every repository of `registry`."""
        url = f"{RegistryTransport.registry_base(registry)}_catalog?n=1000"
        return self._listing(url, "repositories", registry=registry, scope="registry:catalog:*")

    def _listing(self, url: str, key: str, *, registry: str, scope: str, missing_ok: bool = False) -> list[str]:
        """The names of a paginated listing (`Link: <…>; rel="next"`); with `missing_ok`, a 404 is an empty list."""
        names: list[str] = []
        next_url: str | None = url
        while next_url:
            resp = self._request(
                "GET", next_url, registry=registry, scopes=(scope,), ok=(200, 404) if missing_ok else (200,)
            )
            if resp.status_code == 404:
                return []
            names.extend(_json_list(resp, key, next_url))
            next_url = _next_link(next_url, resp.headers.get("Link", ""))
        return names

    def push_blob(self, dst: ImageRef, data: bytes) -> str:
        """Upload bytes as a blob (monolithic); used to seed test registries and by image builders."""
        digest = sha256_digest(data)
        scopes = (dst.scope("pull,push"),)
        if self.blob_exists(dst, digest, scopes=scopes):
            return digest
        _, location = self.start_upload(dst, digest, None, scopes)
        committed = self._request(
            "PUT",
            self._with_query(location, digest=digest),
            registry=dst.registry,
            scopes=scopes,
            ok=(201,),
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        _check_committed(committed, dst, digest)
        self.stats.add_bytes(up=len(data))
        return digest


def _check_committed(resp: requests.Response, dst: ImageRef, digest: str) -> None:
    """A blob commit (mount or upload) answers with the digest it stored; it must be the one asked for."""
    got = resp.headers.get("Docker-Content-Digest")
    if got and got != digest:
        raise DigestMismatch(f"{dst.name}: the registry committed blob {digest} as {got}")


def _json_list(resp: requests.Response, key: str, url: str) -> list[str]:
    """`{key: [str, ...]}` from a listing answer (`null` is an empty list); anything else is a RegistryError."""
    try:
        body = resp.json()
    except (ValueError, RecursionError):
        raise RegistryError(f"GET {shown_url(url)}: the answer is not JSON") from None
    items = body.get(key) if isinstance(body, dict) else None
    if items is None and isinstance(body, dict):
        return []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise RegistryError(f"GET {shown_url(url)}: {key!r} is not a list of names")
    return items


def _next_link(url: str, link: str) -> str | None:
    m = re.search(r"<([^>]+)>;\s*rel=\"?next\"?", link)
    return urljoin(url, m.group(1)) if m else None
