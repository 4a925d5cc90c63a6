"""GitHubClient: the kit's one client for the GitHub REST API — the endpoints the kit uses, answers as frozen
values (`release.github_types`).

- One client per token role (`TokenRole`): the wiring builds one that reads Models CI and one that writes this
  repository; error messages name the role's variables and permissions.
- Every request goes through `release.github.transport.GitHubTransport` (the token to the API origin only, one wait
  loop for rate limits, one response check, pagination, the ETag cache, streamed downloads with byte limits).

A new endpoint is a method here over `get_json` / `paginate` / `send` / `download`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from release.config import Secret
from release.errors import GitHubError, GitHubStatusError
from release.github.transport import GitHubTransport, RequestStats, ResponseCache, TokenRole
from release.github_types import (
    Artifact,
    ByteSink,
    CommitInfo,
    GitRef,
    Job,
    PackageVersion,
    PullRequest,
    Release,
    ReleaseAsset,
    RepoRef,
    Workflow,
    WorkflowRun,
    artifacts_page,
    jobs_page,
    list_page,
    runs_page,
)
from release.http import WaitBudget

PER_PAGE = 100
# What a write needs, named in the error when GitHub refuses it.
_PULLS = "Pull requests: write on the repository"
_RELEASES = "Contents: write on the repository"
_PACKAGES = (
    "admin permission on the package (GITHUB_TOKEN: the repository's Admin role in the package's Manage Actions "
    "access; a classic token: read:packages and delete:packages of a package admin)"
)


class GitHubClient:
    def __init__(
        self,
        *,
        api_url: str,
        token: Secret | None,
        session: requests.Session,
        token_variable: str = "GH_PAT",
        role: TokenRole | None = None,
        cache: ResponseCache | None = None,
        on_event: Callable[[object], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        wait_budget: WaitBudget | None = None,
    ) -> None:
        self._http = GitHubTransport(
            api_url=api_url,
            token=token,
            session=session,
            token_variable=token_variable,
            role=role or TokenRole(),
            cache=cache,
            on_event=on_event or (lambda event: None),
            sleep=sleep,
            clock=clock,
            wait_budget=wait_budget or WaitBudget(),
        )
        self._token_variable = token_variable
        self.api_url = self._http.api_url

    @property
    def stats(self) -> RequestStats:
        return self._http.stats

    # ----------------------------------------------------------------------------------------- Actions

    def get_workflow(self, repo: RepoRef, workflow_file: str) -> Workflow:
        path = f"{repo.path}/actions/workflows/{workflow_file}"
        body = self._http.get_json(
            path,
            what=f"workflow {workflow_file} of {repo}",
            not_found=(
                f"workflow {workflow_file!r} not found in {repo}: check --owner/--repo/--workflow-file, and that the "
                f"token in {self._token_variable} can read {repo} (GitHub answers 404 for private repos it cannot see)"
            ),
        )
        return Workflow.from_api(body)

    def iter_workflow_runs(
        self,
        repo: RepoRef,
        workflow_id: int,
        *,
        status: str | None = "completed",
        branch: str | None = None,
        event: str | None = None,
    ) -> Iterator[WorkflowRun]:
        """Runs of one workflow, newest first, page after page (stop iterating to stop fetching)."""
        params = {"status": status, "branch": branch, "event": event, "per_page": PER_PAGE}
        path = f"{repo.path}/actions/workflows/{workflow_id}/runs"
        for page in self._http.paginate(path, params, what=f"runs of workflow {workflow_id}"):
            yield from runs_page(page)

    def get_run(self, repo: RepoRef, run_id: int) -> WorkflowRun:
        not_found = f"run {run_id} not found in {repo}: check --run-id (the number in the run's URL)"
        return WorkflowRun.from_api(self._http.get_json(f"{repo.path}/actions/runs/{run_id}", what=f"run {run_id}",
                                                        not_found=not_found))  # fmt: skip

    def list_jobs(self, repo: RepoRef, run_id: int, *, filter: str = "latest") -> list[Job]:
        path = f"{repo.path}/actions/runs/{run_id}/jobs"
        params = {"filter": filter, "per_page": PER_PAGE}
        return [j for page in self._http.paginate(path, params, what=f"jobs of run {run_id}") for j in jobs_page(page)]

    def list_artifacts(self, repo: RepoRef, run_id: int, *, name: str | None = None) -> list[Artifact]:
        """All artifacts of a run (every page); `name` is GitHub's exact-name filter."""
        path = f"{repo.path}/actions/runs/{run_id}/artifacts"
        params = {"name": name, "per_page": PER_PAGE}
        pages = self._http.paginate(path, params, what=f"artifacts of run {run_id}")
        return [a for page in pages for a in artifacts_page(page)]

    def download_job_log(self, repo: RepoRef, job_id: int, dest: ByteSink, *, max_bytes: int, what: str = "") -> int:
        """Stream a job log into `dest`; returns its size. Past `max_bytes`: DownloadTooLarge (dest holds the
        first `max_bytes`)."""
        path = f"{repo.path}/actions/jobs/{job_id}/logs"
        return self._http.download(path, dest, max_bytes=max_bytes, what=what or f"log of job {job_id}")

    def download_artifact(
        self, repo: RepoRef, artifact: Artifact, dest: ByteSink, *, max_bytes: int, what: str = ""
    ) -> int:
        """Stream an artifact zip into `dest`; returns its size. Past `max_bytes`: DownloadTooLarge."""
        path = f"{repo.path}/actions/artifacts/{artifact.id}/zip"
        return self._http.download(path, dest, max_bytes=max_bytes, what=what or f"artifact {artifact.name}")

    # ----------------------------------------------------------------------------------------- pulls

    def list_pulls(self, repo: RepoRef, *, head: str, base: str, state: str = "all") -> list[PullRequest]:
        """PRs from `head` (`owner:branch`) into `base`, every page; state: open, closed or all."""
        params = {"head": head, "base": base, "state": state, "per_page": PER_PAGE}
        what = f"PRs {head} → {base}"
        return [
            PullRequest.from_api(p)
            for page in self._http.paginate(f"{repo.path}/pulls", params, what=what)
            for p in list_page(page, "pull requests")
        ]

    def get_pull(self, repo: RepoRef, number: int) -> PullRequest:
        not_found = f"PR #{number} not found in {repo}: check the number"
        body = self._http.get_json(f"{repo.path}/pulls/{number}", what=f"PR #{number}", not_found=not_found)
        return PullRequest.from_api(body)

    def pull_merged(self, repo: RepoRef, number: int) -> bool:
        """GitHub's "is merged" check: 204 merged, 404 not merged."""
        what = f"merge state of PR #{number}"
        return self._http.send("GET", f"{repo.path}/pulls/{number}/merge", what=what, ok=(204, 404)).status_code == 204

    def create_pull(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        payload = {"head": head, "base": base, "title": title, "body": body, "draft": draft}
        what = f"open PR {head} → {base}"
        return PullRequest.from_api(self._write("POST", f"{repo.path}/pulls", payload, what, _PULLS))

    def update_pull(self, repo: RepoRef, number: int, *, title: str, body: str) -> PullRequest:
        payload = {"title": title, "body": body}
        what = f"update PR #{number}"
        return PullRequest.from_api(self._write("PATCH", f"{repo.path}/pulls/{number}", payload, what, _PULLS))

    # ----------------------------------------------------------------------------------------- git data

    def get_commit(self, repo: RepoRef, ref: str) -> CommitInfo:
        """A commit with its parents (a merge commit has two)."""
        return CommitInfo.from_api(self._http.get_json(f"{repo.path}/commits/{ref}", what=f"commit {ref}"))

    def get_ref(self, repo: RepoRef, ref: str) -> GitRef | None:
        """`heads/main` or `tags/v1.0.0`; None when GitHub does not have it."""
        resp = self._http.send("GET", f"{repo.path}/git/ref/{ref}", what=f"ref {ref}", ok=(200, 404))
        return GitRef.from_api(self._http.json_of(resp, what=f"ref {ref}")) if resp.status_code == 200 else None

    # ----------------------------------------------------------------------------------------- releases

    def list_releases(self, repo: RepoRef) -> list[Release]:
        """Every release, drafts included (GitHub shows drafts to users who can push)."""
        params = {"per_page": PER_PAGE}
        return [
            Release.from_api(r)
            for page in self._http.paginate(f"{repo.path}/releases", params, what="releases")
            for r in list_page(page, "releases")
        ]

    def find_release(self, repo: RepoRef, tag: str) -> Release | None:
        """The release of `tag`, draft or not (`GET /releases/tags/{tag}` would not show a draft)."""
        return next((r for r in self.list_releases(repo) if r.tag_name == tag), None)

    def create_release(
        self, repo: RepoRef, *, tag: str, target: str, name: str, body: str, draft: bool = True
    ) -> Release:
        payload = {"tag_name": tag, "target_commitish": target, "name": name, "body": body, "draft": draft}
        return Release.from_api(
            self._write("POST", f"{repo.path}/releases", payload, f"create release {tag}", _RELEASES)
        )

    def update_release(
        self, repo: RepoRef, release_id: int, *, name: str, body: str, draft: bool | None = None
    ) -> Release:
        """New name and notes; `draft=False` publishes a draft."""
        payload: dict[str, Any] = {"name": name, "body": body}
        if draft is not None:
            payload["draft"] = draft
        path, what = f"{repo.path}/releases/{release_id}", f"update release {release_id}"
        return Release.from_api(self._write("PATCH", path, payload, what, _RELEASES))

    def upload_release_asset(
        self, release: Release, *, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> ReleaseAsset:
        """Upload to the release's `upload_url` (uploads.github.com on github.com)."""
        base = release.upload_url.split("{", 1)[0]
        if not self._http.token_goes_to(base):
            raise GitHubError(
                f"release {release.tag_name}: upload URL host {urlsplit(base).netloc} is not GitHub's; "
                "refusing to send the token there"
            )
        what = f"upload {name} to release {release.tag_name}"
        query = urlencode({"name": name})
        answer = self._http.send_json("POST", f"{base}?{query}", what=what, ok=(201,), permission=_RELEASES, data=data,
                                      content_type=content_type)  # fmt: skip
        return ReleaseAsset.from_api(answer)

    def delete_release_asset(self, repo: RepoRef, asset_id: int) -> None:
        what = f"delete release asset {asset_id}"
        self._http.send("DELETE", f"{repo.path}/releases/assets/{asset_id}", what=what, ok=(204,), permission=_RELEASES)

    # ----------------------------------------------------------------------------------------- undo of a run

    def comment(self, repo: RepoRef, number: int, body: str) -> None:
        """A comment on issue or PR `number`."""
        self._write("POST", f"{repo.path}/issues/{number}/comments", {"body": body}, f"comment on #{number}", _PULLS)

    def close_pull(self, repo: RepoRef, number: int) -> PullRequest:
        what = f"close PR #{number}"
        return PullRequest.from_api(
            self._write("PATCH", f"{repo.path}/pulls/{number}", {"state": "closed"}, what, _PULLS)
        )

    def delete_release(self, repo: RepoRef, release_id: int) -> bool:
        """Delete a release (its tag stays); False when it was already gone."""
        path, what = f"{repo.path}/releases/{release_id}", f"delete release {release_id}"
        return self._http.send("DELETE", path, what=what, ok=(204, 404), permission=_RELEASES).status_code == 204

    def list_package_versions(self, org: str, package: str) -> list[PackageVersion]:
        """Every version of the container package `org/package` (ghcr.io/ORG/PACKAGE); [] when there is none."""
        what = f"versions of package {org}/{package}"
        try:
            pages = list(
                self._http.paginate(_package_path(org, package) + "/versions", {"per_page": PER_PAGE}, what=what)
            )
        except GitHubStatusError as e:
            if e.status == 404:
                return []
            raise
        return [PackageVersion.from_api(v) for page in pages for v in list_page(page, "package versions")]

    def delete_package_version(self, org: str, package: str, version_id: int) -> bool:
        """Delete one version of a container package (every tag on it goes with it); False when already gone."""
        path = f"{_package_path(org, package)}/versions/{version_id}"
        what = f"delete version {version_id} of package {org}/{package}"
        return self._http.send("DELETE", path, what=what, ok=(204, 404), permission=_PACKAGES).status_code == 204

    def _write(self, method: str, path: str, payload: Any, what: str, permission: str) -> Any:
        """A JSON write (POST creates: 201; PATCH changes: 200); GitHub's JSON answer."""
        ok = (201,) if method == "POST" else (200,)
        return self._http.send_json(method, path, what=what, ok=ok, permission=permission, json_body=payload)


def _package_path(org: str, package: str) -> str:
    """A container package's API path: its name is the repository path under the org, URL-encoded (`a/b` → `a%2Fb`)."""
    return f"/orgs/{quote(org, safe='')}/packages/container/{quote(package, safe='')}"
