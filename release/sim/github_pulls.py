"""Pull requests of the project on the fake GitHub (release/sim/github_project.py holds the state), as GitHub
behaves where the kit relies on it:
- `POST /pulls` answers 422 "A pull request already exists" for a second open PR of the same head and base;
- `GET /pulls` filters by `state` (open by default), `head` (`owner:branch`) and `base`;
- `PUT /pulls/{n}/merge` writes a real merge commit (or a squash commit) into the bare repository;
- comments on a PR (`POST /issues/{n}/comments`) are kept per PR.
"""

from __future__ import annotations

from typing import Any

from release.sim.github_project import ProjectSim, SimPull, invalid, json_body, project_item, project_of, timestamp
from release.sim.github_routing import Reply, RoutingServer, SimRequest, error


def _head_branch(proj: ProjectSim, head: str) -> str:
    owner, sep, branch = head.partition(":")
    return branch if sep and owner == proj.owner else head


def _found(srv: RoutingServer, p: dict[str, str]) -> tuple[ProjectSim, SimPull] | None:
    """The project and the PR the path names."""
    return project_item(srv, p, lambda proj: proj.pulls, "pull_number")


def list_pulls(srv: RoutingServer, req: SimRequest) -> Reply:
    p, q = req.params, req.query
    proj = project_of(srv, p)
    if proj is None:
        return error(404, "Not Found")
    state = q.get("state", "open")
    with proj.lock:
        pulls = sorted(proj.pulls.values(), key=lambda pr: pr.number, reverse=q.get("direction", "desc") == "desc")
    if state in ("open", "closed"):
        pulls = [pr for pr in pulls if pr.state == state]
    if q.get("head"):
        owner, _, branch = q["head"].partition(":")
        pulls = [pr for pr in pulls if owner == proj.owner and pr.head == branch]
    if q.get("base"):
        pulls = [pr for pr in pulls if pr.base == q["base"]]
    path = f"/repos/{proj.owner}/{proj.repo}/pulls"
    reply = srv.paginate(pulls, q, path, "items", lambda pr: proj.pull_json(srv, pr, full=False))
    reply.body = reply.body["items"]  # GitHub answers a bare list here
    return reply


def create_pull(srv: RoutingServer, req: SimRequest) -> Reply:
    p, raw = req.params, req.raw
    proj = project_of(srv, p)
    body = json_body(raw)
    if proj is None:
        return error(404, "Not Found")
    if body is None or not isinstance(body.get("head"), str) or not isinstance(body.get("base"), str):
        return invalid("head and base are required", resource="PullRequest", code="missing_field", field_name="head")
    head, base = _head_branch(proj, body["head"]), body["base"]
    with proj.lock:
        if proj.branch_sha(base) is None:
            return invalid("base", resource="PullRequest", field_name="base")
        if proj.branch_sha(head) is None:
            return invalid("head", resource="PullRequest", field_name="head")
        if any(pr.head == head and pr.base == base and pr.state == "open" for pr in proj.pulls.values()):
            return invalid(f"A pull request already exists for {proj.owner}:{head}.", resource="PullRequest",
                            code="custom")  # fmt: skip
        number = max(proj.pulls, default=0) + 1
        now = timestamp()
        pr = SimPull(number, head, base, str(body.get("title") or head), str(body.get("body") or ""),
                     bool(body.get("draft", False)), now, updated_at=now)  # fmt: skip
        proj.pulls[number] = pr
        proj.writes.append(f"POST /repos/{proj.owner}/{proj.repo}/pulls")
        return Reply(201, proj.pull_json(srv, pr, full=True), headers={"Location": f"{proj.base_url(srv)}/pulls/"
                                                                        f"{number}"})  # fmt: skip


