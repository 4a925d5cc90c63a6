"""The README's map of the code stays true: every `release/…` file or folder it names exists, and so does every
Python file it names in backticks (`tasks.py`, `workflows/model_spec.py`, or a module of `release/` given by its
path inside it, such as `last_good_file.py` or `undo/apply.py`)."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
RELEASE_PATH = re.compile(r"(?<![\w/.])release/[\w./-]*[\w/]")
CODE_PY = re.compile(r"`([\w./-]+\.py)`")


def test_the_readme_names_release_paths() -> None:
    # the map's own rows: a check that found nothing would prove nothing
    assert {"release/display.py", "release/pipeline/steps.py", "release/sim/"} <= set(RELEASE_PATH.findall(README))


def test_every_release_path_the_readme_names_exists() -> None:
    missing = sorted({p for p in RELEASE_PATH.findall(README) if not (REPO_ROOT / p).exists()})
    assert missing == [], f"README.md names paths that do not exist: {missing}"


def test_every_python_file_the_readme_names_in_backticks_exists() -> None:
    def found(name: str) -> bool:
        return any((base / name).is_file() for base in (REPO_ROOT, REPO_ROOT / "release"))

    missing = sorted({n for n in CODE_PY.findall(README) if not found(n)})
    assert missing == [], f"README.md names Python files that do not exist: {missing}"
