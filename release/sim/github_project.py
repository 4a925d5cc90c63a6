"""The project repository as the fake GitHub sees it: pull requests and releases kept in memory over a real bare
git repository (the "origin" the kit pushes to), so the fake GitHub and the git remote agree.

`ProjectSim(owner, repo, git_dir)` holds the state and renders the JSON shapes (what GitHub's OpenAPI description
requires, which the tests validate, plus what the kit reads); a PR's head is the branch tip. Its routes are in
release/sim/github_pulls.py (pulls, merges, comments), release/sim/github_releases.py (releases and assets) and
here (refs and commits); `release.sim.github_server.install_project(server, project)` registers them all and
puts the project's web addresses (`html_url` of PRs, releases, commits) under the server's own base,
http://127.0.0.1:PORT/OWNER/REPO/pull/N.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from release.sim.github_routing import Reply, RoutingServer, SimRequest, error

T = TypeVar("T")


def timestamp() -> str:
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
    def base_url(self, srv: RoutingServer) -> str:
        return f"{srv.api_url}/repos/{self.owner}/{self.repo}"

    def html(self, path: str = "") -> str:
        """A web page's address (`html_url`): under the simulator's own base once installed."""
        return f"{self.web_base}/{self.owner}/{self.repo}{path}"

    def repository_json(self, srv: RoutingServer) -> dict[str, Any]:
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

    def pull_json(self, srv: RoutingServer, pr: SimPull, *, full: bool) -> dict[str, Any]:
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

    def asset_json(self, srv: RoutingServer, rel: SimRelease, a: SimAsset) -> dict[str, Any]:
        return {
            "url": f"{self.base_url(srv)}/releases/assets/{a.id}", "id": a.id, "node_id": f"RA_{a.id}",
            "name": a.name, "label": None, "content_type": a.content_type, "state": "uploaded", "size": len(a.data),
            "digest": "sha256:" + hashlib.sha256(a.data).hexdigest(), "download_count": 0,
            "uploader": srv.user_json(self.user), "created_at": a.created_at, "updated_at": a.created_at,
            "browser_download_url": self.html(f"/releases/download/{quote(rel.tag_name)}/{quote(a.name)}"),
        }  # fmt: skip

    def release_json(self, srv: RoutingServer, rel: SimRelease) -> dict[str, Any]:
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

    def ref_json(self, srv: RoutingServer, ref: str, sha: str, kind: str) -> dict[str, Any]:
        objects = "tags" if kind == "tag" else "commits"
        return {
            "ref": ref,
            "node_id": f"REF_{sha[:12]}",
            "url": f"{self.base_url(srv)}/git/{ref}",
            "object": {"type": kind, "sha": sha, "url": f"{self.base_url(srv)}/git/{objects}/{sha}"},
        }

    def commit_json(self, srv: RoutingServer, sha: str) -> dict[str, Any]:
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


# ------------------------------------------------------------------------------------------------ route helpers


def project_of(srv: RoutingServer, p: dict[str, str]) -> ProjectSim | None:
    """The project the path names (None: the server serves no project, or another repository)."""
    proj: ProjectSim | None = getattr(srv, "project", None)
    if proj is None or p.get("owner") != proj.owner or p.get("repo") != proj.repo:
        return None
    return proj


def project_item(
    srv: RoutingServer, p: dict[str, str], items: Callable[[ProjectSim], Mapping[int, T]], key: str
) -> tuple[ProjectSim, T] | None:
    """The project and its item (`items(project)[n]`) whose number the path parameter `key` gives; None: no such
    project or item."""
    proj = project_of(srv, p)
    n = p.get(key, "")
    item = items(proj).get(int(n)) if proj is not None and n.isdigit() else None
    return (proj, item) if proj is not None and item is not None else None


def header(req: SimRequest, name: str) -> str | None:
    return next((v for k, v in req.headers.items() if k.lower() == name.lower()), None)


def json_body(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def invalid(message: str, *, resource: str, code: str = "invalid", field_name: str = "") -> Reply:
    """GitHub's 422 "Validation Failed" with one error."""
    err: dict[str, Any] = {"resource": resource, "code": code}
    if field_name:
        err["field"] = field_name
    if code == "custom":
        err["message"] = message
    return Reply(422, {"message": "Validation Failed", "errors": [err],
                       "documentation_url": "https://docs.github.com/rest", "status": "422"})  # fmt: skip


# ------------------------------------------------------------------------------------------------ refs and commits


def get_ref(srv: RoutingServer, req: SimRequest) -> Reply:
    p = req.params
    proj = project_of(srv, p)
    ref = p.get("ref", "")
    if proj is None or not ref.startswith(("heads/", "tags/")):
        return error(404, "Not Found")
    full = f"refs/{ref}"
    code, sha = proj.git("rev-parse", "--verify", "--quiet", full, ok=(0, 1))
    if code != 0:
        return error(404, "Not Found")
    _, kind = proj.git("cat-file", "-t", sha)
    return Reply(200, proj.ref_json(srv, full, sha, kind))


def get_commit(srv: RoutingServer, req: SimRequest) -> Reply:
    p = req.params
    proj = project_of(srv, p)
    if proj is None:
        return error(404, "Not Found")
    sha = proj.resolve(f"{p['ref']}^{{commit}}")
    if sha is None:
        return Reply(422, {"message": f"No commit found for SHA: {p['ref']}",
                           "documentation_url": "https://docs.github.com/rest", "status": "422"})  # fmt: skip
    return Reply(200, proj.commit_json(srv, sha))


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}", get_ref),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}", get_commit),
]
