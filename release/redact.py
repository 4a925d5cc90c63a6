"""Pure: the one redaction of URLs the kit prints, writes or logs.

- `redact_url(url)`: user information goes (`https://user:token@host/x` → `https://<redacted>@host/x`), and a
  query string that looks signed (`X-Amz-Signature`, `sig`, `token`, Azure's `se`/`sp`/`sv`, distribution's
  `_state`...) is dropped whole. `query=False` drops every query string (registry error messages do).
- `redact_text(text)`: every URL inside a message, and every request target (`GET /path?query HTTP/1.1`) as
  urllib3 logs them.
- `RedactingFilter` / `install_log_redaction()`: the same for log records, with every query string dropped, so
  that `RELEASE_LOG_LEVEL=DEBUG` prints no signed URL (urllib3 logs its request lines at DEBUG).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

REDACTED = "<redacted>"

# Query parameters that carry a signature, a token or a credential (compared lower-case). Any one of them makes
# the whole query string go: the other parameters of a signed URL are covered by the signature anyway.
_SIGNED_KEYS = frozenset(
    {
        "sig", "signature", "token", "access_token", "id_token", "refresh_token", "code", "key", "apikey",
        "api_key", "password", "passwd", "secret", "client_secret", "auth", "jwt", "policy", "key-pair-id",
        "expires", "se", "sp", "sv", "sr", "st", "spr", "skoid", "sktid", "skt", "ske", "sks", "skv",
        "rscd", "rsct", "_state", "googleaccessid",
    }
)  # fmt: skip
_SIGNED_PREFIXES = ("x-amz-", "x-goog-", "x-ms-", "x-oss-")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
# A request target as an HTTP request line (or urllib3's log of one) shows it: `GET /a/b?x=y HTTP/1.1`.
_TARGET = re.compile(r"(?P<path>(?<![\w/:])/[^\s'\"?<>]*)\?(?P<query>[^\s'\"<>]*)")


def looks_signed(query: str) -> bool:
    """True when a query string carries something that must not be shown (a signature, token, password...)."""
    for key, _ in parse_qsl(query, keep_blank_values=True):
        lowered = key.lower()
        if lowered in _SIGNED_KEYS or lowered.startswith(_SIGNED_PREFIXES):
            return True
    return False


def redact_url(url: str, *, query: bool = True) -> str:
    """`url` without user information and without a signed query string (`query=False`: without any query)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _strip_userinfo_text(url.split("?", 1)[0])
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    kept = parts.query if query and not looks_signed(parts.query) else ""
    fragment = parts.fragment if query and not looks_signed(parts.fragment) else ""
    return urlunsplit((parts.scheme, netloc, parts.path, kept, fragment))


def _strip_userinfo_text(text: str) -> str:
    return re.sub(r"://[^/@\s]*@", f"://{REDACTED}@", text)


def redact_text(text: str, *, query: bool = True) -> str:
    """Every URL and request target in `text` redacted (see `redact_url`)."""
    text = _URL.sub(lambda m: redact_url(m.group(0), query=query), text)

    def target(m: re.Match[str]) -> str:
        if query and not looks_signed(m.group("query")):
            return m.group(0)
        return m.group("path")

    return _TARGET.sub(target, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with every URL redacted and every query string dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return True
        redacted = redact_text(message, query=False)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = RedactingFilter()


def install_log_redaction(*loggers: logging.Logger) -> None:
    """Redact what the root handlers print and what urllib3's loggers (and `loggers`) emit.

    A filter on a handler sees every record it prints; a filter on a logger also changes what other handlers
    (pytest's caplog, a handler added later) receive, so urllib3's loggers get one directly.
    """
    targets = [*loggers, *(logging.getLogger(name) for name in _urllib3_loggers())]
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    for logger in targets:
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _urllib3_loggers() -> list[str]:
    names = {"urllib3", "urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry", "urllib3.connection"}
    names.update(n for n in logging.root.manager.loggerDict if n.startswith("urllib3"))
    return sorted(names)
