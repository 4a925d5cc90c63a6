"""Pure values returned by the GitHub client (frozen dataclasses built from API JSON).

Kept apart from `release.github` so that pure modules (parsing, selection, rendering) can use them without
importing an HTTP library. GitHub's answers are outside data: a missing or mistyped key is a GitHubError naming the
object and the key (never a KeyError or TypeError), and a page without its list is one too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from release.errors import GitHubError


class ByteSink(Protocol):
    """Where a download is streamed (a binary file, or a wrapper that also hashes)."""

    def write(self, data: bytes, /) -> object: ...


class _Fields:
    """Typed reads of one JSON object of an API answer."""

    def __init__(self, d: Any, kind: str) -> None:
        if not isinstance(d, Mapping):
            raise GitHubError(f"GitHub answered a {kind} that is not a JSON object ({type(d).__name__}); {_RETRY}")
        self._d = d
        self._kind = kind

    def _bad(self, key: str, want: str) -> GitHubError:
        got = "missing" if key not in self._d else f"a {type(self._d[key]).__name__}"
        return GitHubError(f"GitHub answered a {self._kind} whose {key!r} is {got}, not {want}; {_RETRY}")

    def integer(self, key: str, default: int | None = None) -> int:
        v = self._d.get(key)
        if v is None and default is not None:
            return default
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) < 20:
            return int(v)
        raise self._bad(key, "an integer")

    def string(self, key: str) -> str:
        v = self._d.get(key)
        if not isinstance(v, str):
            raise self._bad(key, "a string")
        return v

    def opt_string(self, key: str) -> str | None:
        v = self._d.get(key)
        if v is not None and not isinstance(v, str):
            raise self._bad(key, "a string or null")
        return v

    def flag(self, key: str, default: bool | None = None) -> bool:
        v = self._d.get(key, default)
        if not isinstance(v, bool):
            raise self._bad(key, "true or false")
        return v

    def obj(self, key: str, kind: str) -> _Fields:
        return _Fields(self._d.get(key), f"{self._kind}'s {kind}")

    def items(self, key: str) -> list[Any]:
        v = self._d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self._bad(key, "a list")
        return v


_RETRY = "run the same command again, and report it if it persists"


def _page(body: Any, key: str, kind: str) -> list[Any]:
    if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
        raise GitHubError(f"GitHub answered a page of {kind} without its {key!r} list; {_RETRY}")
    items: list[Any] = body[key]
    return items


def runs_page(body: Any) -> list[WorkflowRun]:
    """The runs of one page of `GET .../actions/workflows/{id}/runs`."""
    return [WorkflowRun.from_api(item) for item in _page(body, "workflow_runs", "workflow runs")]


def jobs_page(body: Any) -> list[Job]:
    """The jobs of one page of `GET .../actions/runs/{id}/jobs`."""
    return [Job.from_api(item) for item in _page(body, "jobs", "jobs")]


def artifacts_page(body: Any) -> list[Artifact]:
    """The artifacts of one page of `GET .../actions/runs/{id}/artifacts`."""
    return [Artifact.from_api(item) for item in _page(body, "artifacts", "artifacts")]


def list_page(body: Any, kind: str) -> list[Any]:
    """A page whose answer is a JSON list (pulls, releases)."""
    if not isinstance(body, list):
        raise GitHubError(f"GitHub answered a page of {kind} that is not a JSON list; {_RETRY}")
    return body


@dataclass(frozen=True)
class RepoRef:
    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def path(self) -> str:
        return f"/repos/{self.owner}/{self.name}"


@dataclass(frozen=True)
class Workflow:
    id: int
    name: str
    path: str
    state: str

    @classmethod
    def from_api(cls, d: Any) -> Workflow:
        f = _Fields(d, "workflow")
        return cls(id=f.integer("id"), name=f.string("name"), path=f.string("path"), state=f.string("state"))


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    run_number: int
    run_attempt: int
    workflow_id: int
    status: str | None
    conclusion: str | None
    head_branch: str | None
    head_sha: str
    event: str
    created_at: str
    updated_at: str
    html_url: str

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_api(cls, d: Any) -> WorkflowRun:
        f = _Fields(d, "workflow run")
        return cls(
            id=f.integer("id"),
            run_number=f.integer("run_number"),
            run_attempt=f.integer("run_attempt", 1),
            workflow_id=f.integer("workflow_id"),
            status=f.opt_string("status"),
            conclusion=f.opt_string("conclusion"),
            head_branch=f.opt_string("head_branch"),
            head_sha=f.string("head_sha"),
            event=f.string("event"),
            created_at=f.string("created_at"),
            updated_at=f.string("updated_at"),
            html_url=f.string("html_url"),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Job:
    id: int
    run_id: int
    run_attempt: int
    name: str
    status: str
    conclusion: str | None
    started_at: str | None
    completed_at: str | None
    html_url: str | None
    runner_name: str | None

    @classmethod
    def from_api(cls, d: Any) -> Job:
        f = _Fields(d, "job")
        return cls(
            id=f.integer("id"),
            run_id=f.integer("run_id"),
            run_attempt=f.integer("run_attempt", 1),
            name=f.string("name"),
            status=f.string("status"),
            conclusion=f.opt_string("conclusion"),
            started_at=f.opt_string("started_at"),
            completed_at=f.opt_string("completed_at"),
            html_url=f.opt_string("html_url"),
            runner_name=f.opt_string("runner_name"),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Artifact:
    id: int
    name: str
    size_in_bytes: int
    expired: bool
    digest: str | None
    archive_download_url: str
    created_at: str | None
    expires_at: str | None

    @classmethod
    def from_api(cls, d: Any) -> Artifact:
        f = _Fields(d, "artifact")
        return cls(
            id=f.integer("id"),
            name=f.string("name"),
            size_in_bytes=f.integer("size_in_bytes"),
            expired=f.flag("expired"),
            digest=f.opt_string("digest"),
            archive_download_url=f.string("archive_download_url"),
            created_at=f.opt_string("created_at"),
            expires_at=f.opt_string("expires_at"),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RateLimitWait:
    """The client waits `seconds` before its next request (`reason`: primary, secondary or retry-after)."""

    seconds: float
    reason: str
    path: str


# ---------------------------------------------------------------------------------------- project: PRs, releases


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: str  # "open" | "closed"
    merged: bool
    draft: bool
    title: str
    body: str
    html_url: str
    head_ref: str
    head_sha: str
    base_ref: str
    merge_commit_sha: str | None

    @classmethod
    def from_api(cls, d: Any) -> PullRequest:
        f = _Fields(d, "pull request")
        head, base = f.obj("head", "head"), f.obj("base", "base")
        return cls(
            number=f.integer("number"),
            state=f.string("state"),
            # the list endpoint has no `merged`; `merged_at` is set exactly when the PR was merged
            merged=bool(d.get("merged")) or d.get("merged_at") is not None,
            draft=f.flag("draft", False),
            title=f.string("title"),
            body=f.opt_string("body") or "",
            html_url=f.string("html_url"),
            head_ref=head.string("ref"),
            head_sha=head.string("sha"),
            base_ref=base.string("ref"),
            merge_commit_sha=f.opt_string("merge_commit_sha"),
        )


@dataclass(frozen=True)
class ReleaseAsset:
    id: int
    name: str
    size: int
    content_type: str
    browser_download_url: str

    @classmethod
    def from_api(cls, d: Any) -> ReleaseAsset:
        f = _Fields(d, "release asset")
        return cls(
            id=f.integer("id"),
            name=f.string("name"),
            size=f.integer("size"),
            content_type=f.opt_string("content_type") or "",
            browser_download_url=f.opt_string("browser_download_url") or "",
        )


@dataclass(frozen=True)
class Release:
    id: int
    tag_name: str
    name: str
    body: str
    draft: bool
    prerelease: bool
    html_url: str
    upload_url: str  # an RFC 6570 template: .../assets{?name,label}
    target_commitish: str
    assets: tuple[ReleaseAsset, ...]

    @classmethod
    def from_api(cls, d: Any) -> Release:
        f = _Fields(d, "release")
        return cls(
            id=f.integer("id"),
            tag_name=f.string("tag_name"),
            name=f.opt_string("name") or "",
            body=f.opt_string("body") or "",
            draft=f.flag("draft"),
            prerelease=f.flag("prerelease", False),
            html_url=f.string("html_url"),
            upload_url=f.string("upload_url"),
            target_commitish=f.opt_string("target_commitish") or "",
            assets=tuple(ReleaseAsset.from_api(a) for a in f.items("assets")),
        )


@dataclass(frozen=True)
class GitRef:
    ref: str  # refs/tags/v0.6.0
    sha: str  # the object the ref points at (a tag object for annotated tags)
    type: str  # "commit" | "tag"

    @classmethod
    def from_api(cls, d: Any) -> GitRef:
        f = _Fields(d, "git ref")
        obj = f.obj("object", "object")
        return cls(ref=f.string("ref"), sha=obj.string("sha"), type=obj.string("type"))


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    message: str

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @classmethod
    def from_api(cls, d: Any) -> CommitInfo:
        f = _Fields(d, "commit")
        commit = f.obj("commit", "commit") if d.get("commit") is not None else None
        return cls(
            sha=f.string("sha"),
            parents=tuple(_Fields(p, "commit parent").string("sha") for p in f.items("parents")),
            message=(commit.opt_string("message") if commit else None) or "",
        )


@dataclass(frozen=True)
class PackageVersion:
    """A version of a container package on GitHub Packages (ghcr.io): `name` is its manifest digest, `tags` the
    tags that point at it."""

    id: int
    name: str
    tags: tuple[str, ...]

    @classmethod
    def from_api(cls, d: Any) -> PackageVersion:
        f = _Fields(d, "package version")
        meta = d.get("metadata")
        container = meta.get("container") if isinstance(meta, Mapping) else None
        tags = _Fields(container, "package version's container metadata").items("tags") if container else []
        if not all(isinstance(t, str) for t in tags):
            raise GitHubError(f"GitHub answered a package version whose tags are not all strings; {_RETRY}")
        return cls(id=f.integer("id"), name=f.string("name"), tags=tuple(tags))
