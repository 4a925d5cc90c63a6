"""The release record, `release_logs/release_record_vX.Y.Z.json` — what was released, where it came from and how
to check it.

One typed value, written once by `inv release` and read back (`read`, its one reader) by everything that reports on
the release: the release notes list its images and commit (`gitflow.render_notes`), `inv images.audit --record`
checks its digests, the undo of a release deletes what it recorded.
Its images come from the release artifacts summary after the builds (`ArtifactsSummary.with_builds`), so
the summary, the record and the notes name the same images with the same digests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release import fsio
from release.artifacts_summary import ArtifactsSummary
from release.errors import InputError
from release.notes import UNKNOWN, CiRunRef, ReleasedImage

SCHEMA = 1

# How an image came to be in the release, from the summary's per-image `action` and `result`.
HOW = {
    ("copy", "copied"): "promoted",
    ("copy", "failed"): "copy failed",
    ("skip", None): "existing",
    ("build", "built"): "built",
    ("build", None): "needs build",
    ("conflict", None): "conflict",
    ("conflict", "kept"): "kept",  # a conflict decided with --keep-existing: the destination as it was
}


@dataclass(frozen=True)
class RecordImage:
    destination: str
    digest: str | None
    how: str  # promoted | existing | kept | built | needs build | copy failed | conflict
    source: str | None = None
    models: tuple[str, ...] = ()
    ci_run_number: int | None = None
    ci_run_url: str | None = None
    ci_job_url: str | None = None
    build_log: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "destination": self.destination,
            "digest": self.digest,
            "source": self.source,
            "how": self.how,
            "models": list(self.models),
        }
        if self.how != "built":
            out.update(ci_run_number=self.ci_run_number, ci_run_url=self.ci_run_url, ci_job_url=self.ci_job_url)
        if self.build_log:
            out["build_log"] = self.build_log
        return out

    @classmethod
    def from_json(cls, data: Any, *, where: str) -> RecordImage:
        if not isinstance(data, Mapping) or not isinstance(data.get("destination"), str):
            raise InputError(f"{where}.destination: missing")
        number = data.get("ci_run_number")
        return cls(
            destination=data["destination"],
            digest=_opt_str(data.get("digest")),
            how=str(data.get("how") or "unknown"),
            source=_opt_str(data.get("source")),
            models=tuple(str(m) for m in data.get("models") or ()),
            ci_run_number=number if isinstance(number, int) else None,
            ci_run_url=_opt_str(data.get("ci_run_url")),
            ci_job_url=_opt_str(data.get("ci_job_url")),
            build_log=_opt_str(data.get("build_log")),
        )


@dataclass(frozen=True)
class RecordDecision:
    """A conflict the release engineer decided: `decision` "kept" (--keep-existing) left the destination as it was."""

    step: str  # images.promote --dev | images.promote --release
    destination: str
    decision: str
    kept_digest: str | None
    ci_image: str | None
    ci_digest: str | None
    models: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "destination": self.destination,
            "decision": self.decision,
            "kept_digest": self.kept_digest,
            "ci_image": self.ci_image,
            "ci_digest": self.ci_digest,
            "models": list(self.models),
        }

    @classmethod
    def from_json(cls, data: Any, *, where: str) -> RecordDecision:
        if not isinstance(data, Mapping) or not isinstance(data.get("destination"), str):
            raise InputError(f"{where}.destination: missing")
        return cls(
            step=str(data.get("step") or ""),
            destination=data["destination"],
            decision=str(data.get("decision") or ""),
            kept_digest=_opt_str(data.get("kept_digest")),
            ci_image=_opt_str(data.get("ci_image")),
            ci_digest=_opt_str(data.get("ci_digest")),
            models=tuple(str(m) for m in data.get("models") or ()),
        )


@dataclass(frozen=True)
class ReleaseRecord:
    version: str
    created_at: str
    tool_version: str
    tag: str
    commit: str | None  # the head of the rc branch when the record was written
    remote: str
    remote_url: str | None
    branches: Mapping[str, str | None]
    catalogue_path: str
    catalogue_sha256: str
    last_good: str | None
    ci_runs: tuple[CiRunRef, ...]
    images: tuple[RecordImage, ...]
    pull_requests: Mapping[str, Any] = field(default_factory=dict)
    decisions: tuple[RecordDecision, ...] = ()  # conflicts decided while promoting (--keep-existing)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tool": {"name": "tt-release-kit", "version": self.tool_version},
            "version": self.version,
            "created_at": self.created_at,
            "git": {
                "remote": self.remote,
                "remote_url": self.remote_url,
                "tag": self.tag,
                "commit": self.commit,
                "branches": dict(self.branches),
            },
            "catalogue": {"path": self.catalogue_path, "sha256": self.catalogue_sha256},
            "ci": {
                "last_good": self.last_good,
                "runs": [{"run_id": r.run_id, "run_number": r.run_number, "url": r.url} for r in self.ci_runs],
            },
            "images": [i.to_json() for i in self.images],
            "decisions": [d.to_json() for d in self.decisions],
            "pull_requests": dict(self.pull_requests),
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str) -> ReleaseRecord:
        """A record read back; a file that is not one is an InputError naming the field."""
        if not isinstance(data, Mapping) or not isinstance(data.get("version"), str):
            raise InputError(f"{source}: version: missing (not a release record?)")
        images = data.get("images")
        if not isinstance(images, list):
            raise InputError(f"{source}: images: missing (not a release record?)")
        git = _mapping(data.get("git"))
        ci = _mapping(data.get("ci"))
        cat = _mapping(data.get("catalogue"))
        runs = [_mapping(r) for r in ci.get("runs") or [] if isinstance(r, Mapping)]
        decided: list[Any] = data["decisions"] if isinstance(data.get("decisions"), list) else []
        return cls(
            version=data["version"],
            created_at=str(data.get("created_at") or ""),
            tool_version=str(_mapping(data.get("tool")).get("version") or ""),
            tag=str(git.get("tag") or f"v{data['version']}"),
            commit=_opt_str(git.get("commit")),
            remote=str(git.get("remote") or ""),
            remote_url=_opt_str(git.get("remote_url")),
            branches={str(k): _opt_str(v) for k, v in _mapping(git.get("branches")).items()},
            catalogue_path=str(cat.get("path") or ""),
            catalogue_sha256=str(cat.get("sha256") or ""),
            last_good=_opt_str(ci.get("last_good")),
            ci_runs=tuple(CiRunRef(str(r.get("run_id")), str(r.get("run_number")), str(r.get("url"))) for r in runs),
            images=tuple(RecordImage.from_json(i, where=f"{source}: images[{n}]") for n, i in enumerate(images)),
            pull_requests=_mapping(data.get("pull_requests")),
            decisions=tuple(
                RecordDecision.from_json(d, where=f"{source}: decisions[{n}]") for n, d in enumerate(decided)
            ),
        )


def read(path: Path, *, shown: str | None = None) -> ReleaseRecord:
    """The record at `path` (`shown`: how messages name it); missing, not JSON or not a record: InputError."""
    return ReleaseRecord.from_json(fsio.read_json(Path(path), what="release record"), source=shown or str(path))


def read_if_exists(path: Path) -> ReleaseRecord | None:
    return read(path) if Path(path).exists() else None


def images_from_summary(summary: ArtifactsSummary) -> tuple[RecordImage, ...]:
    """The images of an artifacts summary (its per-image entries), sorted by destination."""
    out = []
    for dst, entry in sorted(summary.images.items()):
        result = entry.result if entry.action in ("copy", "build") else None
        if entry.action == "conflict":
            result = entry.decision
        if entry.action == "build" and result != "built":
            result = None
        how = HOW.get((entry.action, result), entry.action or "unknown")
        out.append(
            RecordImage(
                destination=dst,
                digest=entry.digest or None if how not in ("needs build", "copy failed") else None,
                how=how,
                source=entry.src or None,
                models=entry.models,
                ci_run_number=entry.origin.ci_run_number,
                ci_run_url=entry.origin.ci_run_url,
                ci_job_url=entry.origin.ci_job_url,
                build_log=entry.build_log,
            )
        )
    return tuple(out)


def decisions_from_summary(summary: ArtifactsSummary, *, step: str) -> list[RecordDecision]:
    """The decided conflicts of an artifacts summary (its conflicts with a decision)."""
    return [
        RecordDecision(step, c.dst, c.decision, c.dst_digest, c.src, c.src_digest, c.models)
        for c in summary.conflicts
        if c.decision
    ]


def released_images(images: Sequence[RecordImage]) -> list[ReleasedImage]:
    """The rows of the release notes' image table: exactly the record's images, digests and how they came."""
    return [ReleasedImage(i.destination, i.digest or UNKNOWN, i.source or "—", i.how) for i in images]


def _opt_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
