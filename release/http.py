"""HTTP sessions: retries in the adapter (urllib3 Retry honouring Retry-After), timeouts, a user agent.

Authorization is never sent across hosts: requests strips it on a redirect to another host or port, and the
clients that follow redirects by hand start a fresh request without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from release import __version__

USER_AGENT = f"tt-release-kit/{__version__}"
DEFAULT_TIMEOUT = (10.0, 120.0)


class TimeoutSession(requests.Session):
    """A Session whose requests get a default timeout."""

    def __init__(self, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class _ReportingRetry(Retry):
    """A Retry that reports each Retry-After wait (e.g. to show a rate-limit pause in a progress line)."""

    on_wait: ClassVar[Callable[[float], None] | None] = None

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        seconds = self.get_retry_after(response)
        report = type(self).on_wait
        if seconds and report is not None:
            report(seconds)
        return super().sleep_for_retry(response)


def make_retry(
    total: int = 5,
    backoff_factor: float = 0.5,
    statuses: tuple[int, ...] = (429, 500, 502, 503, 504),
    on_wait: Callable[[float], None] | None = None,
) -> Retry:
    """Retries for connection errors and `statuses`, honouring Retry-After; `on_wait(seconds)` hears each
    Retry-After pause (the callback is a class attribute so it survives urllib3's `Retry.new`)."""
    cls: type[Retry] = Retry
    if on_wait is not None:
        cls = type("ReportingRetry", (_ReportingRetry,), {"on_wait": staticmethod(on_wait)})
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


def redact_url(url: str) -> str:
    """The URL without its query string (which may carry signed tokens)."""
    return url.split("?", 1)[0]
