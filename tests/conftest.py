"""Shared test configuration: golden files and the service fixtures (tests/services/*)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

pytest_plugins: list[str] = [
    "tests.services.registry",
    "tests.services.git_world",
    "tests.services.latency_proxy",
    "tests.services.recording",
    "tests.services.dockerd",
    "tests.services.tt_metal_origin",
    "tests.services.github_server",
    "tests.services.github_project",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from the current output")


class Golden:
    """Compare rendered output with tests/golden/<name>, byte for byte; --update-golden rewrites them."""

    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, name: str, actual: str) -> None:
        path = GOLDEN_DIR / name
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"golden file {path} is missing: run pytest --update-golden"
        expected = path.read_text(encoding="utf-8")
        if expected != actual:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    "golden",
                    "actual",
                    n=2,
                )
            )
            pytest.fail(f"{name} differs from its golden file (pytest --update-golden to accept):\n{diff[:6000]}")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(bool(request.config.getoption("--update-golden")))


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