def get_pull(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _found(srv, req.params)
    if found is None:
        return error(404, "Not Found")
    proj, pr = found
    return Reply(200, proj.pull_json(srv, pr, full=True))


def update_pull(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _found(srv, req.params)
    body = json_body(req.raw)
    if found is None:
        return error(404, "Not Found")
    proj, pr = found
    if body is None:
        return invalid("body", resource="PullRequest")
    with proj.lock:
        if "title" in body:
            pr.title = str(body["title"])
        if "body" in body:
            pr.body = str(body["body"] or "")
        if body.get("state") in ("open", "closed") and not pr.merged:
            pr.state = body["state"]
            pr.closed_at = timestamp() if pr.state == "closed" else None
        pr.updated_at = timestamp()
        proj.writes.append(f"PATCH /repos/{proj.owner}/{proj.repo}/pulls/{pr.number}")
        return Reply(200, proj.pull_json(srv, pr, full=True))


def pull_merged(srv: RoutingServer, req: SimRequest) -> Reply:
    found = _found(srv, req.params)
    if found is None or not found[1].merged:
        return Reply(404, None)
    return Reply(204, None)


def merge_pull(srv: RoutingServer, req: SimRequest) -> Reply:
    """Merge as GitHub does: `merge` writes a merge commit, `squash` one commit with the combined change."""
    found = _found(srv, req.params)
    body = json_body(req.raw) or {}
    if found is None:
        return error(404, "Not Found")
    proj, pr = found
    method = body.get("merge_method", "merge")
    with proj.lock:
        if pr.state != "open":
            return error(405, "Pull Request is not mergeable")
        head_sha, base_sha = proj.branch_sha(pr.head), proj.branch_sha(pr.base)
        if head_sha is None or base_sha is None:
            return error(405, "Pull Request is not mergeable")
        if body.get("sha") and body["sha"] != head_sha:
            return error(409, "Head branch was modified. Review and try the merge again.")
        code, tree = proj.git("merge-tree", "--write-tree", base_sha, head_sha, ok=(0, 1))
        if code != 0:
            return error(405, "Merge conflict")
        tree = tree.splitlines()[0]
        title = body.get("commit_title") or (
            f"Merge pull request #{pr.number} from {proj.owner}/{pr.head}" if method == "merge"
            else f"{pr.title} (#{pr.number})"
        )  # fmt: skip
        message = f"{title}\n\n{body.get('commit_message') or pr.title}"
        if method == "merge":
            _, sha = proj.git("commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", message)
        elif method == "squash":
            _, sha = proj.git("commit-tree", tree, "-p", base_sha, "-m", message)
        else:
            return invalid("merge_method", resource="PullRequest", field_name="merge_method")
        proj.git("update-ref", f"refs/heads/{pr.base}", sha, base_sha)
        now = timestamp()
        pr.state, pr.merged, pr.merged_at, pr.closed_at, pr.updated_at = "closed", True, now, now, now
        pr.merge_commit_sha, pr.head_sha_at_close = sha, head_sha
        proj.writes.append(f"PUT /repos/{proj.owner}/{proj.repo}/pulls/{pr.number}/merge")
        return Reply(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def create_comment(srv: RoutingServer, req: SimRequest) -> Reply:
    p, body = req.params, json_body(req.raw)
    proj = project_of(srv, p)
    n = int(p["issue_number"]) if p["issue_number"].isdigit() else 0
    if proj is None or n not in proj.pulls:
        return error(404, "Not Found")
    if body is None or not isinstance(body.get("body"), str):
        return invalid("body", resource="IssueComment", code="missing_field", field_name="body")
    with proj.lock:
        proj.comments.setdefault(n, []).append(body["body"])
        cid, now, issue = proj.next_id(), timestamp(), f"{proj.base_url(srv)}/issues/{n}"
        proj.writes.append(f"POST /repos/{proj.owner}/{proj.repo}/issues/{n}/comments")
    return Reply(201, {"id": cid, "node_id": f"IC_{cid}", "url": f"{proj.base_url(srv)}/issues/comments/{cid}",
                       "html_url": proj.html(f"/pull/{n}#issuecomment-{cid}"), "body": body["body"], "issue_url": issue,
                       "user": srv.user_json(proj.user), "created_at": now, "updated_at": now,
                       "author_association": "MEMBER"})  # fmt: skip


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/repos/{owner}/{repo}/pulls", list_pulls),
    ("POST", "/repos/{owner}/{repo}/pulls", create_pull),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", get_pull),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", update_pull),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", pull_merged),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", merge_pull),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", create_comment),
]
