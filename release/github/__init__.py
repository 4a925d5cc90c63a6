"""The kit's one client for the GitHub REST API.

client.py     GitHubClient: the endpoints (Actions runs, jobs, artifacts and logs; pulls; commits and refs;
              releases) → frozen values of `release.github_types` (kept outside this package: pure modules use
              them without importing an HTTP library)
transport.py  GitHubTransport: every request — the token to the API origin only, one wait loop for rate limits
              within a WaitBudget, one response check, pagination (never to another origin), the ETag cache,
              streamed downloads with byte limits
"""

from release.github.client import GitHubClient
from release.github.transport import RequestStats, ResponseCache, TokenRole

__all__ = ["GitHubClient", "RequestStats", "ResponseCache", "TokenRole"]
