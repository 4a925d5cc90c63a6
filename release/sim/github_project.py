"""Pull requests, releases, refs and commits of the project repository, for the GitHub-compatible server.

`ProjectSim(owner, repo, git_dir)` keeps PRs and releases in memory and reads branches, tags and commits from a
real bare git repository (the "origin" the kit pushes to), so the fake GitHub and the git remote agree: a PR's
head is the branch tip, `PUT .../merge` writes a real merge commit (or a squash commit) into the bare repository,
publishing a release without an existing tag creates the tag at `target_commitish`, as GitHub does.

`install(server, project)` registers the routes on a `GitHubServer`, and puts the project's web addresses
(`html_url` of PRs, releases, commits) under the server's own base, http://127.0.0.1:PORT/OWNER/REPO/pull/N.
Answers carry what GitHub's OpenAPI description requires (the tests validate every one), plus GitHub's
behaviours the kit relies on:
- `POST /pulls` answers 422 "A pull request already exists" for a second open PR of the same head and base;
- `GET /pulls` filters by `state` (open by default), `head` (`owner:branch`) and `base`;
- `GET /releases/tags/{tag}` does not show drafts; `GET /releases` does;
- uploads go to the release's `upload_url`; a second asset of the same name answers 422.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from release.sim.github_server import Reply, SimRequest, error

if TYPE_CHECKING:
    from release.sim.github_server import GitHubServer


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class SimPull:
    number: int
    head: str
    base: str
    title: str
    body: str
    draft: bool
    created_at: str
    state: str = "open"
    merged: bool = False
    merged_at: str | None = None
    closed_at: str | None = None
    merge_commit_sha: str | None = None
    head_sha_at_close: str | None = None
    updated_at: str = ""


@dataclass
class SimAsset:
    id: int
    name: str
    content_type: str
    data: bytes
    created_at: str


@dataclass
class SimRelease:
    id: int
    tag_name: str
    target_commitish: str
    name: str
    body: str
    draft: bool
    prerelease: bool
    created_at: str
    published_at: str | None
    assets: list[SimAsset] = field(default_factory=list)


class ProjectSim:
    """The project repository as GitHub sees it: PRs and releases over a bare git repository."""

    def __init__(self, owner: str, repo: str, git_dir: Path, *, user: str = "release-bot") -> None:
        self.owner = owner
        self.repo = repo
        self.git_dir = Path(git_dir)
        self.user = user
        self.pulls: dict[int, SimPull] = {}
        self.releases: dict[int, SimRelease] = {}
        self.comments: dict[int, list[str]] = {}  # issue or PR number → comment bodies
        self.lock = threading.RLock()
        self._ids = iter(range(1, 10**9))
        self.writes: list[str] = []  # "POST /repos/o/r/pulls", ... : what tests assert on for dry runs
        # Where the repository's web pages are: GitHub's until `install` points it at the simulator, so that a
        # rehearsal's PR and release links can never be mistaken for (or lead to) real ones on github.com.
        self.web_base = "https://github.com"

    # -- git ------------------------------------------------------------------------------------------------
    def git(self, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="GitHub",
                   GIT_AUTHOR_EMAIL="noreply@github.com", GIT_COMMITTER_NAME="GitHub",
                   GIT_COMMITTER_EMAIL="noreply@github.com")  # fmt: skip
        proc = subprocess.run(["git", "--git-dir", str(self.git_dir), *args], capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip
        if proc.returncode not in ok:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.returncode, proc.stdout.strip()

    def resolve(self, ref: str) -> str | None:
        code, out = self.git("rev-parse", "--verify", "--quiet", ref, ok=(0, 1))
        return out if code == 0 and out else None

    def branch_sha(self, branch: str) -> str | None:
        return self.resolve(f"refs/heads/{branch}")

    def next_id(self) -> int:
        return next(self._ids)

    # -- JSON shapes --------------------------------------------------------------------------------------
    def base_url(self, srv: GitHubServer) -> str:
        return f"{srv.api_url}/repos/{self.owner}/{self.repo}"

    def html(self, path: str = "") -> str:
        """A web page's address (`html_url`): under the simulator's own base once installed."""
        return f"{self.web_base}/{self.owner}/{self.repo}{path}"

    def repository_json(self, srv: GitHubServer) -> dict[str, Any]:
        base = self.base_url(srv)
        names = ["archive", "assignees", "blobs", "branches", "collaborators", "comments", "commits", "compare",
                 "contents", "contributors", "deployments", "downloads", "events", "forks", "git_commits",
                 "git_refs", "git_tags", "hooks", "issue_comment", "issue_events", "issues", "keys", "labels",
                 "languages", "merges", "milestones", "notifications", "pulls", "releases", "stargazers",
                 "statuses", "subscribers", "subscription", "tags", "teams", "trees"]  # fmt: skip
        out: dict[str, Any] = {f"{n}_url": f"{base}/{n.replace('_', '/')}" for n in names}
        out.update(
            id=7_000_002, node_id="R_kgDOproject", name=self.repo, full_name=f"{self.owner}/{self.repo}",
            private=False, owner=srv.user_json(self.owner), html_url=self.html(), description="inference server",
            fork=False, url=base, clone_url=f"{self.html()}.git", git_url=f"git://github.com/{self.owner}/"
            f"{self.repo}.git", ssh_url=f"git@github.com:{self.owner}/{self.repo}.git", svn_url=self.html(),
            mirror_url=None, homepage=None, language="Python", forks=0, forks_count=0, stargazers_count=0,
            watchers_count=0, watchers=0, size=1, default_branch="main", open_issues=0, open_issues_count=0,
            has_issues=True, has_projects=False, has_wiki=False, has_pages=False, has_downloads=True,
            archived=False, disabled=False, license=None, pushed_at="2026-01-01T00:00:00Z",
            created_at="2024-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z",
        )  # fmt: skip
        return out

    def pull_json(self, srv: GitHubServer, pr: SimPull, *, full: bool) -> dict[str, Any]:
        base = self.base_url(srv)
        url = f"{base}/pulls/{pr.number}"
        issue = f"{base}/issues/{pr.number}"
        head_sha = pr.head_sha_at_close or self.branch_sha(pr.head) or "0" * 40
        base_sha = self.branch_sha(pr.base) or "0" * 40
        repo = self.repository_json(srv)
        user = srv.user_json(self.user)

        def end(ref: str, sha: str) -> dict[str, Any]:
            return {"label": f"{self.owner}:{ref}", "ref": ref, "sha": sha, "user": srv.user_json(self.owner),
                    "repo": repo}  # fmt: skip

        def link(href: str) -> dict[str, str]:
            return {"href": href}

        out: dict[str, Any] = {
            "url": url, "id": 9_000_000 + pr.number, "node_id": f"PR_{pr.number}", "html_url": self.html(
                f"/pull/{pr.number}"), "diff_url": self.html(f"/pull/{pr.number}.diff"),
            "patch_url": self.html(f"/pull/{pr.number}.patch"), "issue_url": issue, "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments", "review_comment_url": f"{base}/pulls/comments{{/number}}",
            "comments_url": f"{issue}/comments", "statuses_url": f"{base}/statuses/{head_sha}",
            "number": pr.number, "state": pr.state, "locked": False, "title": pr.title, "user": user,
            "body": pr.body, "labels": [], "milestone": None, "active_lock_reason": None,
            "created_at": pr.created_at, "updated_at": pr.updated_at or pr.created_at, "closed_at": pr.closed_at,
            "merged_at": pr.merged_at, "merge_commit_sha": pr.merge_commit_sha, "assignee": None,
            "assignees": [], "requested_reviewers": [], "requested_teams": [], "head": end(pr.head, head_sha),
            "base": end(pr.base, base_sha), "author_association": "MEMBER", "auto_merge": None, "draft": pr.draft,
            "_links": {"self": link(url), "html": link(self.html(f"/pull/{pr.number}")), "issue": link(issue),
                       "comments": link(f"{issue}/comments"), "review_comments": link(f"{url}/comments"),
                       "review_comment": link(f"{base}/pulls/comments{{/number}}"),
                       "commits": link(f"{url}/commits"), "statuses": link(f"{base}/statuses/{head_sha}")},
        }  # fmt: skip
        if full:
            out.update(
                merged=pr.merged, mergeable=None if pr.state != "open" else True, rebaseable=None,
                mergeable_state="clean" if pr.state == "open" else "unknown",
                merged_by=user if pr.merged else None, comments=0, review_comments=0,
                maintainer_can_modify=False, commits=1, additions=1, deletions=0, changed_files=1,
            )  # fmt: skip
        return out

    def asset_json(self, srv: GitHubServer, rel: SimRelease, a: SimAsset) -> dict[str, Any]:
        return {
            "url": f"{self.base_url(srv)}/releases/assets/{a.id}", "id": a.id, "node_id": f"RA_{a.id}",
            "name": a.name, "label": None, "content_type": a.content_type, "state": "uploaded", "size": len(a.data),
            "digest": "sha256:" + hashlib.sha256(a.data).hexdigest(), "download_count": 0,
            "uploader": srv.user_json(self.user), "created_at": a.created_at, "updated_at": a.created_at,
            "browser_download_url": self.html(f"/releases/download/{quote(rel.tag_name)}/{quote(a.name)}"),
        }  # fmt: skip

    def release_json(self, srv: GitHubServer, rel: SimRelease) -> dict[str, Any]:
        url = f"{self.base_url(srv)}/releases/{rel.id}"
        tag_path = quote(rel.tag_name)
        return {
            "url": url, "html_url": self.html(f"/releases/{'tag' if not rel.draft else 'untagged'}/{tag_path}"),
            "assets_url": f"{url}/assets", "upload_url": f"{url}/assets{{?name,label}}",
            "tarball_url": None if rel.draft else f"{self.base_url(srv)}/tarball/{tag_path}",
            "zipball_url": None if rel.draft else f"{self.base_url(srv)}/zipball/{tag_path}",
            "id": rel.id, "node_id": f"RE_{rel.id}", "tag_name": rel.tag_name,
            "target_commitish": rel.target_commitish, "name": rel.name, "body": rel.body, "draft": rel.draft,
            "prerelease": rel.prerelease, "created_at": rel.created_at, "published_at": rel.published_at,
            "author": srv.user_json(self.user), "assets": [self.asset_json(srv, rel, a) for a in rel.assets],
        }  # fmt: skip

    def ref_json(self, srv: GitHubServer, ref: str, sha: str, kind: str) -> dict[str, Any]:
        objects = "tags" if kind == "tag" else "commits"
        return {
            "ref": ref,
            "node_id": f"REF_{sha[:12]}",
            "url": f"{self.base_url(srv)}/git/{ref}",
            "object": {"type": kind, "sha": sha, "url": f"{self.base_url(srv)}/git/{objects}/{sha}"},
        }

    def commit_json(self, srv: GitHubServer, sha: str) -> dict[str, Any]:
        _, out = self.git("log", "-1", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B", sha)
        tree, parents, an, ae, ad, cn, ce, cd, message = out.split("\x00", 8)
        base = self.base_url(srv)
        return {
            "url": f"{base}/commits/{sha}", "sha": sha, "node_id": f"C_{sha[:12]}",
            "html_url": self.html(f"/commit/{sha}"), "comments_url": f"{base}/commits/{sha}/comments",
            "commit": {"url": f"{base}/git/commits/{sha}", "author": {"name": an, "email": ae, "date": ad},
                       "committer": {"name": cn, "email": ce, "date": cd}, "message": message.strip(),
                       "comment_count": 0, "tree": {"sha": tree, "url": f"{base}/git/trees/{tree}"}},
            "author": None, "committer": None,
            "parents": [{"sha": p, "url": f"{base}/commits/{p}", "html_url": self.html(f"/commit/{p}")}
                        for p in parents.split()],
        }  # fmt: skip


# ------------------------------------------------------------------------------------------------ routes


def _project(srv: GitHubServer, p: dict[str, str]) -> ProjectSim | None:
    proj: ProjectSim | None = getattr(srv, "project", None)
    if proj is None or p.get("owner") != proj.owner or p.get("repo") != proj.repo:
        return None
    return proj


def _header(req: SimRequest, name: str) -> str | None:
    return next((v for k, v in req.headers.items() if k.lower() == name.lower()), None)


def _json_body(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _invalid(message: str, *, resource: str, code: str = "invalid", field_name: str = "") -> Reply:
    err: dict[str, Any] = {"resource": resource, "code": code}
    if field_name:
        err["field"] = field_name
    if code == "custom":
        err["message"] = message
    return Reply(422, {"message": "Validation Failed", "errors": [err],
                       "documentation_url": "https://docs.github.com/rest", "status": "422"})  # fmt: skip


def _head_branch(proj: ProjectSim, head: str) -> str:
    owner, sep, branch = head.partition(":")
    return branch if sep and owner == proj.owner else head


def list_pulls(srv: GitHubServer, req: SimRequest) -> Reply:
    p, q = req.params, req.query
    proj = _project(srv, p)
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


def create_pull(srv: GitHubServer, req: SimRequest) -> Reply:
    p, raw = req.params, req.raw
    proj = _project(srv, p)
    body = _json_body(raw)
    if proj is None:
        return error(404, "Not Found")
    if body is None or not isinstance(body.get("head"), str) or not isinstance(body.get("base"), str):
        return _invalid("head and base are required", resource="PullRequest", code="missing_field", field_name="head")
    head, base = _head_branch(proj, body["head"]), body["base"]
    with proj.lock:
        if proj.branch_sha(base) is None:
            return _invalid("base", resource="PullRequest", field_name="base")
        if proj.branch_sha(head) is None:
            return _invalid("head", resource="PullRequest", field_name="head")
        if any(pr.head == head and pr.base == base and pr.state == "open" for pr in proj.pulls.values()):
            return _invalid(f"A pull request already exists for {proj.owner}:{head}.", resource="PullRequest",
                            code="custom")  # fmt: skip
        number = max(proj.pulls, default=0) + 1
        now = _now()
        pr = SimPull(number, head, base, str(body.get("title") or head), str(body.get("body") or ""),
                     bool(body.get("draft", False)), now, updated_at=now)  # fmt: skip
        proj.pulls[number] = pr
        proj.writes.append(f"POST /repos/{proj.owner}/{proj.repo}/pulls")
        return Reply(201, proj.pull_json(srv, pr, full=True), headers={"Location": f"{proj.base_url(srv)}/pulls/"
                                                                        f"{number}"})  # fmt: skip


def _pull(proj: ProjectSim, p: dict[str, str]) -> SimPull | None:
    n = p.get("pull_number", "")
    return proj.pulls.get(int(n)) if n.isdigit() else None


def get_pull(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
    pr = _pull(proj, p) if proj else None
    if proj is None or pr is None:
        return error(404, "Not Found")
    return Reply(200, proj.pull_json(srv, pr, full=True))


def update_pull(srv: GitHubServer, req: SimRequest) -> Reply:
    p, raw = req.params, req.raw
    proj = _project(srv, p)
    pr = _pull(proj, p) if proj else None
    body = _json_body(raw)
    if proj is None or pr is None:
        return error(404, "Not Found")
    if body is None:
        return _invalid("body", resource="PullRequest")
    with proj.lock:
        if "title" in body:
            pr.title = str(body["title"])
        if "body" in body:
            pr.body = str(body["body"] or "")
        if body.get("state") in ("open", "closed") and not pr.merged:
            pr.state = body["state"]
            pr.closed_at = _now() if pr.state == "closed" else None
        pr.updated_at = _now()
        proj.writes.append(f"PATCH /repos/{proj.owner}/{proj.repo}/pulls/{pr.number}")
        return Reply(200, proj.pull_json(srv, pr, full=True))


def pull_merged(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
    pr = _pull(proj, p) if proj else None
    if proj is None or pr is None or not pr.merged:
        return Reply(404, None)
    return Reply(204, None)


def merge_pull(srv: GitHubServer, req: SimRequest) -> Reply:
    """Merge as GitHub does: `merge` writes a merge commit, `squash` one commit with the combined change."""
    p, raw = req.params, req.raw
    proj = _project(srv, p)
    pr = _pull(proj, p) if proj else None
    body = _json_body(raw) or {}
    if proj is None or pr is None:
        return error(404, "Not Found")
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
            return _invalid("merge_method", resource="PullRequest", field_name="merge_method")
        proj.git("update-ref", f"refs/heads/{pr.base}", sha, base_sha)
        now = _now()
        pr.state, pr.merged, pr.merged_at, pr.closed_at, pr.updated_at = "closed", True, now, now, now
        pr.merge_commit_sha, pr.head_sha_at_close = sha, head_sha
        proj.writes.append(f"PUT /repos/{proj.owner}/{proj.repo}/pulls/{pr.number}/merge")
        return Reply(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def list_releases(srv: GitHubServer, req: SimRequest) -> Reply:
    p, q = req.params, req.query
    proj = _project(srv, p)
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


def create_release(srv: GitHubServer, req: SimRequest) -> Reply:
    p, raw = req.params, req.raw
    proj = _project(srv, p)
    body = _json_body(raw)
    if proj is None:
        return error(404, "Not Found")
    if body is None or not isinstance(body.get("tag_name"), str) or not body["tag_name"]:
        return _invalid("tag_name", resource="Release", code="missing_field", field_name="tag_name")
    with proj.lock:
        if any(r.tag_name == body["tag_name"] for r in proj.releases.values()):
            return _invalid("already_exists", resource="Release", code="already_exists", field_name="tag_name")
        now = _now()
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


def _release(proj: ProjectSim, p: dict[str, str]) -> SimRelease | None:
    rid = p.get("release_id", "")
    return proj.releases.get(int(rid)) if rid.isdigit() else None


def get_release(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
    rel = _release(proj, p) if proj else None
    if proj is None or rel is None:
        return error(404, "Not Found")
    return Reply(200, proj.release_json(srv, rel))


def update_release(srv: GitHubServer, req: SimRequest) -> Reply:
    p, raw = req.params, req.raw
    proj = _project(srv, p)
    rel = _release(proj, p) if proj else None
    body = _json_body(raw)
    if proj is None or rel is None or body is None:
        return error(404, "Not Found")
    with proj.lock:
        for key in ("name", "body", "target_commitish", "tag_name"):
            if isinstance(body.get(key), str):
                setattr(rel, key, body[key])
        if "draft" in body and rel.draft and not body["draft"]:
            rel.draft, rel.published_at = False, _now()
            _publish_tag(proj, rel)
        proj.writes.append(f"PATCH /repos/{proj.owner}/{proj.repo}/releases/{rel.id}")
        return Reply(200, proj.release_json(srv, rel))


def release_by_tag(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
    if proj is None:
        return error(404, "Not Found")
    with proj.lock:
        found = [r for r in proj.releases.values() if r.tag_name == p["tag"] and not r.draft]
    return Reply(200, proj.release_json(srv, found[0])) if found else error(404, "Not Found")


def list_assets(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
    rel = _release(proj, p) if proj else None
    if proj is None or rel is None:
        return error(404, "Not Found")
    return Reply(200, [proj.asset_json(srv, rel, a) for a in rel.assets])


def upload_asset(srv: GitHubServer, req: SimRequest) -> Reply:
    p, q, raw = req.params, req.query, req.raw
    proj = _project(srv, p)
    rel = _release(proj, p) if proj else None
    if proj is None or rel is None:
        return error(404, "Not Found")
    name = q.get("name", "")
    if not name:
        return _invalid("name", resource="ReleaseAsset", code="missing_field", field_name="name")
    with proj.lock:
        if any(a.name == name for a in rel.assets):
            return _invalid("already_exists", resource="ReleaseAsset", code="already_exists", field_name="name")
        asset = SimAsset(proj.next_id(), name, _header(req, "Content-Type") or "application/octet-stream", raw, _now())
        rel.assets.append(asset)
        proj.writes.append(f"POST /repos/{proj.owner}/{proj.repo}/releases/{rel.id}/assets")
        return Reply(201, proj.asset_json(srv, rel, asset))


def delete_asset(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
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


def delete_release(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
    rel = _release(proj, p) if proj else None
    if proj is None or rel is None:
        return error(404, "Not Found")
    with proj.lock:
        del proj.releases[rel.id]
        proj.writes.append(f"DELETE /repos/{proj.owner}/{proj.repo}/releases/{rel.id}")
    return Reply(204, None)


def create_comment(srv: GitHubServer, req: SimRequest) -> Reply:
    p, body = req.params, _json_body(req.raw)
    proj = _project(srv, p)
    n = int(p["issue_number"]) if p["issue_number"].isdigit() else 0
    if proj is None or n not in proj.pulls:
        return error(404, "Not Found")
    if body is None or not isinstance(body.get("body"), str):
        return _invalid("body", resource="IssueComment", code="missing_field", field_name="body")
    with proj.lock:
        proj.comments.setdefault(n, []).append(body["body"])
        cid, now, issue = proj.next_id(), _now(), f"{proj.base_url(srv)}/issues/{n}"
        proj.writes.append(f"POST /repos/{proj.owner}/{proj.repo}/issues/{n}/comments")
    return Reply(201, {"id": cid, "node_id": f"IC_{cid}", "url": f"{proj.base_url(srv)}/issues/comments/{cid}",
                       "html_url": proj.html(f"/pull/{n}#issuecomment-{cid}"), "body": body["body"], "issue_url": issue,
                       "user": srv.user_json(proj.user), "created_at": now, "updated_at": now,
                       "author_association": "MEMBER"})  # fmt: skip


def get_ref(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
    ref = p.get("ref", "")
    if proj is None or not ref.startswith(("heads/", "tags/")):
        return error(404, "Not Found")
    full = f"refs/{ref}"
    code, sha = proj.git("rev-parse", "--verify", "--quiet", full, ok=(0, 1))
    if code != 0:
        return error(404, "Not Found")
    _, kind = proj.git("cat-file", "-t", sha)
    return Reply(200, proj.ref_json(srv, full, sha, kind))


def get_commit(srv: GitHubServer, req: SimRequest) -> Reply:
    p = req.params
    proj = _project(srv, p)
    if proj is None:
        return error(404, "Not Found")
    sha = proj.resolve(f"{p['ref']}^{{commit}}")
    if sha is None:
        return Reply(422, {"message": f"No commit found for SHA: {p['ref']}",
                           "documentation_url": "https://docs.github.com/rest", "status": "422"})  # fmt: skip
    return Reply(200, proj.commit_json(srv, sha))


# (method, OpenAPI path template, handler)
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/repos/{owner}/{repo}/pulls", list_pulls),
    ("POST", "/repos/{owner}/{repo}/pulls", create_pull),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", get_pull),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", update_pull),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", pull_merged),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", merge_pull),
    ("GET", "/repos/{owner}/{repo}/releases", list_releases),
    ("POST", "/repos/{owner}/{repo}/releases", create_release),
    ("GET", "/repos/{owner}/{repo}/releases/tags/{tag}", release_by_tag),
    ("GET", "/repos/{owner}/{repo}/releases/{release_id}", get_release),
    ("PATCH", "/repos/{owner}/{repo}/releases/{release_id}", update_release),
    ("DELETE", "/repos/{owner}/{repo}/releases/{release_id}", delete_release),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", create_comment),
    ("GET", "/repos/{owner}/{repo}/releases/{release_id}/assets", list_assets),
    ("POST", "/repos/{owner}/{repo}/releases/{release_id}/assets", upload_asset),
    ("DELETE", "/repos/{owner}/{repo}/releases/assets/{asset_id}", delete_asset),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}", get_ref),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}", get_commit),
]


def install(server: GitHubServer, project: ProjectSim) -> ProjectSim:
    """Serve `project`'s pulls, releases, refs and commits from `server` (its other routes are unchanged)."""
    server.project = project  # type: ignore[attr-defined]
    project.web_base = server.api_url
    for method, template, fn in ROUTES:
        server.add_route(method, template, fn)
    return project
