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
