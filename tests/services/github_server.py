"""The GitHub-compatible server for the tests (release/sim/github_server.py), checked against GitHub's OpenAPI.

Fixtures:
- `catalogue_sim_models`: SimModels for every spec of the real catalogue (workflows/model_specs.toml).
- `github_factory`: `github_factory(history, **kw)` starts a server on 127.0.0.1 for that history; every JSON
  answer is validated against tests/openapi/github-api-slice.json and the test fails on any violation.
- `github_server`: a small shared history (real model_ids), started once per session — do not mutate it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from release import catalogue
from release.sim.github_server import GitHubServer
from release.sim.history import SimHistory, SimModel, generate_history
from tests.openapi.validate import validate

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_test_0123456789abcdef"


def load_catalogue_models() -> list[SimModel]:
    cat = catalogue.load_path(ROOT / "workflows" / "model_specs.toml", version=(ROOT / "VERSION").read_text().strip())
    return [SimModel.from_spec(s) for s in cat.specs.values()]


def small_models() -> list[SimModel]:
    """Ten catalogue specs: vLLM on several devices, two media models, galaxy_t3k, an underscore in a name."""
    models = load_catalogue_models()
    picked: list[SimModel] = []
    for want in (
        lambda m: m.engine == "vLLM" and m.device == "N150",
        lambda m: m.engine == "vLLM" and m.device == "N300",
        lambda m: m.engine == "vLLM" and m.device == "T3K",
        lambda m: m.engine == "vLLM" and m.device == "GALAXY",
        lambda m: m.device == "GALAXY_T3K",
        lambda m: m.engine == "media",
        lambda m: m.engine == "media" and m.device != "N150",
        lambda m: m.engine == "forge",
        lambda m: m.engine == "vLLM" and m.device == "P150X4",
        lambda m: m.engine == "vLLM" and m.device == "N150X4",
    ):
        found = next(
            (
                m
                for m in models
                if want(m) and m not in picked and m.artifact_name not in {p.artifact_name for p in picked}
            ),
            None,
        )
        if found is not None:
            picked.append(found)
    return picked


@pytest.fixture(scope="session")
def catalogue_sim_models() -> list[SimModel]:
    return load_catalogue_models()


@pytest.fixture(scope="session")
def github_factory() -> Iterator[Callable[..., GitHubServer]]:
    started: list[GitHubServer] = []

    def start(history: SimHistory, **kwargs: object) -> GitHubServer:
        server = GitHubServer(history, token=TOKEN, validator=validate, **kwargs).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    errors = [e for s in started for e in s.validation_errors]
    assert not errors, "the fake GitHub sent answers that GitHub's OpenAPI description rejects:\n" + "\n".join(
        errors[:20]
    )


@pytest.fixture(scope="session")
def github_server(github_factory: Callable[..., GitHubServer]) -> GitHubServer:
    return github_factory(generate_history(small_models(), runs=12, seed=3))
