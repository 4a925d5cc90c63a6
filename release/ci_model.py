"""Pure values of a Models CI read: catalogue references, entries, and the result of `ci_read.read_ci`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from release.ci_hardware import model_name_from_id
from release.ci_logs import JobLogInfo
from release.ci_parse import ArtifactParse
from release.github_types import RepoRef, WorkflowRun


@dataclass(frozen=True)
class ModelRef:
    """What ci.read needs from a catalogue spec (`model_name` defaults to the one spelled by the model_id)."""

    model_id: str
    device: str
    impl_name: str
    model_name: str = ""

    def __post_init__(self) -> None:
        if not self.model_name:
            object.__setattr__(self, "model_name", model_name_from_id(self.model_id, self.impl_name, self.device))


@dataclass(frozen=True)
class CiEntry:
    """One model's `workflow_logs_*` artifact in one run, with the job that produced it (if matched)."""

    run_id: int
    run_number: int
    artifact_id: int
    artifact_name: str
    parse: ArtifactParse
    job: Mapping[str, Any] | None = None

    @property
    def model_id(self) -> str | None:
        return self.parse.model_id

    @property
    def is_passing(self) -> bool:
        return self.parse.is_passing

    @property
    def job_id(self) -> int | None:
        return int(self.job["job_id"]) if self.job else None

    def order_key(self) -> tuple[int, str, int]:
        """Newer runs first; in one run, the job that completed last; then the artifact id."""
        completed = (self.job or {}).get("completed_at") or ""
        return (self.run_number, str(completed), self.artifact_id)


@dataclass(frozen=True)
class SkippedArtifact:
    run_number: int
    artifact_name: str
    reason: str  # "expired" | "known-good" | "not-cached"


@dataclass(frozen=True)
class CiReadResult:
    repo: RepoRef
    workflow_file: str
    runs: tuple[WorkflowRun, ...]  # examined by this invocation, newest first
    entries: tuple[CiEntry, ...]
    last_good: Mapping[str, CiEntry | None]  # one key per catalogue model, catalogue order
    models: tuple[ModelRef, ...]
    logs: Mapping[int, JobLogInfo] = field(default_factory=dict)  # job id → parsed log (last-good jobs)
    build_runners: Mapping[int, str | None] = field(default_factory=dict)  # run id → build job's runner
    skipped: tuple[SkippedArtifact, ...] = ()
    unknown_model_ids: tuple[str, ...] = ()
    missing_logs: tuple[int, ...] = ()  # last-good jobs whose log GitHub no longer has (404/410)

    @property
    def run_range(self) -> tuple[int, int] | None:
        if not self.runs:
            return None
        numbers = [r.run_number for r in self.runs]
        return min(numbers), max(numbers)


@dataclass(frozen=True)
class Progress:
    """Reported through on_event: `stage` is runs | listings | artifacts | logs."""

    stage: str
    done: int
    total: int
    detail: str = ""


@dataclass(frozen=True)
class ReadPlan:
    """What `inv ci.read --dry-run` shows: the runs it would examine and which are cached already."""

    runs: tuple[WorkflowRun, ...]
    cached: frozenset[int]

    @property
    def span(self) -> str:
        numbers = [r.run_number for r in self.runs]
        return f"{min(numbers)}_to_{max(numbers)}" if numbers else "none"
