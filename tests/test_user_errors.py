"""Every user error is one `error:` line and its exit code, never a traceback (the real `inv`, in a subprocess).

Each case runs `python -m invoke` (what `inv` runs) in a scratch checkout: the catalogue, VERSION, README and
tasks.py of this repository, no token, no service. A case may break the checkout first (VERSION a folder, a
release.toml that is not TOML...). Argument errors (`alone`) must be the only line on stderr; the others may
follow progress lines, but the error is the last line and the only one starting with `error:`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli import run_inv

ROOT = Path(__file__).resolve().parent.parent
NOT_UTF8 = b'{"id_x": "\xff\xfe"}'


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int = 2
    setup: Callable[[Path], None] = lambda _root: None
    env: dict[str, str] = field(default_factory=dict)
    alone: bool = False  # stderr is the error line and nothing else
    says: str = ""  # a part of the error line


def write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return setup


def folder(rel: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / rel
        if path.is_file():
            path.unlink()
        path.mkdir(parents=True)

    return setup


def version_file(root: Path) -> str:
    return (ROOT / "VERSION").read_text().strip()


def state_file_list(root: Path) -> None:
    write(f"release_logs/release_state_v{version_file(root)}.json", "[]")(root)


CASES = [
    # invoke's own parsing, routed through the kit's error printer
    Case("max-runs-not-a-number", ("ci.read", "--max-runs", "abc"), alone=True, says="--max-runs: 'abc'"),
    Case("jobs-not-a-number", ("images.build", "--jobs", "x"), alone=True, says="--jobs: 'x' is not a whole"),
    Case("flag-without-its-value", ("ci.read", "--max-runs"), alone=True, says="--max-runs needed value"),
    Case("unknown-flag", ("ci.read", "--nosuch"), alone=True, says="'--nosuch'"),
    Case("unknown-task", ("nosuch.task",), alone=True, says="'nosuch.task'"),
    Case("missing-positional", ("images.promote", "--dev"), alone=True, says="'last_good'"),
    Case("help-after-a-positional-task", ("spec.update", "--help"), alone=True, says="inv --help"),
    # numbers and choices checked by the tasks
    Case("run-id-not-a-number", ("ci.read", "--run-id", "abc"), alone=True, says="--run-id: 'abc'"),
    Case("negative-max-runs", ("ci.read", "--max-runs", "-1"), alone=True, says="--max-runs must be at least 1"),
    Case("zero-jobs", ("images.build", "--jobs", "0"), alone=True, says="--jobs must be at least 1"),
    Case("prerelease-zero-max-runs", ("prerelease", "--increment", "minor", "--max-runs", "0"), alone=True),
    Case("unknown-increment", ("prerelease", "--increment", "huge"), alone=True, says="--increment"),
    Case(
        "promote-unknown-increment",
        ("images.promote", "lg.json", "--dev", "--increment", "huge"),
        setup=write("lg.json", "{}"),
        says="--increment",
    ),
    Case("version-not-semver", ("git.rc", "--version", "1.2"), alone=True, says="MAJOR.MINOR.PATCH"),
    Case("release-version-not-semver", ("release", "--version", "x"), alone=True),
    Case("promote-bad-concurrency", ("images.promote", "lg.json", "--dev", "--concurrency", "0"), alone=True),
    # last-good files
    Case("last-good-not-utf8", ("spec.update", "lg.json"), setup=write("lg.json", NOT_UTF8), says="not UTF-8"),
    Case("last-good-empty", ("spec.update", "lg.json"), setup=write("lg.json", ""), says="not valid JSON"),
    Case("last-good-a-list", ("spec.update", "lg.json"), setup=write("lg.json", "[]"), says="JSON object"),
    Case("last-good-a-folder", ("spec.update", "lg"), setup=folder("lg"), says="is a folder"),
    Case("last-good-missing", ("spec.update", "nothing.json"), says="not found"),
    Case(
        "promote-last-good-not-utf8",
        ("images.promote", "lg.json", "--dev"),
        setup=write("lg.json", NOT_UTF8),
        says="not UTF-8",
    ),
    Case("promote-last-good-a-list", ("images.promote", "lg.json", "--dev"), setup=write("lg.json", "[]")),
    Case("promote-last-good-a-folder", ("images.promote", "lg", "--dev"), setup=folder("lg"), says="is a folder"),
    # the checkout's own files
    Case("version-a-folder", ("spec.update", "--output-only"), setup=folder("VERSION"), says="VERSION: is a folder"),
    Case("version-not-utf8", ("spec.update", "--output-only"), setup=write("VERSION", b"0.\xff.0\n"), says="not UTF-8"),
    Case(
        "catalogue-missing",
        ("spec.update", "--output-only"),
        setup=lambda root: (root / "workflows" / "model_specs.toml").unlink(),
        says="not found",
    ),
    Case(
        "release-toml-not-toml",
        ("spec.update", "--output-only"),
        setup=write("release.toml", "x = [\n"),
        says="not valid TOML",
    ),
    Case(
        "release-toml-wrong-type",
        ("spec.update", "--output-only"),
        setup=write("release.toml", "[paths]\nversion_file = 5\n"),
        says="must be a string",
    ),
    Case("release-toml-a-folder", ("spec.update", "--output-only"), setup=folder("release.toml")),
    Case("output-json-a-folder", ("spec.update", "--output-only", "--output-json", "out"), setup=folder("out")),
    Case("state-file-a-list", ("release",), setup=state_file_list, says="not a release state file"),
    Case(
        "ci-out-root-a-file",
        ("ci.read", "--no-download", "--out-root", "lg.json"),
        setup=write("lg.json", "{}"),
        says="is a file, not a folder",
    ),
    # summaries and records
    Case(
        "audit-record-a-list",
        ("images.audit", "--record", "r.json"),
        setup=write("r.json", "[]"),
        alone=True,
        says="r.json: version: missing (not a release record?)",
    ),
    Case("audit-record-a-folder", ("images.audit", "--record", "r"), setup=folder("r"), alone=True),
    Case(
        "audit-record-bad-destination",
        ("images.audit", "--record", "r.json"),
        setup=write("r.json", '{"version": "0.6.0", "images": [{"destination": "not a ref"}]}'),
        alone=True,
        says="r.json: images[0].destination",
    ),
    Case(
        "copy-summary-src-not-a-string",
        ("images.copy", "--from-summary", "s.json"),
        setup=write("s.json", '{"copied_images": {"ghcr.io/a/b:2": 5}}'),
        alone=True,
        says="s.json: copied_images.ghcr.io/a/b:2: expected a string, got a number",
    ),
    Case("copy-summary-a-list", ("images.copy", "--from-summary", "s.json"), setup=write("s.json", "[]"), alone=True),
    Case(
        "build-summary-a-list",
        ("images.build", "--only-missing-from", "s.json"),
        setup=write("s.json", "[]"),
        alone=True,
        says="s.json: expected a JSON object (an artifacts summary), got a list",
    ),
    # settings from the environment
    *(
        Case(
            f"github-api-url-{name}",
            ("ci.read", "--max-runs", "1"),
            env={"GITHUB_API_URL": url, "GH_PAT": "x"},
            alone=True,
            says=says,
        )
        for name, url, says in (
            ("not-a-url", "not-a-url", "GITHUB_API_URL"),
            ("plain-http", "http://example.com", "plain http"),
        )
    ),
    Case(
        "publish-without-a-token", ("git.notes", "--version", "1.2.3", "--publish"), alone=True, says="set GITHUB_TOKEN"
    ),
    Case("git-task-outside-a-checkout", ("git.rc", "--version", "1.2.3"), alone=True, says="not a git checkout"),
    Case("apply-without-undo", ("prerelease", "--apply"), alone=True, says="--undo --version X.Y.Z"),
    Case("undo-apply-and-dry-run", ("release", "--undo", "--apply", "-n", "--version", "1.2.3"), alone=True),
    Case("undo-without-version", ("release", "--undo"), alone=True, says="--undo needs --version"),
    Case("undo-version-not-semver", ("prerelease", "--undo", "--version", "1.2"), alone=True, says="MAJOR.MINOR"),
    Case(
        "undo-without-a-state-file", ("prerelease", "--undo", "--version", "9.9.9"), alone=True, says="nothing to undo"
    ),
    Case(
        "undo-state-file-a-list",
        ("release", "--undo", "--version", "1.2.3"),
        setup=write("release_logs/release_state_v1.2.3.json", "[]"),
        says="not a release state file",
    ),
]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "workflows").mkdir(parents=True)
    for name in ("tasks.py", "VERSION", "README.md", "model_specs_output.json", "workflows/model_specs.toml"):
        shutil.copyfile(ROOT / name, root / name)
    return root


def inv(root: Path, args: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("RELEASE_", "GH_", "GITHUB_", "REGISTRY_"))}
    env = {**kept, "PYTHONPATH": str(ROOT), "GIT_CEILING_DIRECTORIES": str(root.parent), **env}
    return run_inv(*args, cwd=root, env=env, timeout=120)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_user_error_is_one_line_and_its_exit_code(checkout: Path, case: Case) -> None:
    case.setup(checkout)
    run = inv(checkout, case.args, case.env)
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], run.stderr
    if case.alone:
        assert lines == errors, run.stderr
    assert case.says in errors[0]
    assert run.returncode == case.code, run.stderr


def test_a_lock_file_with_garbage_blocks_nothing(checkout: Path) -> None:
    write("release_logs/.release.lock", json.dumps({"pid": "not-a-number", "host": None}))(checkout)
    run = inv(checkout, ("spec.update", "--output-only"), {})
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
