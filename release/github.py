"""GitHubClient: the kit's one client for the GitHub REST API.

- JSON endpoints go through `_get_json`: the token is sent per request to the API origin only (scheme, host and
  port of `api_url`; `release.http.same_origin`), lists are paginated with `Link` headers (a `next` link to
  another origin is refused), and answers are cached by ETag (`If-None-Match`; a 304 costs no rate limit).
- One client per token role (`TokenRole`): the wiring builds one that reads Models CI and one that writes this
  repository; error messages name the role's variables and permissions.
- Log and artifact downloads answer with a redirect to a blob host; the blob is fetched with a fresh request
  that carries no Authorization header, and streamed into a file in chunks, never past a byte limit.
- Retries for 5xx and connection errors live in the session (urllib3 `Retry`, see `release.http`). Rate limits
  (403/429 "rate limit", `Retry-After`, `x-ratelimit-remaining: 0` + `x-ratelimit-reset`) are waited out here,
  and every wait is reported through `on_event` so the task can show it. Waits are bounded by a `WaitBudget`
  (shared with the session's Retry): a wait longer than allowed, or past the run's total, raises
  RateLimitExceeded naming the limit, when it resets and what to do.
- Every other unexpected status raises `GitHubError` naming the method, the URL path and what it was for.

Values come out as frozen dataclasses. New endpoint families (pulls, releases, refs) are added as methods that
use `_get_json` / `_request` / `_paginate`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import requests

from release.config import CI_TOKEN_VARIABLES, Secret, variables_hint
from release.errors import AuthError, DownloadTooLarge, GitHubError, GitHubStatusError, RateLimitExceeded
from release.github_types import (
    Artifact,
    ByteSink,
    CommitInfo,
    GitRef,
    Job,
    PullRequest,
    RateLimitWait,
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
from release.http import WaitBudget, retry_after_seconds, same_origin

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
PER_PAGE = 100
_MAX_RATE_LIMIT_WAITS = 50
CHUNK = 1 << 20  # bytes per streamed read of a download


# --------------------------------------------------------------------------------------------------- events


@dataclass
class RequestStats:
    api: int = 0
    not_modified: int = 0
    blob: int = 0
    rate_limit_waits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, api: int = 0, not_modified: int = 0, blob: int = 0, waits: int = 0) -> None:
        with self._lock:
            self.api += api
            self.not_modified += not_modified
            self.blob += blob
            self.rate_limit_waits += waits


@dataclass(frozen=True)
class TokenRole:
    """What a client's token is for, for error messages: its variables (in order) and the permissions it needs."""

    variables: tuple[str, ...] = CI_TOKEN_VARIABLES
    needs: str = "Actions: read and Metadata: read on the CI repo (classic token: repo scope)"

    @property
    def hint(self) -> str:
        """The variables as messages name them: `GH_PAT (or GITHUB_TOKEN)`."""
        return variables_hint(self.variables)


class ResponseCache(Protocol):
    """Stores JSON answers by URL with their ETag, for conditional requests."""

    def get(self, key: str) -> tuple[str, Any] | None: ...

    def put(self, key: str, etag: str, body: Any) -> None: ...


