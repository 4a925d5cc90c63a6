"""Composition root: the only place that builds clients from the configuration.

Small functions, one per outside system; the task layer calls them and hands the clients to executors.
"""

from __future__ import annotations

from collections.abc import Callable

from urllib3.util.retry import Retry

from release.config import Config
from release.git import Git
from release.gitflow import Flow
from release.http import make_session
from release.registry import RegistryClient
from release.registry_auth import Keychain


def keychain(cfg: Config) -> Keychain:
    """Registry credentials: REGISTRY_USERNAME/PASSWORD, else Docker config.json, else GH_PAT for ghcr.io."""
    token = cfg.github_token if cfg.github_token_variable == "GH_PAT" else None
    return Keychain(
        username=cfg.registry_username,
        password=cfg.registry_password,
        docker_config=cfg.docker_config,
        github_token=token,
    )


def registry_client(cfg: Config, *, concurrency: int = 8) -> RegistryClient:
    """One pooled client for every registry. Streaming uploads use a session that retries connection errors
    only (a body already sent cannot be replayed); everything else retries 429/5xx with Retry-After."""
    pool = max(16, concurrency * 2)
    upload_retry = Retry(total=3, connect=3, read=0, status=0, other=0, backoff_factor=0.5, raise_on_status=False)
    return RegistryClient(
        make_session(pool_size=pool),
        keychain(cfg),
        upload_session=make_session(pool_size=pool, retry=upload_retry),
        blob_workers=max(2, concurrency),
    )


def git_client(cfg: Config) -> Git:
    """The checkout the kit runs in (repo_root)."""
    return Git(cfg.repo_root)


def git_flow(cfg: Config, *, dry_run: bool, on_event: Callable[[str], None]) -> Flow:
    """Everything the git tasks need: the git client, GitHub when a token is set, and the branch names."""
    return Flow(
        git=git_client(cfg),
        github=None,
        remote=cfg.git_remote,
        dev=cfg.dev_branch,
        main=cfg.main_branch,
        owner=cfg.project_owner,
        repo=cfg.project_repo,
        dry_run=dry_run,
        on_event=on_event,
    )
