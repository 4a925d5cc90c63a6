"""The kit's exceptions. Messages are written as advice; `tasks.py` prints them as one line.

Exit codes: 1 for an operation that failed, 2 for bad input or configuration, 3 for a conflict that needs a
human decision (a tag that would move, a branch that exists elsewhere), 4 for a lock held by another run.
"""

from __future__ import annotations


class ReleaseError(Exception):
    """Base class: anything the user can act on. Other exceptions are bugs and keep their traceback."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(ReleaseError):
    """Missing or malformed configuration, environment or command-line input."""

    exit_code = 2


class InputError(ReleaseError):
    """A file given to the kit (last-good JSON, summary, VERSION) is not what it should be."""

    exit_code = 2


class CatalogueError(ReleaseError):
    """The model catalogue (workflows/model_specs.toml) is invalid."""

    exit_code = 2


class GitHubError(ReleaseError):
    """The GitHub API answered with an error the kit cannot recover from."""


class GitHubStatusError(GitHubError):
    """GitHub answered an unexpected HTTP status; `status` lets callers decide (e.g. 410 Gone = expired)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class AuthError(GitHubError):
    """A missing or rejected token."""

    exit_code = 2


class RateLimitExceeded(GitHubError):
    """GitHub asks for a wait longer than the kit allows (per wait, or in total for the run); the message says
    which limit, when it resets and what to do. It stops the whole run (every further request would wait too)."""


class DownloadTooLarge(GitHubError):
    """A download went past its size limit; what was read up to the limit is kept by the caller's file."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class RegistryError(ReleaseError):
    """An OCI registry answered with an unexpected status."""


class TagConflict(ReleaseError):
    """A destination tag exists with another digest; the kit never moves it."""

    exit_code = 3


class BuildError(ReleaseError):
    """One or more image builds failed."""


class DockerEngineError(ReleaseError):
    """The Docker engine is unreachable or refused a request."""


class EngineUnreachable(DockerEngineError):
    """The Docker engine does not answer at all (down, wrong socket or host)."""


class GitError(ReleaseError):
    """A git command failed; carries its stderr and exit status."""

    def __init__(
        self, message: str, *, stderr: str = "", returncode: int | None = None, exit_code: int | None = None
    ) -> None:
        super().__init__(message, exit_code=exit_code)
        self.stderr = stderr
        self.returncode = returncode


class GitStateError(ReleaseError):
    """The repository is not in a state where the step can run (dirty tree, branch exists elsewhere...)."""

    exit_code = 3


class LockHeld(ReleaseError):
    """Another run holds the checkout's lock."""

    exit_code = 4


class PartialFailure(ReleaseError):
    """The step finished, but some items failed; each failure is listed in the message."""

    @classmethod
    def from_items(cls, what: str, failures: list[str], *, exit_code: int | None = None) -> PartialFailure:
        lines = "\n  ".join(failures)
        return cls(f"{len(failures)} {what} failed:\n  {lines}", exit_code=exit_code)


class RegistryResponseError(RegistryError):
    """A registry request that ended with an unexpected status; carries what the user needs to act on it."""

    def __init__(self, message: str, *, method: str, url: str, status: int, codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
        self.codes = codes


class RegistryAuthError(RegistryError):
    """Missing or rejected registry credentials."""

    exit_code = 2


class DigestMismatch(RegistryError):
    """Content arrived (or landed) with another digest than the one asked for."""


class ServiceError(ReleaseError):
    """A local service for a rehearsal (registry, dockerd, simulator) is missing or did not start."""


class UndoIncomplete(ReleaseError):
    """An undo left something of the run (changed since, merged, or not provably the run's); each is listed."""

    exit_code = 3
