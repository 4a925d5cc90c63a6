"""GitHub Packages (container packages of an org) for the GitHub-compatible server, over a real local registry.

In a rehearsal ghcr.io is rewritten to a local registry (RELEASE_REGISTRY_REWRITE), so the package
`ORG/PACKAGE` (ghcr.io/ORG/PACKAGE) is the registry's repository `ORG/PACKAGE`. Its versions are its manifests
that carry tags, as GitHub lists them: one version per digest, `name` the digest, `metadata.container.tags` the
tags pointing at it, and an id that stays the same while the manifest exists. Deleting a version deletes the
manifest by digest in the registry (which must have deletion enabled), and with it every tag on it, as on ghcr.io.

    GET    /orgs/{org}/packages/{package_type}/{package_name}/versions                       (paginated)
    DELETE /orgs/{org}/packages/{package_type}/{package_name}/versions/{package_version_id}

`package_name` is URL-encoded (`tt-inference-server%2Fvllm-…`); `package_type` must be `container`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from release.errors import RegistryError
from release.imageref import ImageRef
from release.sim.github_routing import Reply, RoutingServer, SimRequest, error

if TYPE_CHECKING:
    from release.registry import RegistryClient


class PackagesSim:
    """The container packages of `orgs`, read from (and deleted in) the registry at `host`."""

    def __init__(self, registry: RegistryClient, host: str, *, orgs: tuple[str, ...] = ("tenstorrent",)) -> None:
        self.registry = registry
        self.host = host
        self.orgs = orgs
        self.writes: list[str] = []  # "DELETE /orgs/…/versions/N": what tests assert on
        self._ids: dict[tuple[str, str], int] = {}  # (repository, digest) → version id
        self._lock = threading.Lock()

    def versions(self, org: str, package: str) -> list[tuple[int, str, list[str]]] | None:
        """(id, digest, tags) of every tagged manifest of the package, newest id first; None: no such package."""
        repo = ImageRef(self.host, f"{org}/{package}")
        tags = self.registry.list_tags(repo)
        if not tags:
            return None
        by_digest: dict[str, list[str]] = {}
        for tag in sorted(tags):
            digest = self.registry.digest(repo.with_tag(tag))
            if digest is not None:
                by_digest.setdefault(digest, []).append(tag)
        with self._lock:
            for digest in sorted(by_digest):
                self._ids.setdefault((repo.repository, digest), 5_000_000 + len(self._ids))
            found = [(self._ids[(repo.repository, d)], d, t) for d, t in by_digest.items()]
        return sorted(found, reverse=True)

    def version_json(self, srv: RoutingServer, org: str, package: str, version: tuple[int, str, list[str]]) -> Any:
        vid, digest, tags = version
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        name = quote(package, safe="")
        return {
            "id": vid, "name": digest, "url": f"{srv.api_url}/orgs/{org}/packages/container/{name}/versions/{vid}",
            "package_html_url": f"{srv.api_url}/orgs/{org}/packages/container/package/{name}",
            "html_url": f"{srv.api_url}/orgs/{org}/packages/container/{name}/{vid}", "created_at": now,
            "updated_at": now, "metadata": {"package_type": "container", "container": {"tags": tags}},
        }  # fmt: skip


def _target(srv: RoutingServer, req: SimRequest) -> tuple[PackagesSim, str, str] | None:
    sim: PackagesSim | None = getattr(srv, "packages", None)
    p = req.params
    if sim is None or p["org"] not in sim.orgs or p["package_type"] != "container":
        return None
    return sim, p["org"], unquote(p["package_name"])


def list_versions(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _target(srv, req)
    versions = found[0].versions(found[1], found[2]) if found else None
    if found is None or versions is None:
        return error(404, "Package not found.")
    sim, org, package = found
    path = f"/orgs/{org}/packages/container/{quote(package, safe='')}/versions"
    reply = srv.paginate(versions, req.query, path, "items", lambda v: sim.version_json(srv, org, package, v))
    reply.body = reply.body["items"]  # GitHub answers a bare list here
    return reply


def delete_version(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _target(srv, req)
    versions = found[0].versions(found[1], found[2]) if found else None
    vid = req.params["package_version_id"]
    match = next((v for v in versions or [] if str(v[0]) == vid), None)
    if found is None or match is None:
        return error(404, "Package version not found.")
    sim, org, package = found
    try:
        sim.registry.delete_manifest(ImageRef(sim.host, f"{org}/{package}", digest=match[1]))
    except RegistryError as e:
        return error(500, f"the registry behind the simulator refused the deletion: {e}")
    sim.writes.append(f"DELETE /orgs/{org}/packages/container/{quote(package, safe='')}/versions/{vid}")
    return Reply(204, None)


ROUTES = [
    ("GET", "/orgs/{org}/packages/{package_type}/{package_name}/versions", list_versions),
    ("DELETE", "/orgs/{org}/packages/{package_type}/{package_name}/versions/{package_version_id}", delete_version),
]


def install_packages(server: RoutingServer, packages: PackagesSim) -> PackagesSim:
    """Serve `packages` from `server` (its other routes are unchanged)."""
    server.packages = packages  # type: ignore[attr-defined]
    for method, template, fn in ROUTES:
        server.add_route(method, template, fn)
    return packages
