"""Composition root: the only place that builds clients from the configuration.

Small functions, one per outside system; the task layer calls them and hands the clients to executors.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from urllib3.util.retry import Retry

from release.build.recipes import Recipe, make_recipe
from release.build.tt_metal import CommitResolver
from release.config import Config, Token
from release.environment import CI_TOKEN_VARIABLES, PROJECT_TOKEN_VARIABLES
from release.git import Git
from release.github_types import RateLimitWait, RepoRef
from release.http import WaitBudget, make_retry, make_session
from release.http_cache import FileResponseCache
from release.registry import RegistryClient
from release.registry_auth import Keychain

if TYPE_CHECKING:  # imported where used: `inv` starts without the docker SDK, GitHub and the git flow
    from release.docker_engine import DockerEngine
    from release.gitflow.flows import Flow
    from release.github import GitHubClient, TokenRole


def keychain(cfg: Config) -> Keychain:
    """Registry credentials, each bound to its hosts: REGISTRY_USERNAME/PASSWORD for the release registry and the
    source registries (after the rewrite), Docker config.json entries for their own hosts, and the project's
    GitHub token (GITHUB_TOKEN, else GH_PAT) for ghcr.io."""
    token = cfg.project_token
    return Keychain(
        username=cfg.registry_username,
        password=cfg.registry_password,
        hosts=cfg.credential_registries(),
        docker_config=cfg.docker_config,
        github_token=token.secret if token else None,
        github_token_source=token.variable if token else "GITHUB_TOKEN",
    )


def registry_client(cfg: Config, *, concurrency: int = 8) -> RegistryClient:
    """One pooled client for every registry. Streaming uploads use a session that retries connection errors
    only (a body already sent cannot be replayed); everything else retries 429/5xx with Retry-After.

    Requests in flight: `concurrency` destinations (manifest PUTs), twice as many reads, twice as many blob
    requests and as many child-manifest requests; the pool keeps a connection for each."""
    pool = max(16, concurrency * 6)
    upload_retry = Retry(total=3, connect=3, read=0, status=0, other=0, backoff_factor=0.5, raise_on_status=False)
    return RegistryClient(
        make_session(pool_size=pool),
        keychain(cfg),
        upload_session=make_session(pool_size=pool, retry=upload_retry),
        blob_workers=max(2, 2 * concurrency),
    )


def git_client(cfg: Config) -> Git:
    """The checkout the kit runs in (repo_root)."""
    return Git(cfg.repo_root)


def git_flow(cfg: Config, *, dry_run: bool, on_event: Callable[[str], None]) -> Flow:
    """Everything the git tasks need: the git client, GitHub when the project's token is set, and the branch
    names. (The default pre-release commit comes from the last-good records: no Models CI request.)"""
    from release.gitflow.flows import Flow

    return Flow(
        git=git_client(cfg),
        github=project_github_client(cfg) if cfg.project_token is not None else None,
        remote=cfg.git_remote,
        dev=cfg.dev_branch,
        main=cfg.main_branch,
        project=RepoRef(cfg.project_owner, cfg.project_repo),
        dry_run=dry_run,
        on_event=on_event,
    )


def docker_engines(cfg: Config) -> dict[str, DockerEngine]:
    """Every engine to build on: `--docker-host`/RELEASE_DOCKER_HOSTS, else DOCKER_HOST, else the local socket.
    Pushes and pulls use the registry credentials of the keychain. (The docker SDK is imported here, on first
    use, so that `inv --list` and the other tasks start without it.)"""
    from release.docker_engine import DockerEngine

    hosts = list(dict.fromkeys(cfg.docker_hosts)) or [cfg.docker_host or ""]
    chain = keychain(cfg)
    return {
        host or "local": DockerEngine(host or None, name=host or "local", credentials=chain.resolve) for host in hosts
    }


def git_at(repo: Path) -> Git:
    """A git client for a folder other than the checkout (a tt-metal mirror or checkout)."""
    return Git(repo)


def commit_resolver(cfg: Config) -> CommitResolver:
    """tt-metal commit → full SHA, through git (a tree-less mirror cached under workflow_logs/cache)."""
    return CommitResolver(git_at, url=cfg.tt_metal_repo, cache_dir=cfg.workflow_logs / "cache" / "tt-metal.git")


def build_recipe(cfg: Config) -> Recipe:
    return make_recipe(cfg.build_recipe, repo_root=cfg.repo_root, git=git_at, tt_metal_url=cfg.tt_metal_repo)


HTTP_CACHE_DIR = ".http_cache"


def ci_github_client(
    cfg: Config,
    *,
    cache_root: Path | None = None,
    read_only_cache: bool = False,
    on_event: Callable[[object], None] | None = None,
    pool_size: int = 16,
    backoff_factor: float = 0.5,
) -> GitHubClient:
    """The client that reads Models CI (runs, jobs, artifacts, logs of tt-shield) with GH_PAT, else GITHUB_TOKEN.

    The session retries 5xx, 429 and connection errors (urllib3 Retry, honouring Retry-After, each pause
    reported as a RateLimitWait); the client waits out 403/429 rate limits that remain (x-ratelimit-reset,
    secondary limits). Both wait within one WaitBudget (120 s per wait, 15 min per run), beyond which the client
    raises RateLimitExceeded. With `cache_root`, JSON answers are cached there by ETag.
    """
    from release.github import TokenRole

    cache = FileResponseCache(cache_root / HTTP_CACHE_DIR, read_only=read_only_cache) if cache_root else None
    return _github_client(
        cfg,
        token=cfg.ci_token,
        role=TokenRole(CI_TOKEN_VARIABLES, f"Actions: read and Metadata: read on {cfg.ci_owner}/{cfg.ci_repo}"
                       " (classic token: repo scope)"),
        cache=cache, on_event=on_event, pool_size=pool_size, backoff_factor=backoff_factor,
    )  # fmt: skip


def project_github_client(cfg: Config, *, on_event: Callable[[object], None] | None = None) -> GitHubClient:
    """The client that writes this repository (pull requests, releases, refs) with GITHUB_TOKEN, else GH_PAT."""
    from release.github import TokenRole

    return _github_client(
        cfg,
        token=cfg.project_token,
        role=TokenRole(PROJECT_TOKEN_VARIABLES, f"Contents: write and Pull requests: write on {cfg.project_owner}/"
                       f"{cfg.project_repo}"),
        on_event=on_event,
    )  # fmt: skip


def _github_client(
    cfg: Config,
    *,
    token: Token | None,
    role: TokenRole,
    cache: FileResponseCache | None = None,
    on_event: Callable[[object], None] | None = None,
    pool_size: int = 16,
    backoff_factor: float = 0.5,
) -> GitHubClient:
    from release.github import GitHubClient

    def on_wait(seconds: float) -> None:
        if on_event is not None:
            on_event(RateLimitWait(seconds=seconds, reason="retry-after", path=""))

    budget = WaitBudget()  # one budget for the session's Retry-After waits and the client's own
    retry = make_retry(backoff_factor=backoff_factor, on_wait=on_wait, budget=budget)
    session = make_session(pool_size=pool_size, retry=retry)
    return GitHubClient(
        api_url=cfg.github_api_url,
        token=token.secret if token else None,
        token_variable=token.variable if token else role.variables[0],
        role=role,
        session=session,
        cache=cache,
        on_event=on_event,
        wait_budget=budget,
    )
