"""Pure values returned by the GitHub client (frozen dataclasses built from API JSON).

Kept apart from `release.github` so that pure modules (parsing, selection, rendering) can use them without
importing an HTTP library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
    def from_api(cls, d: Mapping[str, Any]) -> Workflow:
        return cls(id=int(d["id"]), name=str(d["name"]), path=str(d["path"]), state=str(d["state"]))


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
    def from_api(cls, d: Mapping[str, Any]) -> WorkflowRun:
        return cls(
            id=int(d["id"]),
            run_number=int(d["run_number"]),
            run_attempt=int(d.get("run_attempt") or 1),
            workflow_id=int(d["workflow_id"]),
            status=d.get("status"),
            conclusion=d.get("conclusion"),
            head_branch=d.get("head_branch"),
            head_sha=str(d["head_sha"]),
            event=str(d["event"]),
            created_at=str(d["created_at"]),
            updated_at=str(d["updated_at"]),
            html_url=str(d["html_url"]),
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
    def from_api(cls, d: Mapping[str, Any]) -> Job:
        return cls(
            id=int(d["id"]),
            run_id=int(d["run_id"]),
            run_attempt=int(d.get("run_attempt") or 1),
            name=str(d["name"]),
            status=str(d["status"]),
            conclusion=d.get("conclusion"),
            started_at=d.get("started_at"),
            completed_at=d.get("completed_at"),
            html_url=d.get("html_url"),
            runner_name=d.get("runner_name"),
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
    def from_api(cls, d: Mapping[str, Any]) -> Artifact:
        return cls(
            id=int(d["id"]),
            name=str(d["name"]),
            size_in_bytes=int(d["size_in_bytes"]),
            expired=bool(d["expired"]),
            digest=d.get("digest"),
            archive_download_url=str(d["archive_download_url"]),
            created_at=d.get("created_at"),
            expires_at=d.get("expires_at"),
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
    def from_api(cls, d: Mapping[str, Any]) -> PullRequest:
        return cls(
            number=int(d["number"]),
            state=str(d["state"]),
            # the list endpoint has no `merged`; `merged_at` is set exactly when the PR was merged
            merged=bool(d.get("merged")) or d.get("merged_at") is not None,
            draft=bool(d.get("draft", False)),
            title=str(d["title"]),
            body=str(d.get("body") or ""),
            html_url=str(d["html_url"]),
            head_ref=str(d["head"]["ref"]),
            head_sha=str(d["head"]["sha"]),
            base_ref=str(d["base"]["ref"]),
            merge_commit_sha=d.get("merge_commit_sha"),
        )


@dataclass(frozen=True)
class ReleaseAsset:
    id: int
    name: str
    size: int
    content_type: str
    browser_download_url: str

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ReleaseAsset:
        return cls(
            id=int(d["id"]),
            name=str(d["name"]),
            size=int(d["size"]),
            content_type=str(d.get("content_type") or ""),
            browser_download_url=str(d.get("browser_download_url") or ""),
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
    def from_api(cls, d: Mapping[str, Any]) -> Release:
        return cls(
            id=int(d["id"]),
            tag_name=str(d["tag_name"]),
            name=str(d.get("name") or ""),
            body=str(d.get("body") or ""),
            draft=bool(d["draft"]),
            prerelease=bool(d.get("prerelease", False)),
            html_url=str(d["html_url"]),
            upload_url=str(d["upload_url"]),
            target_commitish=str(d.get("target_commitish") or ""),
            assets=tuple(ReleaseAsset.from_api(a) for a in d.get("assets") or ()),
        )


@dataclass(frozen=True)
class GitRef:
    ref: str  # refs/tags/v0.6.0
    sha: str  # the object the ref points at (a tag object for annotated tags)
    type: str  # "commit" | "tag"

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> GitRef:
        return cls(ref=str(d["ref"]), sha=str(d["object"]["sha"]), type=str(d["object"]["type"]))


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    message: str

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> CommitInfo:
        return cls(
            sha=str(d["sha"]),
            parents=tuple(str(p["sha"]) for p in d.get("parents") or ()),
            message=str((d.get("commit") or {}).get("message") or ""),
        )
