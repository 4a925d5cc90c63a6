"""The fake GitHub serving the project repository of a `git_world`: pulls, releases, refs and commits.

`github_project` (function-scoped, like `git_world`) starts `release.sim.github_server.GitHubServer` on
127.0.0.1 with `release.sim.github_project` installed over the world's bare origin, validates every JSON answer
against GitHub's OpenAPI description (tests/openapi), and gives the two clients the kit builds: `client` writes
the project with GITHUB_TOKEN (`TOKEN`), `ci_client` reads Models CI with GH_PAT (`CI_TOKEN`). Each repository
answers only to its own token (as a private repository would), so a request sent with the wrong role's token
fails the test; `env` is the environment a task run needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from release.config import Config
from release.github import GitHubClient
from release.github_types import RepoRef
from release.sim.github_project import ProjectSim
from release.sim.github_server import GitHubServer, install_project
from release.sim.history import generate_history
from release.wiring import ci_github_client, project_github_client
from tests.openapi.validate import validate
from tests.services.git_world import GitWorld

TOKEN = "ghp_project_test_token"  # GITHUB_TOKEN: writes this repository
CI_TOKEN = "ghp_ci_read_test_token"  # GH_PAT: reads tt-shield
PROJECT = RepoRef("tenstorrent", "tt-inference-server")


@dataclass
class GitHubProject:
    server: GitHubServer
    project: ProjectSim
    client: GitHubClient
    ci_client: GitHubClient
    repo: RepoRef = PROJECT

    @property
    def env(self) -> dict[str, str]:
        return {"GITHUB_API_URL": self.server.api_url, "GITHUB_TOKEN": TOKEN, "GH_PAT": CI_TOKEN}

    def merge(self, number: int, method: str = "merge") -> str:
        """Merge PR `number` through the API, as a maintainer clicking the button would."""
        url = f"{self.server.api_url}/repos/{self.repo.owner}/{self.repo.name}/pulls/{number}/merge"
        resp = requests.put(
            url, json={"merge_method": method}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["sha"])

    def open_pr(self, head: str, base: str, title: str = "a fix") -> int:
        return self.client.create_pull(self.repo, head=f"{self.repo.owner}:{head}", base=base, title=title,
                                       body="").number  # fmt: skip


@pytest.fixture
def github_project(git_world: GitWorld) -> Iterator[GitHubProject]:
    history = generate_history(runs=2, seed=5)
    repo_tokens = {f"{PROJECT.owner}/{PROJECT.name}": TOKEN, f"{history.owner}/{history.repo}": CI_TOKEN}
    server = GitHubServer(history, token=TOKEN, extra_tokens=(CI_TOKEN,), repo_tokens=repo_tokens,
                          validator=validate).start()  # fmt: skip
    project = install_project(server, ProjectSim(PROJECT.owner, PROJECT.name, git_world.origin))
    env = {"GITHUB_API_URL": server.api_url, "GITHUB_TOKEN": TOKEN, "GH_PAT": CI_TOKEN}
    cfg = Config.from_env(env, repo_root=git_world.work)
    try:
        yield GitHubProject(server, project, project_github_client(cfg), ci_github_client(cfg))
    finally:
        server.stop()
    assert not server.validation_errors, "\n".join(server.validation_errors[:20])
