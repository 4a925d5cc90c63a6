"""Releases of the project on the fake GitHub (release/sim/github_project.py holds the state), as GitHub behaves
where the kit relies on it:
- publishing a release whose tag does not exist creates the tag at `target_commitish`;
- `GET /releases/tags/{tag}` does not show drafts; `GET /releases` does;
- uploads go to the release's `upload_url`; a second asset of the same name answers 422.
"""

from __future__ import annotations

from typing import Any

from release.sim.github_project import (
    ProjectSim,
    SimAsset,
    SimRelease,
    header,
    invalid,
    json_body,
    project_item,
    project_of,
    timestamp,
)
from release.sim.github_routing import Reply, RoutingServer, SimRequest, error


def _found(srv: RoutingServer, p: dict[str, str]) -> tuple[ProjectSim, SimRelease] | None:
    """The project and the release the path names."""
    return project_item(srv, p, lambda proj: proj.releases, "release_id")


def list_releases(srv: RoutingServer, req: SimRequest) -> Reply:
    p, q = req.params, req.query
    proj = project_of(srv, p)
    if proj is None:
        return error(404, "Not Found")
    with proj.lock:
        rels = sorted(proj.releases.values(), key=lambda r: r.id, reverse=True)
    path = f"/repos/{proj.owner}/{proj.repo}/releases"
    reply = srv.paginate(rels, q, path, "items", lambda r: proj.release_json(srv, r))
    reply.body = reply.body["items"]
    return reply


def _publish_tag(proj: ProjectSim, rel: SimRelease) -> None:
    """Publishing a release whose tag does not exist creates it at target_commitish (GitHub's behaviour)."""
    if proj.resolve(f"refs/tags/{rel.tag_name}") is None:
        target = proj.resolve(rel.target_commitish) or proj.branch_sha(rel.target_commitish)
        if target is not None:
            proj.git("update-ref", f"refs/tags/{rel.tag_name}", target)


def create_release(srv: RoutingServer, req: SimRequest) -> Reply:
    p, raw = req.params, req.raw
    proj = project_of(srv, p)
    body = json_body(raw)
    if proj is None:
        return error(404, "Not Found")
    if body is None or not isinstance(body.get("tag_name"), str) or not body["tag_name"]:
        return invalid("tag_name", resource="Release", code="missing_field", field_name="tag_name")
    with proj.lock:
        if any(r.tag_name == body["tag_name"] for r in proj.releases.values()):
            return invalid("already_exists", resource="Release", code="already_exists", field_name="tag_name")
        now = timestamp()
        draft = bool(body.get("draft", False))
        rel = SimRelease(proj.next_id(), body["tag_name"], str(body.get("target_commitish") or "main"),
                         str(body.get("name") or body["tag_name"]), str(body.get("body") or ""), draft,
                         bool(body.get("prerelease", False)), now, None if draft else now)  # fmt: skip
        if not draft:
            _publish_tag(proj, rel)
        proj.releases[rel.id] = rel
        proj.writes.append(f"POST /repos/{proj.owner}/{proj.repo}/releases")
        return Reply(201, proj.release_json(srv, rel), headers={"Location": f"{proj.base_url(srv)}/releases/"
                                                                 f"{rel.id}"})  # fmt: skip


def get_release(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _found(srv, req.params)
    if found is None:
        return error(404, "Not Found")
    proj, rel = found
    return Reply(200, proj.release_json(srv, rel))


def update_release(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _found(srv, req.params)
    body = json_body(req.raw)
    if found is None or body is None:
        return error(404, "Not Found")
    proj, rel = found
    with proj.lock:
        for key in ("name", "body", "target_commitish", "tag_name"):
            if isinstance(body.get(key), str):
                setattr(rel, key, body[key])
        if "draft" in body and rel.draft and not body["draft"]:
            rel.draft, rel.published_at = False, timestamp()
            _publish_tag(proj, rel)
        proj.writes.append(f"PATCH /repos/{proj.owner}/{proj.repo}/releases/{rel.id}")
        return Reply(200, proj.release_json(srv, rel))


def release_by_tag(srv: RoutingServer, req: SimRequest) -> Reply:
    p = req.params
    proj = project_of(srv, p)
    if proj is None:
        return error(404, "Not Found")
    with proj.lock:
        found = [r for r in proj.releases.values() if r.tag_name == p["tag"] and not r.draft]
    return Reply(200, proj.release_json(srv, found[0])) if found else error(404, "Not Found")


def list_assets(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _found(srv, req.params)
    if found is None:
        return error(404, "Not Found")
    proj, rel = found
    return Reply(200, [proj.asset_json(srv, rel, a) for a in rel.assets])


def upload_asset(srv: RoutingServer, req: SimRequest) -> Reply:
    q, raw = req.query, req.raw
    found = _found(srv, req.params)
    if found is None:
        return error(404, "Not Found")
    proj, rel = found
    name = q.get("name", "")
    if not name:
        return invalid("name", resource="ReleaseAsset", code="missing_field", field_name="name")
    with proj.lock:
        if any(a.name == name for a in rel.assets):
            return invalid("already_exists", resource="ReleaseAsset", code="already_exists", field_name="name")
        asset = SimAsset(
            proj.next_id(), name, header(req, "Content-Type") or "application/octet-stream", raw, timestamp()
        )
        rel.assets.append(asset)
        proj.writes.append(f"POST /repos/{proj.owner}/{proj.repo}/releases/{rel.id}/assets")
        return Reply(201, proj.asset_json(srv, rel, asset))


def delete_asset(srv: RoutingServer, req: SimRequest) -> Reply:
    p = req.params
    proj = project_of(srv, p)
    if proj is None or not p["asset_id"].isdigit():
        return error(404, "Not Found")
    with proj.lock:
        for rel in proj.releases.values():
            for a in rel.assets:
                if a.id == int(p["asset_id"]):
                    rel.assets.remove(a)
                    proj.writes.append(f"DELETE /repos/{proj.owner}/{proj.repo}/releases/assets/{a.id}")
                    return Reply(204, None)
    return error(404, "Not Found")


def delete_release(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _found(srv, req.params)
    if found is None:
        return error(404, "Not Found")
    proj, rel = found
    with proj.lock:
        del proj.releases[rel.id]
        proj.writes.append(f"DELETE /repos/{proj.owner}/{proj.repo}/releases/{rel.id}")
    return Reply(204, None)


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/repos/{owner}/{repo}/releases", list_releases),
    ("POST", "/repos/{owner}/{repo}/releases", create_release),
    ("GET", "/repos/{owner}/{repo}/releases/tags/{tag}", release_by_tag),
    ("GET", "/repos/{owner}/{repo}/releases/{release_id}", get_release),
    ("PATCH", "/repos/{owner}/{repo}/releases/{release_id}", update_release),
    ("DELETE", "/repos/{owner}/{repo}/releases/{release_id}", delete_release),
    ("GET", "/repos/{owner}/{repo}/releases/{release_id}/assets", list_assets),
    ("POST", "/repos/{owner}/{repo}/releases/{release_id}/assets", upload_asset),
    ("DELETE", "/repos/{owner}/{repo}/releases/assets/{asset_id}", delete_asset),
]
