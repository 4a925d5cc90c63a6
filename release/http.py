"""HTTP sessions: retries in the adapter (urllib3 Retry honouring Retry-After within a WaitBudget), timeouts, a
user agent.

The rule for credentials, in one place: an `Authorization` header goes only to the origin (scheme, host, port)
it was issued for. `same_origin(url, issued_for)` is what the GitHub and registry clients ask before adding
one; on a redirect the session drops it whenever the origin changes (requests itself would keep it on an
http → https upgrade and re-add credentials from ~/.netrc), and a redirect from https to plain http is refused
unless it stays on a loopback host.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from release import __version__
from release.imageref import is_loopback_host

USER_AGENT = f"tt-release-kit/{__version__}"
DEFAULT_TIMEOUT = (10.0, 120.0)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in; host lower-case, without brackets."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def same_origin(url: str, issued_for: str) -> bool:
    """May a credential issued for `issued_for` (a URL) go with a request to `url`? Only on the same origin."""
    return origin(url) == origin(issued_for)


def plain_http_allowed(url: str) -> bool:
    """https always; plain http only to a loopback host (local rehearsals and tests)."""
    scheme, host, _ = origin(url)
    return scheme == "https" or (scheme == "http" and is_loopback_host(host))


class InsecureRedirect(requests.exceptions.InvalidURL):
    """A redirect to plain http on a host that is not loopback."""


class TimeoutSession(requests.Session):
    """A Session whose requests get a default timeout, and whose redirects keep credentials on their origin."""

    def __init__(self, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is not None and resp.url:
            absolute = urljoin(resp.url, target)
            if urlsplit(absolute).scheme.lower() in ("http", "https") and not plain_http_allowed(absolute):
                raise InsecureRedirect(f"redirect to plain http on {urlsplit(absolute).hostname}: refused")
        return target

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Drop Authorization when a redirect leaves the origin; never add ~/.netrc credentials on the way."""
        previous = response.request.url if response.request is not None else None
        if (
            "Authorization" in prepared_request.headers
            and previous is not None
            and not same_origin(str(prepared_request.url), str(previous))
        ):
            del prepared_request.headers["Authorization"]


class WaitBudget:
    """How long one run may wait on servers' rate limits: at most `per_wait` seconds for a single wait and
    `total` seconds in all. Shared by a session's retries (Retry-After) and the client that owns the session, so a
    `Retry-After` of a day is never obeyed silently: whoever meets it stops and the client fails with advice."""

    def __init__(self, *, per_wait: float = 120.0, total: float = 900.0) -> None:
        self.per_wait = per_wait
        self.total = total
        self._spent = 0.0
        self._lock = threading.Lock()

    @property
    def spent(self) -> float:
        with self._lock:
            return self._spent

    def take(self, seconds: float) -> str | None:
        """Count a wait of `seconds` when allowed and return None; else return why not: "per-wait" (longer than
        one wait may be) or "total" (the run's budget would be exceeded)."""
        if not seconds <= self.per_wait:  # NaN is refused too
            return "per-wait"
        with self._lock:
            if self._spent + seconds > self.total:
                return "total"
            self._spent += seconds
            return None


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """Retry-After as seconds from `now`: delay-seconds or an HTTP date (RFC 9110 §10.2.3); None when absent or
    not understood."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text)) if len(text) <= 15 else float("inf")
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - now, 0.0)


class _BudgetRetry(Retry):
    """A Retry that honours Retry-After only within a WaitBudget, and reports each such wait.

    A Retry-After beyond the budget is not slept: the answer (429/503) goes back to the caller, which decides
    (the GitHub client turns it into RateLimitExceeded). Class attributes survive urllib3's `Retry.new`."""

    budget: ClassVar[WaitBudget | None] = None
    on_wait: ClassVar[Callable[[float], None] | None] = None

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        return retry_after_seconds(response.headers.get("Retry-After"), now=time.time())

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> _BudgetRetry:
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is not None and _pool is not None and self.respect_retry_after_header:
            seconds = self.get_retry_after(response)
            budget = type(self).budget
            if seconds and budget is not None and budget.take(seconds) is not None:
                raise MaxRetryError(_pool, url or "", None)  # hands the answer back (raise_on_status=False)
        return new

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        seconds = self.get_retry_after(response)
        if not seconds:
            return False
        report = type(self).on_wait
        if report is not None:
            report(seconds)
        time.sleep(seconds)
        return True


def make_retry(
    total: int = 5,
    backoff_factor: float = 0.5,
    statuses: tuple[int, ...] = (429, 500, 502, 503, 504),
    on_wait: Callable[[float], None] | None = None,
    budget: WaitBudget | None = None,
) -> Retry:
    """Retries for connection errors and `statuses`, honouring Retry-After within `budget` (default: a
    WaitBudget of its own, 120 s per wait, 15 min in all); `on_wait(seconds)` hears each Retry-After pause."""
    attrs: dict[str, Any] = {"budget": budget or WaitBudget()}
    if on_wait is not None:
        attrs["on_wait"] = staticmethod(on_wait)
    cls = type("BudgetRetry", (_BudgetRetry,), attrs)
    return cls(
        total=total,
        connect=total,
        read=total,
        status=total,
        backoff_factor=backoff_factor,
        status_forcelist=statuses,
        allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


def make_session(
    *,
    pool_size: int = 16,
    retry: Retry | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    user_agent: str = USER_AGENT,
) -> requests.Session:
    """A pooled session with retries for 429/5xx and connection errors."""
    session = TimeoutSession(timeout)
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=retry or make_retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session
