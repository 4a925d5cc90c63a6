"""GitHubTransport: every request the GitHub client makes, and the trust rules that go with it.

- The token goes per request to the API origin only (scheme, host and port of `api_url`; `release.http.same_origin`),
  and on github.com to its release-asset upload host. A blob (a log or an artifact zip behind a redirect) is
  fetched with a fresh request that carries no Authorization header.
- One wait loop (`_request`): rate limits (403/429 "rate limit", `Retry-After`, `x-ratelimit-remaining: 0` +
  `x-ratelimit-reset`) are waited out within a `WaitBudget` shared with the session's Retry, each wait reported
  through `on_event`; a wait longer than allowed, or past the run's total, raises RateLimitExceeded naming the
  limit, when it resets and what to do. Retries for 5xx and connection errors live in the session
  (urllib3 `Retry`, see `release.http`).
- One response check (`_check`): a status the caller did not expect raises AuthError (401/403 from a host the token
  went to, naming the token's variables and the permission) or GitHubStatusError naming the method, the URL path,
  what it was for and GitHub's message.
- Lists are paginated with `Link` headers (a `next` link to another origin is refused); JSON answers are cached by
  ETag (`If-None-Match`; a 304 costs no rate limit); downloads stream into a sink in chunks, never past a byte limit.
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

from release.config import Secret, variables_hint
from release.environment import CI_TOKEN_VARIABLES
from release.errors import AuthError, DownloadTooLarge, GitHubError, GitHubStatusError, RateLimitExceeded
from release.github_types import ByteSink, RateLimitWait
from release.http import WaitBudget, retry_after_seconds, same_origin

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
_MAX_RATE_LIMIT_WAITS = 50
CHUNK = 1 << 20  # bytes per streamed read of a download
_REDIRECTS = (301, 302, 303, 307, 308)


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


class GitHubTransport:
    def __init__(
        self,
        *,
        api_url: str,
        token: Secret | None,
        session: requests.Session,
        token_variable: str,
        role: TokenRole,
        cache: ResponseCache | None,
        on_event: Callable[[object], None],
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        wait_budget: WaitBudget,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._api_host = urlsplit(self.api_url).netloc
        self._token = token
        self._token_variable = token_variable
        self._role = role
        self._session = session
        self._cache = cache
        self._on_event = on_event
        self._sleep = sleep
        self._clock = clock
        self._blocked_until = 0.0
        self._block_reason = "rate limit"
        self._block_lock = threading.Lock()
        self._wait_budget = wait_budget
        self.stats = RequestStats()

    # ----------------------------------------------------------------------------------------- what clients call

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        return f"{self.api_url}{path}" + (f"?{query}" if query else "")

    def token_goes_to(self, url: str) -> bool:
        """The token goes to the API origin only (and, for github.com, to its release-asset upload host)."""
        if same_origin(url, self.api_url):
            return True
        return self._api_host == "api.github.com" and same_origin(url, "https://uploads.github.com/")

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        what: str,
        ok: tuple[int, ...],
        permission: str = "",
        json_body: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> requests.Response:
        """One request (no cache) whose status must be one of `ok`; `permission` is what a write needs."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        headers = self._api_headers(url)
        if content_type:
            headers["Content-Type"] = content_type
        resp = self._request(method, url, headers=headers, what=what, json_body=json_body, data=data)
        self._check(resp, ok, method, what=what, permission=permission)
        return resp

    def send_json(self, method: str, path_or_url: str, *, what: str, ok: tuple[int, ...], **kw: Any) -> Any:
        """`send`, then the answer's JSON body."""
        return self.json_of(self.send(method, path_or_url, what=what, ok=ok, **kw), what=what)

    def json_of(self, resp: requests.Response, *, what: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise GitHubError(
                f"{resp.request.method} {_path(resp.url or '')} ({what}): the answer is not JSON"
            ) from None

    def get_json(self, path: str, *, what: str, not_found: str | None = None) -> Any:
        body, _ = self._get_json_url(self.url(path), what=what, not_found=not_found)
        return body

    def paginate(self, path: str, params: Mapping[str, Any], *, what: str) -> Iterator[Any]:
        url: str | None = self.url(path, params)
        while url is not None:
            body, resp_links = self._get_json_url(url, what=what)
            yield body
            url = resp_links.get("next")
            if url is not None and not same_origin(url, self.api_url):
                raise GitHubError(
                    f"GET {_path(self.url(path))} ({what}): the next page is on {urlsplit(url).netloc or '?'}, not "
                    f"on {self._api_host}; refusing to follow it (check GITHUB_API_URL)"
                )

    def download(self, path: str, dest: ByteSink, *, max_bytes: int, what: str) -> int:
        """API request answered by a redirect to a blob; the blob is fetched without Authorization and streamed
        into `dest`."""
        url = self.url(path)
        resp = self._request("GET", url, headers=self._api_headers(url), what=what, allow_redirects=False, stream=True)
        if resp.status_code in _REDIRECTS:
            location = resp.headers.get("Location")
            _discard(resp)
            if not location:
                raise GitHubError(f"GET {_path(url)} ({what}): redirect without a Location header")
            resp = self._request("GET", urljoin(url, location), headers={}, what=what, blob=True, stream=True)
            if resp.status_code != 200:
                resp.close()  # a blob host's error body is not read (it could be anything, of any size)
                raise GitHubStatusError(f"GET blob for {what} answered {resp.status_code}", status=resp.status_code)
        try:
            self._check(resp, (200,), "GET", what=what)
        except GitHubError:
            resp.close()
            raise
        return _copy_body(resp, dest, max_bytes=max_bytes, what=what)

    # ----------------------------------------------------------------------------------------- the one loop

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        what: str,
        json_body: Any = None,
        data: bytes | None = None,
        allow_redirects: bool = True,
        stream: bool = False,
        blob: bool = False,
    ) -> requests.Response:
        """One logical request: waits out rate limits (reported through on_event) and sends again after them. A
        blob host's answer is returned as it is (its rate limits are not GitHub's API limits)."""
        path = _path(url)
        for _ in range(_MAX_RATE_LIMIT_WAITS):
            self._wait_if_blocked(path)
            try:
                resp = self._session.request(
                    method, url, headers=headers, json=json_body, data=data, allow_redirects=allow_redirects,
                    stream=stream,
                )  # fmt: skip
            except requests.RequestException as e:
                shown = f"blob for {what}" if blob else path
                again = "finished downloads are kept" if method == "GET" else "it picks up where it stopped"
                raise GitHubError(
                    f"{method} {shown} ({what}) failed after retries: {type(e).__name__}. Check the network and run "
                    f"the same command again; {again}"
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
            f"{method} {path} ({what}): still rate limited after {_MAX_RATE_LIMIT_WAITS} waits; try again later"
        )

    # ----------------------------------------------------------------------------------------- the one check

    def _check(
        self, resp: requests.Response, ok: tuple[int, ...], method: str, *, what: str, permission: str = ""
    ) -> None:
        """Return when the status is one of `ok`; otherwise raise the error that says what to do."""
        if resp.status_code in ok:
            return
        path = _path(resp.url) if resp.url else "?"
        need = permission or self._role.needs
        token_sent = bool(resp.url) and self.token_goes_to(resp.url)
        if resp.status_code == 401 and token_sent:
            if self._token is None:
                raise AuthError(
                    f"GitHub needs a token for {method} {path}: set {self._role.hint} to a token with {need}"
                )
            raise AuthError(
                f"GitHub rejected the token in {self._token_variable} (401 on {method} {path}): it is invalid or "
                f"expired; set {self._role.hint} to a valid token with {need}"
            )
        if resp.status_code == 403 and token_sent:
            raise AuthError(
                f"GitHub refused {method} {path} ({what}) with 403: the token in {self._token_variable} lacks a "
                f"permission; it needs {need}"
            )
        details = _error_details(resp)
        raise GitHubStatusError(
            f"{method} {path} ({what}) answered {resp.status_code}{details}", status=resp.status_code
        )

    # ----------------------------------------------------------------------------------------- JSON and its cache

    def _api_headers(self, url: str, accept: str = "application/vnd.github+json") -> dict[str, str]:
        headers = {"Accept": accept, "X-GitHub-Api-Version": API_VERSION}
        if self._token is not None and self.token_goes_to(url):
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return headers

    def _get_json_url(self, url: str, *, what: str, not_found: str | None = None) -> tuple[Any, dict[str, str]]:
        """GET a JSON document, conditionally when cached; returns (body, {rel: url} from the Link header)."""
        cached = self._cache.get(url) if self._cache is not None else None
        headers = self._api_headers(url)
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        resp = self._request("GET", url, headers=headers, what=what)
        if resp.status_code == 304 and cached is not None:
            self.stats.add(not_modified=1)
            return cached[1]["body"], cached[1]["links"]
        if resp.status_code == 404 and not_found is not None:
            raise GitHubError(not_found)
        self._check(resp, (200,), "GET", what=what)
        links = {rel: v["url"] for rel, v in resp.links.items() if "url" in v}
        body = self.json_of(resp, what=what)
        etag = resp.headers.get("ETag")
        if etag and self._cache is not None:
            self._cache.put(url, etag, {"body": body, "links": links})
        return body, links

    # ----------------------------------------------------------------------------------------- rate limits

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


def _error_details(resp: requests.Response) -> str:
    """`: message; error; error` from GitHub's error body (`message`, and `errors` of a validation failure)."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    errors = [
        str(e.get("message") or f"{e.get('field', '')} {e.get('code', '')}".strip())
        for e in body.get("errors") or ()
        if isinstance(e, dict)
    ] if isinstance(body.get("errors"), list) else []  # fmt: skip
    text = "; ".join(part for part in (str(body.get("message") or ""), *errors) if part)
    return f": {text}" if text else ""