# --------------------------------------------------------------------------------------------------- client


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
        self.api_url = api_url.rstrip("/")
        self._api_host = urlsplit(self.api_url).netloc
        self._token = token
        self._token_variable = token_variable
        self._role = role or TokenRole()
        self._session = session
        self._cache = cache
        self._on_event = on_event or (lambda event: None)
        self._sleep = sleep
        self._clock = clock
        self._blocked_until = 0.0
        self._block_reason = "rate limit"
        self._block_lock = threading.Lock()
        self._wait_budget = wait_budget or WaitBudget()
        self.stats = RequestStats()

    # ----------------------------------------------------------------------------------------- Actions

    def get_workflow(self, repo: RepoRef, workflow_file: str) -> Workflow:
        path = f"{repo.path}/actions/workflows/{workflow_file}"
        body = self._get_json(
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
        for page in self._paginate(path, params, what=f"runs of workflow {workflow_id}"):
            yield from runs_page(page)

    def get_run(self, repo: RepoRef, run_id: int) -> WorkflowRun:
        body = self._get_json(
            f"{repo.path}/actions/runs/{run_id}",
            what=f"run {run_id}",
            not_found=f"run {run_id} not found in {repo}: check --run-id (the number in the run's URL)",
        )
        return WorkflowRun.from_api(body)

    def list_jobs(self, repo: RepoRef, run_id: int, *, filter: str = "latest") -> list[Job]:
        path = f"{repo.path}/actions/runs/{run_id}/jobs"
        params = {"filter": filter, "per_page": PER_PAGE}
        return [j for page in self._paginate(path, params, what=f"jobs of run {run_id}") for j in jobs_page(page)]

    def list_artifacts(self, repo: RepoRef, run_id: int, *, name: str | None = None) -> list[Artifact]:
        """All artifacts of a run (every page); `name` is GitHub's exact-name filter."""
        path = f"{repo.path}/actions/runs/{run_id}/artifacts"
        params = {"name": name, "per_page": PER_PAGE}
        pages = self._paginate(path, params, what=f"artifacts of run {run_id}")
        return [a for page in pages for a in artifacts_page(page)]

    def download_job_log(self, repo: RepoRef, job_id: int, dest: ByteSink, *, max_bytes: int, what: str = "") -> int:
        """Stream a job log into `dest`; returns its size. Past `max_bytes`: DownloadTooLarge (dest holds the
        first `max_bytes`)."""
        path = f"{repo.path}/actions/jobs/{job_id}/logs"
        return self._download(path, dest, max_bytes=max_bytes, what=what or f"log of job {job_id}")

    def download_artifact(
        self, repo: RepoRef, artifact: Artifact, dest: ByteSink, *, max_bytes: int, what: str = ""
    ) -> int:
        """Stream an artifact zip into `dest`; returns its size. Past `max_bytes`: DownloadTooLarge."""
        path = f"{repo.path}/actions/artifacts/{artifact.id}/zip"
        return self._download(path, dest, max_bytes=max_bytes, what=what or f"artifact {artifact.name}")

    # ----------------------------------------------------------------------------------------- pulls

    def list_pulls(self, repo: RepoRef, *, head: str, base: str, state: str = "all") -> list[PullRequest]:
        """PRs from `head` (`owner:branch`) into `base`, every page; state: open, closed or all."""
        params = {"head": head, "base": base, "state": state, "per_page": PER_PAGE}
        what = f"PRs {head} → {base}"
        return [PullRequest.from_api(p) for page in self._paginate(f"{repo.path}/pulls", params, what=what)
                for p in list_page(page, "pull requests")]  # fmt: skip

    def get_pull(self, repo: RepoRef, number: int) -> PullRequest:
        body = self._get_json(f"{repo.path}/pulls/{number}", what=f"PR #{number}",
                              not_found=f"PR #{number} not found in {repo}: check the number")  # fmt: skip
        return PullRequest.from_api(body)

    def pull_merged(self, repo: RepoRef, number: int) -> bool:
        """GitHub's "is merged" check: 204 merged, 404 not merged."""
        resp = self._send("GET", f"{repo.path}/pulls/{number}/merge", what=f"merge state of PR #{number}")
        self._check_sent(resp, (204, 404), "GET", what=f"merge state of PR #{number}")
        return resp.status_code == 204

    def create_pull(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        what = f"open PR {head} → {base}"
        payload = {"head": head, "base": base, "title": title, "body": body, "draft": draft}
        resp = self._send("POST", f"{repo.path}/pulls", what=what, json_body=payload)
        self._check_sent(resp, (201,), "POST", what=what, permission="Pull requests: write")
        return PullRequest.from_api(resp.json())

    def update_pull(self, repo: RepoRef, number: int, *, title: str, body: str) -> PullRequest:
        what = f"update PR #{number}"
        resp = self._send("PATCH", f"{repo.path}/pulls/{number}", what=what, json_body={"title": title, "body": body})
        self._check_sent(resp, (200,), "PATCH", what=what, permission="Pull requests: write")
        return PullRequest.from_api(resp.json())

    # ----------------------------------------------------------------------------------------- git data

    def get_commit(self, repo: RepoRef, ref: str) -> CommitInfo:
        """A commit with its parents (a merge commit has two)."""
        return CommitInfo.from_api(self._get_json(f"{repo.path}/commits/{ref}", what=f"commit {ref}"))

    def get_ref(self, repo: RepoRef, ref: str) -> GitRef | None:
        """`heads/main` or `tags/v1.0.0`; None when GitHub does not have it."""
        resp = self._send("GET", f"{repo.path}/git/ref/{ref}", what=f"ref {ref}")
        self._check_sent(resp, (200, 404), "GET", what=f"ref {ref}")
        return GitRef.from_api(resp.json()) if resp.status_code == 200 else None

    # ----------------------------------------------------------------------------------------- releases

    def list_releases(self, repo: RepoRef) -> list[Release]:
        """Every release, drafts included (GitHub shows drafts to users who can push)."""
        params = {"per_page": PER_PAGE}
        return [Release.from_api(r) for page in self._paginate(f"{repo.path}/releases", params, what="releases")
                for r in list_page(page, "releases")]  # fmt: skip

    def find_release(self, repo: RepoRef, tag: str) -> Release | None:
        """The release of `tag`, draft or not (`GET /releases/tags/{tag}` would not show a draft)."""
        return next((r for r in self.list_releases(repo) if r.tag_name == tag), None)

    def create_release(
        self, repo: RepoRef, *, tag: str, target: str, name: str, body: str, draft: bool = True
    ) -> Release:
        what = f"create release {tag}"
        payload = {"tag_name": tag, "target_commitish": target, "name": name, "body": body, "draft": draft}
        resp = self._send("POST", f"{repo.path}/releases", what=what, json_body=payload)
        self._check_sent(resp, (201,), "POST", what=what, permission="Contents: write")
        return Release.from_api(resp.json())

    def update_release(
        self, repo: RepoRef, release_id: int, *, name: str, body: str, draft: bool | None = None
    ) -> Release:
        """New name and notes; `draft=False` publishes a draft."""
        what = f"update release {release_id}"
        payload: dict[str, Any] = {"name": name, "body": body}
        if draft is not None:
            payload["draft"] = draft
        resp = self._send("PATCH", f"{repo.path}/releases/{release_id}", what=what, json_body=payload)
        self._check_sent(resp, (200,), "PATCH", what=what, permission="Contents: write")
        return Release.from_api(resp.json())

    def upload_release_asset(
        self, release: Release, *, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> ReleaseAsset:
        """Upload to the release's `upload_url` (uploads.github.com on github.com)."""
        base = release.upload_url.split("{", 1)[0]
        if not self._token_goes_to(base):
            raise GitHubError(f"release {release.tag_name}: upload URL host {urlsplit(base).netloc} is not GitHub's; "
                              "refusing to send the token there")  # fmt: skip
        what = f"upload {name} to release {release.tag_name}"
        resp = self._send("POST", base + "?" + urlencode({"name": name}), what=what, data=data,
                          content_type=content_type)  # fmt: skip
        self._check_sent(resp, (201,), "POST", what=what, permission="Contents: write")
        return ReleaseAsset.from_api(resp.json())

    def delete_release_asset(self, repo: RepoRef, asset_id: int) -> None:
        what = f"delete release asset {asset_id}"
        resp = self._send("DELETE", f"{repo.path}/releases/assets/{asset_id}", what=what)
        self._check_sent(resp, (204,), "DELETE", what=what, permission="Contents: write")

    # ----------------------------------------------------------------------------------------- plumbing

    def _url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        return f"{self.api_url}{path}" + (f"?{query}" if query else "")

    def _token_goes_to(self, url: str) -> bool:
        """The token goes to the API origin only (and, for github.com, to its release-asset upload host)."""
        if same_origin(url, self.api_url):
            return True
        return self._api_host == "api.github.com" and same_origin(url, "https://uploads.github.com/")

    def _api_headers(self, url: str, accept: str = "application/vnd.github+json") -> dict[str, str]:
        headers = {"Accept": accept, "X-GitHub-Api-Version": API_VERSION}
        if self._token is not None and self._token_goes_to(url):
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return headers

    def _paginate(self, path: str, params: Mapping[str, Any], *, what: str) -> Iterator[Any]:
        url: str | None = self._url(path, params)
        while url is not None:
            body, resp_links = self._get_json_url(url, what=what)
            yield body
            url = resp_links.get("next")
            if url is not None and not same_origin(url, self.api_url):
                raise GitHubError(
                    f"GET {_path(self._url(path))} ({what}): the next page is on {urlsplit(url).netloc or '?'}, not "
                    f"on {self._api_host}; refusing to follow it (check GITHUB_API_URL)"
                )

    def _get_json(self, path: str, *, what: str, not_found: str | None = None) -> Any:
        body, _ = self._get_json_url(self._url(path), what=what, not_found=not_found)
        return body

    def _get_json_url(self, url: str, *, what: str, not_found: str | None = None) -> tuple[Any, dict[str, str]]:
        """GET a JSON document, conditionally when cached; returns (body, {rel: url} from the Link header)."""
        cached = self._cache.get(url) if self._cache is not None else None
        headers = self._api_headers(url)
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        resp = self._request(url, headers=headers, what=what)
        if resp.status_code == 304 and cached is not None:
            self.stats.add(not_modified=1)
            body = cached[1]["body"]
            links = cached[1]["links"]
            return body, links
        if resp.status_code == 404 and not_found is not None:
            raise GitHubError(not_found)
        self._check(resp, (200,), what=what)
        links = {rel: v["url"] for rel, v in resp.links.items() if "url" in v}
        try:
            body = resp.json()
        except ValueError:
            raise GitHubError(f"GET {_path(url)} ({what}): the answer is not JSON") from None
        etag = resp.headers.get("ETag")
        if etag and self._cache is not None:
            self._cache.put(url, etag, {"body": body, "links": links})
        return body, links

    def _download(self, path: str, dest: ByteSink, *, max_bytes: int, what: str) -> int:
        """API request answered by a redirect to a blob; the blob is fetched without Authorization and streamed
        into `dest`."""
        url = self._url(path)
        resp = self._request(url, headers=self._api_headers(url), what=what, allow_redirects=False, stream=True)
        if resp.status_code in (301, 302, 303, 307, 308):
            location = resp.headers.get("Location")
            _discard(resp)
            if not location:
                raise GitHubError(f"GET {_path(url)} ({what}): redirect without a Location header")
            location = urljoin(url, location)
            resp = self._request(location, headers={}, what=what, blob=True, stream=True)
            if resp.status_code != 200:
                resp.close()  # a blob host's error body is not read (it could be anything, of any size)
                raise GitHubStatusError(f"GET blob for {what} answered {resp.status_code}", status=resp.status_code)
        try:
            self._check(resp, (200,), what=what)
        except GitHubError:
            resp.close()
            raise
        return _copy_body(resp, dest, max_bytes=max_bytes, what=what)

    def _request(
        self,
        url: str,
        *,
        headers: dict[str, str],
        what: str,
        allow_redirects: bool = True,
        blob: bool = False,
        stream: bool = False,
    ) -> requests.Response:
        """One logical GET: waits out rate limits (reported through on_event) and retries after them."""
        path = _path(url)
        for _ in range(_MAX_RATE_LIMIT_WAITS):
            self._wait_if_blocked(path)
            try:
                resp = self._session.get(url, headers=headers, allow_redirects=allow_redirects, stream=stream)
            except requests.RequestException as e:
                shown = path if not blob else f"blob for {what}"
                raise GitHubError(
                    f"GET {shown} ({what}) failed after retries: {type(e).__name__}. Check the network and run "
                    "the same command again; finished downloads are kept"
                ) from None
            if blob:
                self.stats.add(blob=1)
                return resp
            self.stats.add(api=1)
            wait = self._rate_limit_wait(resp)
            if wait is None:
                self._note_remaining(resp)
                return resp
            seconds, reason = wait
            resp.close()
            self.stats.add(waits=1)
            self._block(seconds, reason)
            log.info("rate limited (%s) on %s; waiting %.0fs", reason, path, seconds)
        raise GitHubError(
            f"GET {path} ({what}): still rate limited after {_MAX_RATE_LIMIT_WAITS} waits; try again later"
        )

    def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        what: str,
        json_body: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> requests.Response:
        """One request of any method (no cache): waits out rate limits like `_request`, returns the answer."""
        url = path_or_url if "://" in path_or_url else self._url(path_or_url)
        headers = self._api_headers(url)
        if content_type:
            headers["Content-Type"] = content_type
        path = _path(url)
        for _ in range(_MAX_RATE_LIMIT_WAITS):
            self._wait_if_blocked(path)
            try:
                resp = self._session.request(method, url, headers=headers, json=json_body, data=data)
            except requests.RequestException as e:
                raise GitHubError(
                    f"{method} {path} ({what}) failed after retries: {type(e).__name__}. Check the network and run "
                    "the same command again: it picks up where it stopped"
                ) from None
            self.stats.add(api=1)
            wait = self._rate_limit_wait(resp)
            if wait is None:
                self._note_remaining(resp)
                return resp
            resp.close()
            self.stats.add(waits=1)
            self._block(wait[0], wait[1])
        raise GitHubError(f"{method} {path} ({what}): still rate limited after {_MAX_RATE_LIMIT_WAITS} waits")

    def _check_sent(
        self, resp: requests.Response, ok: tuple[int, ...], method: str, *, what: str, permission: str = ""
    ) -> None:
        if resp.status_code in ok:
            return
        path = _path(resp.url) if resp.url else "?"
        need = permission or "read access"
        if resp.status_code == 401:
            raise AuthError(
                f"GitHub rejected the token in {self._token_variable} ({method} {path}: 401): set "
                f"{self._role.hint} to a valid token with {need} on the project repository"
            )
        if resp.status_code == 403:
            raise AuthError(
                f"GitHub refused {method} {path} ({what}) with 403: the token in {self._token_variable} needs "
                f"{need} on the project repository"
            )
        details = ""
        try:
            body = resp.json()
            if isinstance(body, dict):
                errors = [e.get("message") or f"{e.get('field', '')} {e.get('code', '')}".strip()
                          for e in body.get("errors") or () if isinstance(e, dict)]  # fmt: skip
                details = ": " + "; ".join([str(body.get("message") or ""), *errors]).strip("; ")
        except ValueError:
            pass
        raise GitHubStatusError(
            f"{method} {path} ({what}) answered {resp.status_code}{details}", status=resp.status_code
        )

    def _block(self, seconds: float, reason: str) -> None:
        with self._block_lock:
            until = self._clock() + seconds
            if until > self._blocked_until:
                self._blocked_until, self._block_reason = until, reason

    def _wait_if_blocked(self, path: str) -> None:
        """Sleep until the rate limit lifts, within the wait budget; beyond it, fail with RateLimitExceeded."""
        with self._block_lock:
            until, reason = self._blocked_until, self._block_reason
        delay = until - self._clock()
        if delay <= 0:
            return
        refused = self._wait_budget.take(delay)
        if refused is not None:
            raise RateLimitExceeded(self._wait_refused(refused, delay, until, reason, path))
        self._on_event(RateLimitWait(seconds=delay, reason=reason, path=path))
        self._sleep(delay)

    def _wait_refused(self, refused: str, delay: float, until: float, reason: str, path: str) -> str:
        limit = {
            "primary": f"API rate limit of the token in {self._token_variable} is used up",
            "secondary": "secondary rate limit (too many requests at once) is hit",
        }.get(reason, "server asks the kit to slow down (Retry-After)")
        resets = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(min(until, 253402300799)))
        budget = self._wait_budget
        if refused == "per-wait":
            why = f"it asks for a wait of {_duration(delay)} and the kit waits at most {_duration(budget.per_wait)}"
        else:
            why = (
                f"this run has already waited {_duration(budget.spent)} of its {_duration(budget.total)} budget for "
                f"rate limits and {_duration(delay)} more are asked"
            )
        advice = "; a lower --concurrency makes it less likely" if reason == "secondary" else ""
        return (
            f"GitHub's {limit} (before GET {path}): {why}. It lifts at {resets}; run the same command again "
            f"after that (finished downloads are kept){advice}"
        )

    def _rate_limit_wait(self, resp: requests.Response) -> tuple[float, str] | None:
        if resp.status_code not in (403, 429):
            return None
        retry_after = resp.headers.get("Retry-After")
        remaining = resp.headers.get("x-ratelimit-remaining")
        reset = resp.headers.get("x-ratelimit-reset")
        text = resp.text.lower() if resp.headers.get("Content-Type", "").startswith("application/json") else ""
        if retry_after is not None:
            seconds = retry_after_seconds(retry_after, now=self._clock())
            return (60.0 if seconds is None else seconds), "secondary"
        if remaining == "0" and reset is not None:
            return self._until_reset(reset), "primary"
        if resp.status_code == 429 or "rate limit" in text:
            return 60.0, "secondary"
        return None

    def _until_reset(self, reset: str) -> float:
        try:
            seconds = float(reset) - self._clock()
        except ValueError:
            return 60.0
        return max(seconds, 0.0) + 1.0 if math.isfinite(seconds) else math.inf

    def _note_remaining(self, resp: requests.Response) -> None:
        """Primary limit used up by this answer: hold the next request until the reset."""
        if resp.headers.get("x-ratelimit-remaining") == "0" and resp.headers.get("x-ratelimit-reset"):
            self._block(self._until_reset(resp.headers["x-ratelimit-reset"]), "primary")

    def _check(self, resp: requests.Response, ok: tuple[int, ...], *, what: str) -> None:
        if resp.status_code in ok:
            return
        path = _path(resp.url) if resp.url else "?"
        host = urlsplit(resp.url).netloc if resp.url else ""
        if resp.status_code == 401 and host == self._api_host:
            if self._token is None:
                raise AuthError(
                    f"GitHub needs a token for GET {path}: set {self._role.hint} to a token with {self._role.needs}"
                )
            raise AuthError(
                f"GitHub rejected the token in {self._token_variable} (401 on GET {path}): it is invalid or "
                f"expired; create a token with {self._role.needs}"
            )
        if resp.status_code == 403 and host == self._api_host:
            raise AuthError(
                f"GitHub refused GET {path} ({what}) with 403: the token in {self._token_variable} lacks a "
                f"permission; it needs {self._role.needs}"
            )
        message = _error_message(resp)
        raise GitHubStatusError(f"GET {path} ({what}) answered {resp.status_code}{message}", status=resp.status_code)


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 180:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _discard(resp: requests.Response) -> None:
    """Close a streamed answer; a small body is read first so that its connection goes back to the pool."""
    declared = resp.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) <= 65_536:
        with contextlib.suppress(requests.RequestException):
            _ = resp.content
    resp.close()


def _copy_body(resp: requests.Response, dest: ByteSink, *, max_bytes: int, what: str) -> int:
    """Stream an answer's body into `dest` in chunks; never more than `max_bytes` (then DownloadTooLarge)."""
    too_large = DownloadTooLarge(f"{what}: the download is larger than {max_bytes} bytes", limit=max_bytes)
    written = 0
    try:
        declared = resp.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise too_large
        for chunk in resp.iter_content(chunk_size=CHUNK):
            if written + len(chunk) > max_bytes:
                dest.write(chunk[: max_bytes - written])
                raise too_large
            dest.write(chunk)
            written += len(chunk)
    except requests.RequestException as e:
        raise GitHubError(
            f"{what}: the download broke off after {written} bytes ({type(e).__name__}); run the same command "
            "again, finished downloads are kept"
        ) from None
    finally:
        resp.close()
    return written


def _error_message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and body.get("message"):
        return f": {body['message']}"
    return ""
