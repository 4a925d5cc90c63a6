"""Sessions of the release kit. Each installs from a hashed lock file in requirements/.

Regenerate the locks after changing pyproject.toml:  nox -s lock
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox
import nox.logger

# The kit's list of environment variables, from a file that imports nothing (nox runs without the kit's packages).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from release.environment import ENV_VARIABLES

nox.options.sessions = ["lint", "typecheck", "tests", "tomlkit"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "virtualenv"
# nox probes for uv before every session, even with virtualenv as the backend, and says "uv binary not found."
nox.logger.logger.addFilter(lambda record: record.getMessage() != "uv binary not found.")
nox.options.error_on_missing_interpreters = True  # a Python asked for with --python and absent is an error
# The interpreter nox runs under (3.10 or newer, as pyproject.toml says); `--python 3.X` picks another one.
PYTHON = None
OLDEST = (3, 10)


def install_locked(session: nox.Session, lock: str) -> None:
    """Install a hashed lock file, then the kit itself without dependencies."""
    check_python(session)
    session.install("--require-hashes", "-r", f"requirements/{lock}.txt")
    session.install("--no-deps", "-e", ".")


def check_python(session: nox.Session) -> None:
    """The kit supports Python 3.10 and newer: an older interpreter is an error, not a skipped session."""
    found = session.run("python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", silent=True)
    major, minor = (int(x) for x in str(found).strip().split("."))
    if (major, minor) < OLDEST:
        session.error(f"Python {major}.{minor} is too old: the kit needs 3.10 or newer (nox --python 3.11 ...)")


def system_programs(session: nox.Session, purpose: str) -> None:
    """The programs the tests (or the demo) start: installed with apt-get when missing and running as root,
    else one line naming what to install (release/sim/packages.py)."""
    session.run("python", "-m", "release.sim.packages", purpose)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    install_locked(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy over release/, workflows/, tasks.py and noxfile.py."""
    install_locked(session, "lint")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """pytest; pass pytest arguments after --, e.g. nox -s tests -- -m "not slow"."""
    install_locked(session, "tests")
    system_programs(session, "tests")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
@nox.parametrize("tomlkit", ["oldest", "newest"])
def tomlkit(session: nox.Session, tomlkit: str) -> None:
    """Catalogue reading and edits on the oldest and the newest tomlkit pyproject.toml allows (outside the lock)."""
    install_locked(session, "tests")
    spec = "tomlkit==0.12.0" if tomlkit == "oldest" else "tomlkit"
    session.install("--upgrade", spec)
    session.run("python", "-c", "import tomlkit; print('tomlkit', tomlkit.__version__)")
    catalogue_tests = ("tests/test_spec_edit.py", "tests/test_spec_update.py", "tests/test_catalogue.py")
    session.run("pytest", "-q", *catalogue_tests, *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: prints a table of ratios against each baseline (measured, never asserted)."""
    install_locked(session, "tests")
    session.run("python", "-m", "tests.bench", *session.posargs)


@nox.session(python=PYTHON, default=False)
def demo(session: nox.Session) -> None:
    """The whole release flow on local services, no internet (python -m release.demo; its options after --)."""
    install_locked(session, "runtime")
    session.run("python", "-m", "release.demo", *session.posargs)


@nox.session(python=PYTHON, default=False)
def lock(session: nox.Session) -> None:
    """Regenerate requirements/*.txt (hashed, one lock for every supported Python) from pyproject.toml."""
    session.install("uv>=0.5")
    common = ["uv", "pip", "compile", "--quiet", "--universal", "--python-version", "3.10", "--generate-hashes"]
    env = {"UV_CUSTOM_COMPILE_COMMAND": "nox -s lock"}
    session.run(*common, "-o", "requirements/runtime.txt", "pyproject.toml", env=env)
    for extra in ("tests", "lint"):
        session.run(*common, "--extra", extra, "-o", f"requirements/{extra}.txt", "pyproject.toml", env=env)


@nox.session(python=PYTHON, reuse_venv=False, default=False)
def release(session: nox.Session) -> None:
    """Run a release task in a fresh locked environment: nox -s release -- prerelease --increment minor.

    Only the variables a release needs reach the task (tokens, registry, Docker, git identity); a markdown summary
    goes to $GITHUB_STEP_SUMMARY when it is set. .github/workflows/release.yml runs this same session.
    """
    if not session.posargs:
        session.error("usage: nox -s release -- prerelease --increment minor   (or: release, images.audit, ...)")
    check_python(session)
    session.install("--require-hashes", "-r", "requirements/runtime.txt")
    session.install("--no-deps", ".")
    session.run("python", "-m", "invoke", *session.posargs, env=passthrough_env(), include_outer_env=False)


# What a release run needs beyond the kit's own variables: the git identity, the ssh agent, home and PATH.
PROCESS_VARIABLES = (
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "SSH_AUTH_SOCK",
    "HOME",
    "PATH",
)


def passthrough_env() -> dict[str, str]:
    """The variables a release needs, and no others: the kit's (release/environment.py) and PROCESS_VARIABLES."""
    return {n: os.environ[n] for n in (*ENV_VARIABLES, *PROCESS_VARIABLES) if n in os.environ}
