"""The Models CI endpoints of the fake GitHub: the GitHub Actions API over a generated `SimHistory`.

`ActionsApi(history).install(server)` registers the routes (the workflow, its runs with the server-side filters
status, branch and event, a run, its jobs with `filter=latest|all`, its artifacts with `name`, job logs and
artifact zips behind 302 redirects to the blob host, 410 for an expired artifact), and `blob(path)` serves the
logs and zips on the blob host. The JSON shapes carry what GitHub's OpenAPI schemas require, plus the fields the
kit reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from release.sim.github_routing import Reply, Route, RoutingServer, SimRequest, blob_not_found, error
from release.sim.history import SimArtifact, SimHistory, SimJob, SimRun

_STATUSES = {"completed", "in_progress", "queued", "requested", "waiting", "pending", "action_required"}


class ActionsApi:
    """Models CI as GitHub Actions serves it: one workflow of one repository, its runs, jobs, artifacts and logs."""

    def __init__(self, history: SimHistory) -> None:
        self.history = history

    def install(self, server: RoutingServer) -> None:
        routes = [
            ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}", self._workflow),
            ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", self._runs),
            ("/repos/{owner}/{repo}/actions/runs/{run_id}", self._of_run(self._run)),
            ("/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", self._of_run(self._jobs)),
            ("/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts", self._of_run(self._artifacts)),
            ("/repos/{owner}/{repo}/actions/jobs/{job_id}/logs", self._job_logs),
            ("/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}", self._artifact_zip),
        ]
        for template, fn in routes:
            server.add_route("GET", template, fn)

    def blob(self, path: str) -> Reply:
        """A job log (`/blob/log/ID`) or an artifact zip (`/blob/zip/ID`) on the blob host."""
        m = re.fullmatch(r"/blob/(log|zip)/(\d+)", path)
        if not m:
            return blob_not_found()
        if m[1] == "log":
            found = self.history.job(int(m[2]))
            if found is None:
                return blob_not_found()
            return Reply(200, raw=found[1].log, content_type="text/plain")
        art = self.history.artifact(int(m[2]))
        if art is None:
            return blob_not_found()
        return Reply(200, raw=art[1].content, content_type="application/zip")

    # -- JSON shapes (only what the OpenAPI schemas require, plus the fields readers use) -------------------

    def repo_json(self, srv: RoutingServer) -> dict[str, Any]:
        h = self.history
        base = f"{srv.api_url}/repos/{h.owner}/{h.repo}"
        names = [
            "archive",
            "assignees",
            "blobs",
            "branches",
            "collaborators",
            "comments",
            "commits",
            "compare",
            "contents",
            "contributors",
            "deployments",
            "downloads",
            "events",
            "forks",
            "git_commits",
            "git_refs",
            "git_tags",
            "hooks",
            "issue_comment",
            "issue_events",
            "issues",
            "keys",
            "labels",
            "languages",
            "merges",
            "milestones",
            "notifications",
            "pulls",
            "releases",
            "stargazers",
            "statuses",
            "subscribers",
            "subscription",
            "tags",
            "teams",
            "trees",
        ]
        out: dict[str, Any] = {f"{n}_url": f"{base}/{n.replace('_', '/')}" for n in names}
        out.update(
            {
                "id": 7_000_001,
                "node_id": "R_kgDOtest",
                "name": h.repo,
                "full_name": f"{h.owner}/{h.repo}",
                "private": True,
                "owner": srv.user_json(h.owner),
                "html_url": f"https://github.com/{h.owner}/{h.repo}",
                "description": "Models CI",
                "fork": False,
                "url": base,
            }
        )
        return out

    def workflow_json(self, srv: RoutingServer) -> dict[str, Any]:
        h = self.history
        return {
            "id": h.workflow_id,
            "node_id": "W_test",
            "name": h.workflow_name,
            "path": h.workflow_path,
            "state": "active",
            "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-06-01T00:00:00Z",
            "url": f"{srv.api_url}/repos/{h.owner}/{h.repo}/actions/workflows/{h.workflow_id}",
            "html_url": f"https://github.com/{h.owner}/{h.repo}/blob/dev/{h.workflow_path}",
            "badge_url": f"https://github.com/{h.owner}/{h.repo}/workflows/On%20Nightly/badge.svg",
        }

    def run_json(self, srv: RoutingServer, run: SimRun) -> dict[str, Any]:
        h = self.history
        api = f"{srv.api_url}/repos/{h.owner}/{h.repo}/actions/runs/{run.id}"
        repo = self.repo_json(srv)
        return {
            "id": run.id,
            "name": h.workflow_name,
            "node_id": f"WFR_{run.id}",
            "check_suite_id": run.id + 7,
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": h.workflow_path,
            "run_number": run.run_number,
            "run_attempt": run.run_attempt,
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": run.workflow_id,
            "url": api,
            "html_url": f"https://github.com/{h.owner}/{h.repo}/actions/runs/{run.id}",
            "pull_requests": [],
            "created_at": run.created_at,
            "updated_at": run.updated_at,
            "run_started_at": run.created_at,
            "actor": srv.user_json("tt-bot"),
            "jobs_url": f"{api}/jobs",
            "logs_url": f"{api}/logs",
            "check_suite_url": f"{srv.api_url}/repos/{h.owner}/{h.repo}/check-suites/{run.id + 7}",
            "artifacts_url": f"{api}/artifacts",
            "cancel_url": f"{api}/cancel",
            "rerun_url": f"{api}/rerun",
            "workflow_url": f"{srv.api_url}/repos/{h.owner}/{h.repo}/actions/workflows/{run.workflow_id}",
            "display_title": "On Nightly",
            "head_commit": {
                "id": run.head_sha,
                "tree_id": run.head_sha[::-1],
                "message": "nightly",
                "timestamp": run.created_at,
                "author": {"name": "tt", "email": "tt@example.com"},
                "committer": {"name": "tt", "email": "tt@example.com"},
            },
            "repository": repo,
            "head_repository": repo,
        }

    def job_json(self, srv: RoutingServer, run: SimRun, job: SimJob) -> dict[str, Any]:
        h = self.history
        return {
            "id": job.id,
            "run_id": run.id,
            "run_url": f"{srv.api_url}/repos/{h.owner}/{h.repo}/actions/runs/{run.id}",
            "run_attempt": job.run_attempt,
            "node_id": f"CR_{job.id}",
            "head_sha": run.head_sha,
            "url": f"{srv.api_url}/repos/{h.owner}/{h.repo}/actions/jobs/{job.id}",
            "html_url": f"https://github.com/{h.owner}/{h.repo}/actions/runs/{run.id}/job/{job.id}",
            "status": job.status,
            "conclusion": job.conclusion,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "completed_at": job.completed_at,
            "name": job.name,
            "steps": [],
            "check_run_url": f"{srv.api_url}/repos/{h.owner}/{h.repo}/check-runs/{job.id}",
            "labels": ["self-hosted", "tt"],
            "runner_id": 17,
            "runner_name": job.runner_name,
            "runner_group_id": 1,
            "runner_group_name": "Default",
            "workflow_name": h.workflow_name,
            "head_branch": run.head_branch,
        }

    def artifact_json(self, srv: RoutingServer, run: SimRun, art: SimArtifact) -> dict[str, Any]:
        h = self.history
        base = f"{srv.api_url}/repos/{h.owner}/{h.repo}/actions/artifacts/{art.id}"
        return {
            "id": art.id,
            "node_id": f"MDg6QXJ0aWZhY3Q{art.id}",
            "name": art.name,
            "size_in_bytes": art.size_in_bytes,
            "url": base,
            "archive_download_url": f"{base}/zip",
            "expired": art.expired,
            "created_at": art.created_at,
            "expires_at": art.expires_at,
            "updated_at": art.created_at,
            "digest": art.digest,
            "workflow_run": {
                "id": run.id,
                "repository_id": 7_000_001,
                "head_repository_id": 7_000_001,
                "head_branch": run.head_branch,
                "head_sha": run.head_sha,
            },
        }

    # -- routes ----------------------------------------------------------------------------------------------

    def _repo_ok(self, p: dict[str, str]) -> bool:
        return p.get("owner") == self.history.owner and p.get("repo") == self.history.repo

    def _workflow_ok(self, p: dict[str, str]) -> bool:
        """The path names this repository and its workflow (by id or file name)."""
        h = self.history
        return self._repo_ok(p) and p["workflow_id"] in (str(h.workflow_id), h.workflow_path.rsplit("/", 1)[-1])

    def _of_run(self, fn: Callable[[RoutingServer, SimRun, dict[str, str]], Reply]) -> Route:
        """A route of one run: `fn(server, run, query)`; 404 when the path names another repository or no run."""

        def route(srv: RoutingServer, r: SimRequest) -> Reply:
            p = r.params
            run = self.history.run(int(p["run_id"])) if p["run_id"].isdigit() else None
            if run is None or not self._repo_ok(p):
                return error(404, "Not Found")
            return fn(srv, run, r.query)

        return route

    def _workflow(self, srv: RoutingServer, r: SimRequest) -> Reply:
        if not self._workflow_ok(r.params):
            return error(404, "Not Found")
        return Reply(200, self.workflow_json(srv))

    def _runs(self, srv: RoutingServer, r: SimRequest) -> Reply:
        p, q = r.params, r.query
        h = self.history
        if not self._workflow_ok(p):
            return error(404, "Not Found")
        runs = h.runs
        status = q.get("status")
        if status in _STATUSES:
            runs = [r for r in runs if r.status == status]
        elif status:
            runs = [r for r in runs if r.conclusion == status]
        if q.get("branch"):
            runs = [r for r in runs if r.head_branch == q["branch"]]
        if q.get("event"):
            runs = [r for r in runs if r.event == q["event"]]
        path = f"/repos/{h.owner}/{h.repo}/actions/workflows/{p['workflow_id']}/runs"
        return srv.paginate(runs, q, path, "workflow_runs", lambda run: self.run_json(srv, run))

    def _run(self, srv: RoutingServer, run: SimRun, q: dict[str, str]) -> Reply:
        return Reply(200, self.run_json(srv, run))

    def _jobs(self, srv: RoutingServer, run: SimRun, q: dict[str, str]) -> Reply:
        jobs = run.jobs
        if q.get("filter", "latest") == "latest":
            jobs = [j for j in jobs if j.run_attempt == run.run_attempt]
        path = f"/repos/{self.history.owner}/{self.history.repo}/actions/runs/{run.id}/jobs"
        return srv.paginate(jobs, q, path, "jobs", lambda j: self.job_json(srv, run, j))

    def _artifacts(self, srv: RoutingServer, run: SimRun, q: dict[str, str]) -> Reply:
        arts = run.artifacts
        if q.get("name"):
            arts = [a for a in arts if a.name == q["name"]]
        arts = sorted(arts, key=lambda a: a.id, reverse=q.get("direction", "desc") == "desc")
        path = f"/repos/{self.history.owner}/{self.history.repo}/actions/runs/{run.id}/artifacts"
        return srv.paginate(arts, q, path, "artifacts", lambda a: self.artifact_json(srv, run, a))

    def _job_logs(self, srv: RoutingServer, r: SimRequest) -> Reply:
        p = r.params
        found = self.history.job(int(p["job_id"])) if p["job_id"].isdigit() else None
        if not self._repo_ok(p) or found is None:
            return error(404, "Not Found")
        return Reply(302, None, headers={"Location": f"{srv.blob_url}/blob/log/{found[1].id}?sig=s3cr3t&se=1"})

    def _artifact_zip(self, srv: RoutingServer, r: SimRequest) -> Reply:
        p = r.params
        found = self.history.artifact(int(p["artifact_id"])) if p["artifact_id"].isdigit() else None
        if not self._repo_ok(p) or found is None or p["archive_format"] != "zip":
            return error(404, "Not Found")
        if found[1].expired:
            return error(410, "Artifact has expired")
        return Reply(302, None, headers={"Location": f"{srv.blob_url}/blob/zip/{found[1].id}?sig=s3cr3t&se=1"})
