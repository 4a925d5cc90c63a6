"""The artifacts summary — `release_logs/{dev,release,copy}_artifacts_summary.json` and its markdown — as one
typed value with one reader (`parse`), one writer (`to_json`) and one renderer (`render`).

`images.promote` and `images.copy` compute it from their result (`promotion_report.summary_of`); `images.build
--only-missing-from` reads it, moves what it built into `built` (`with_builds`) and writes both files again; the
release record and the release notes read their images and decisions from it. The keys of §5.5 come first
(`images_to_build`, `copied_images`, `existing_with_ci_ref`, `existing_without_ci_ref`, `summary`), then the kit's
details. A key that is missing reads as empty (the original's files, hand-made lists); a key of the wrong type is an
InputError naming the file and the key. Everything here is pure but `read`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from release import fsio
from release.errors import InputError
from release.fsio import json_kind, shown

ACTIONS = ("copy", "skip", "conflict", "build")
MAX_FILE_BYTES = 256 << 20  # a few KB per destination image
TITLE = "# Release Artifacts Summary"
WITH_CI_TEXT = (
    "These images already exist in the registry with the same digest as their Models CI image; nothing was copied."
)
WITHOUT_CI_TEXT = (
    "These images already exist in the registry, but no usable Models CI image was found for them; they were "
    "left as they are."
)
BUILD_NOTE = (
    "**Note:** These images do not exist in the registry and no Models CI image with matching commits was "
    "found for them. Build and push them with `inv images.build --push` (add `--release` for release images)."
)
BUILT_TEXT = (
    "No Models CI image could provide these; `inv images.build --push` built them (offline or real recipe, see the "
    "build log) and pushed them, and the registry's digest was checked against the engine's."
)
CONFLICT_TEXT = (
    "These tags already exist with another digest than their Models CI image. The kit never moves a tag: run the "
    "same command with `--keep-existing` to keep them as they are, or bump VERSION, or delete the tag after "
    "checking which image is right, then run again."
)
KEPT_TEXT = (
    "These tags already existed with another digest than their Models CI image; by decision (`--keep-existing`) "
    "they were kept as they are."
)


@dataclass(frozen=True)
class CiOrigin:
    """Where a CI image came from: the last-good file and the run of its record."""

    source_file: str | None = None
    ci_run_number: int | None = None
    ci_run_url: str | None = None
    ci_job_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.source_file:
            out["source_file"] = self.source_file
        if self.ci_run_number is not None:
            out["ci_run_number"] = self.ci_run_number
        if self.ci_run_url:
            out["ci_run_url"] = self.ci_run_url
        if self.ci_job_url:
            out["ci_job_url"] = self.ci_job_url
        return out


@dataclass(frozen=True)
class ImageEntry:
    """One destination of `images`: what the plan decided (`action`) and what happened (`result`)."""

    action: str  # copy | skip | conflict | build
    models: tuple[str, ...] = ()
    digest: str | None = None  # the destination's digest (planned, present, kept or built)
    src: str | None = None
    src_digest: str | None = None  # conflict: the CI image's digest
    decision: str | None = None  # conflict: "kept" (--keep-existing) or None
    result: str | None = None  # copy: copied | failed; build: built
    origin: CiOrigin = CiOrigin()
    other_ci_images: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] | None = None  # (model_id, why no CI image applies)
    build_log: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "models": list(self.models)}
        if self.action == "copy":
            out.update(src=self.src, digest=self.digest, **self.origin.to_json(), result=self.result)
            if self.other_ci_images:
                out["other_ci_images"] = list(self.other_ci_images)
        elif self.action == "skip":
            out["digest"] = self.digest
            if self.src is not None:
                out.update(src=self.src, **self.origin.to_json())
        elif self.action == "conflict":
            out.update(digest=self.digest, src=self.src, src_digest=self.src_digest, decision=self.decision)
        if self.reasons is not None:
            out["reasons"] = dict(self.reasons)
        if self.action == "build" and self.result is not None:
            out.update(result=self.result, digest=self.digest)
        if self.build_log:
            out["build_log"] = self.build_log
        return out


@dataclass(frozen=True)
class ConflictEntry:
    dst: str
    dst_digest: str | None
    src: str | None
    src_digest: str | None
    models: tuple[str, ...] = ()
    origin: CiOrigin = CiOrigin()
    decision: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "dst": self.dst, "dst_digest": self.dst_digest, "src": self.src, "src_digest": self.src_digest,
            "models": list(self.models), **self.origin.to_json(), "decision": self.decision,
        }  # fmt: skip


@dataclass(frozen=True)
class FailedCopy:
    dst: str
    src: str | None
    error: str | None
    models: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"dst": self.dst, "src": self.src, "error": self.error, "models": list(self.models)}


@dataclass(frozen=True)
class ArtifactsSummary:
    images_to_build: tuple[str, ...] | None = ()  # None: the file has no such key (not a summary?)
    copied: Mapping[str, str] = field(default_factory=dict)  # dst → CI image
    with_ci: Mapping[str, str] = field(default_factory=dict)  # existing destinations holding their CI image
    without_ci: tuple[str, ...] = ()  # existing destinations without a usable CI image
    mode: str | None = None  # dev | release | copy
    version: str | None = None
    conflicts: tuple[ConflictEntry, ...] = ()
    failed: tuple[FailedCopy, ...] = ()
    images: Mapping[str, ImageEntry] = field(default_factory=dict)
    built: Mapping[str, str] = field(default_factory=dict)  # dst → digest, after `images.build`

    @property
    def to_build(self) -> tuple[str, ...]:
        return self.images_to_build or ()

    def counts(self) -> dict[str, int]:
        out = {
            "total_to_build": len(self.to_build),
            "total_copied": len(self.copied),
            "total_existing_with_ci": len(self.with_ci),
            "total_existing_without_ci": len(self.without_ci),
            "total_conflicts": len(self.conflicts),
            "total_failed": len(self.failed),
        }
        if self.built:
            out["total_built"] = len(self.built)
        return out

    def kept(self) -> list[str]:
        """Destinations kept as they were by decision (--keep-existing)."""
        return [c.dst for c in self.conflicts if c.decision == "kept"]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "images_to_build": list(self.to_build),
            "copied_images": dict(self.copied),
            "existing_with_ci_ref": dict(self.with_ci),
            "existing_without_ci_ref": list(self.without_ci),
            "summary": self.counts(),
            "mode": self.mode,
            "version": self.version,
            "conflicts": [c.to_json() for c in self.conflicts],
            "failed": [f.to_json() for f in self.failed],
            "images": {dst: entry.to_json() for dst, entry in self.images.items()},
        }
        if self.built:
            out["built_images"] = dict(self.built)
        return out

    def with_builds(self, built: Mapping[str, Mapping[str, Any]]) -> ArtifactsSummary:
        """The summary after `images.build`: each image to build that `built` names ({image: {digest, build_log}})
        moves to `built` (a section of its own), with its digest and build log in `images`. Applying the same
        builds again changes nothing."""
        images = dict(self.images)
        done = dict(self.built)
        left = []
        for dst in self.to_build:
            info = built.get(dst)
            if not info or not info.get("digest"):
                left.append(dst)
                continue
            done[dst] = str(info["digest"])
            entry = images.get(dst) or ImageEntry("build")
            log = str(info["build_log"]) if info.get("build_log") else entry.build_log
            images[dst] = replace(entry, result="built", digest=str(info["digest"]), build_log=log)
        return replace(self, images_to_build=tuple(left), built=dict(sorted(done.items())), images=images)


# ---------------------------------------------------------------------------------------------- rendering


def render(summary: ArtifactsSummary) -> str:
    """`{prefix}_artifacts_summary.md`: the original's sections (items sorted by destination), then the kit's."""
    out = [TITLE, ""]
    out += ["## Images Promoted from Models CI", ""]
    if summary.copied:
        for dst, src in summary.copied.items():
            entry = _entry(summary, dst)
            out += [f"- {https_link(dst)}", f"  - from: {https_link(src)}", f"  - digest: `{entry.digest}`"]
            out += [f"  - models: {', '.join(entry.models)}", *_run_line(entry.origin)]
        out += ["", f"**Total:** {len(summary.copied)}", ""]
    else:
        out += ["No images were copied from Models CI.", ""]

    out += ["## Existing Images with Models CI reference", "", WITH_CI_TEXT, ""]
    for dst, src in summary.with_ci.items():
        entry = _entry(summary, dst)
        out += [f"- {dst}", f"  - CI source: {src}", f"  - digest: `{entry.digest}`", *_run_line(entry.origin)]
    out += _total(len(summary.with_ci))

    out += ["## Existing Images without Models CI reference", "", WITHOUT_CI_TEXT, ""]
    for dst in summary.without_ci:
        out += [f"- {dst}", f"  - digest: `{_entry(summary, dst).digest}`"]
    out += _total(len(summary.without_ci))

    out += ["## Docker Images Requiring New Builds", "", BUILD_NOTE, ""]
    if summary.to_build:
        for dst in summary.to_build:
            out.append(f"- {dst}")
            out += [f"  - {model_id}: {reason}" for model_id, reason in _entry(summary, dst).reasons or ()]
        out += ["", f"**Total:** {len(summary.to_build)}", ""]
    else:
        after = " The images listed here before were built (below)." if summary.built else ""
        out += [f"No images need to be built.{after}", ""]

    if summary.built:
        out += ["## Images Built by the Release Kit", "", BUILT_TEXT, ""]
        for dst, digest in summary.built.items():
            entry = _entry(summary, dst)
            out += [f"- {https_link(dst)}", f"  - digest: `{digest}`", f"  - models: {', '.join(entry.models)}"]
            if entry.build_log:
                out.append(f"  - build log: `{entry.build_log}`")
        out += ["", f"**Total:** {len(summary.built)}", ""]

    if summary.conflicts:
        undecided = any(not c.decision for c in summary.conflicts)
        out += ["## Conflicts", "", CONFLICT_TEXT if undecided else KEPT_TEXT, ""]
        for c in summary.conflicts:
            decided = "kept (`--keep-existing`)" if c.decision == "kept" else "needed"
            out += [f"- {c.dst}", f"  - has: `{c.dst_digest}`", f"  - CI image: {c.src} (`{c.src_digest}`)"]
            out += [f"  - models: {', '.join(c.models)}", f"  - decision: {decided}"]
        out += ["", f"**Total:** {len(summary.conflicts)}", ""]

    if summary.failed:
        out += ["## Failed Copies", "", "Run the same command again; finished copies are not repeated.", ""]
        for f in summary.failed:
            out += [f"- {f.dst}", f"  - error: {f.error}"]
        out += ["", f"**Total:** {len(summary.failed)}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _entry(summary: ArtifactsSummary, dst: str) -> ImageEntry:
    return summary.images.get(dst) or ImageEntry("")


def _total(n: int) -> list[str]:
    return ["", f"**Total:** {n}", ""] if n else ["**Total:** 0", ""]


def https_link(ref: str) -> str:
    """`ghcr.io/x` → `https://ghcr.io/x` (the summaries' links, as the original wrote them)."""
    return ref if ref.startswith("https://") else f"https://{ref}"


def _run_line(origin: CiOrigin) -> list[str]:
    """`  - CI run: [#105](url) (`file`)`, or nothing when the image has no CI origin."""
    if not (origin.ci_run_url or origin.source_file):
        return []
    where = f" (`{origin.source_file}`)" if origin.source_file else ""
    if not origin.ci_run_url:
        return [f"  - from file{where}"]
    label = f"#{origin.ci_run_number}" if origin.ci_run_number is not None else "run"
    return [f"  - CI run: [{label}]({origin.ci_run_url}){where}"]


# ------------------------------------------------------------------------------------------------ reading


def read(path: Path) -> ArtifactsSummary:
    """Read and parse a summary file (a missing or malformed file is an InputError naming it)."""
    return parse(fsio.read_json(path, what="artifacts summary", max_bytes=MAX_FILE_BYTES), source=str(path))


def read_if_exists(path: Path) -> ArtifactsSummary | None:
    return read(path) if Path(path).exists() else None


def parse(data: Any, *, source: str) -> ArtifactsSummary:
    """The value of an artifacts summary JSON; a key of the wrong type is one InputError line naming it."""
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a JSON object (an artifacts summary), got {json_kind(data)}")
    r = _Reader(source)
    to_build = data.get("images_to_build")
    return ArtifactsSummary(
        images_to_build=None if to_build is None else r.strings(to_build, "images_to_build"),
        copied=r.string_map(data.get("copied_images", {}), "copied_images"),
        with_ci=r.string_map(data.get("existing_with_ci_ref", {}), "existing_with_ci_ref"),
        without_ci=r.strings(data.get("existing_without_ci_ref", []), "existing_without_ci_ref"),
        mode=r.text(data.get("mode"), "mode"),
        version=r.text(data.get("version"), "version"),
        conflicts=tuple(r.conflict(c, f"conflicts[{n}]") for n, c in enumerate(r.items(data, "conflicts"))),
        failed=tuple(r.failure(f, f"failed[{n}]") for n, f in enumerate(r.items(data, "failed"))),
        images={
            dst: r.image(entry, f"images.{shown(dst)}")
            for dst, entry in r.mapping(data.get("images", {}), "images").items()
        },
        built=r.string_map(data.get("built_images", {}), "built_images"),
    )


class _Reader:
    """Typed reads of one summary's values; every refusal names the file and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, wanted: str, value: Any) -> InputError:
        return InputError(f"{self.source}: {where}: expected {wanted}, got {json_kind(value)}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, "an object", value)
        return value

    def items(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "a list", value)
        return [self.mapping(v, f"{key}[{n}]") for n, v in enumerate(value)]

    def text(self, value: Any, where: str) -> str | None:
        if value is not None and not isinstance(value, str):
            raise self.fail(where, "a string or null", value)
        return value

    def number(self, value: Any, where: str) -> int | None:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self.fail(where, "an integer or null", value)
        return value

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, "a list of image names", value)
        return tuple(value)

    def string_map(self, value: Any, where: str) -> dict[str, str]:
        for key, text in self.mapping(value, where).items():
            if not isinstance(text, str):
                raise self.fail(f"{where}.{shown(key)}", "a string", text)
        return dict(value)

    def field(self, entry: Mapping[str, Any], key: str, where: str) -> str | None:
        return self.text(entry.get(key), f"{where}.{key}")

    def destination(self, entry: Mapping[str, Any], where: str) -> str:
        dst = self.field(entry, "dst", where)
        if dst is None:
            raise self.fail(f"{where}.dst", "an image name", None)
        return dst

    def origin(self, entry: Mapping[str, Any], where: str) -> CiOrigin:
        number = self.number(entry.get("ci_run_number"), f"{where}.ci_run_number")
        return CiOrigin(
            self.field(entry, "source_file", where), number, self.field(entry, "ci_run_url", where),
            self.field(entry, "ci_job_url", where),
        )  # fmt: skip

    def image(self, value: Any, where: str) -> ImageEntry:
        entry = self.mapping(value, where)
        action = entry.get("action")
        if action not in ACTIONS:
            raise self.fail(f"{where}.action", " | ".join(ACTIONS), action)
        reasons = entry.get("reasons")
        return ImageEntry(
            action=action,
            models=self.strings(entry.get("models", []), f"{where}.models"),
            digest=self.field(entry, "digest", where),
            src=self.field(entry, "src", where),
            src_digest=self.field(entry, "src_digest", where),
            decision=self.field(entry, "decision", where),
            result=self.field(entry, "result", where),
            origin=self.origin(entry, where),
            other_ci_images=self.strings(entry.get("other_ci_images", []), f"{where}.other_ci_images"),
            reasons=None if reasons is None else tuple(self.string_map(reasons, f"{where}.reasons").items()),
            build_log=self.field(entry, "build_log", where),
        )

    def conflict(self, entry: Mapping[str, Any], where: str) -> ConflictEntry:
        return ConflictEntry(
            dst=self.destination(entry, where),
            dst_digest=self.field(entry, "dst_digest", where),
            src=self.field(entry, "src", where),
            src_digest=self.field(entry, "src_digest", where),
            models=self.strings(entry.get("models", []), f"{where}.models"),
            origin=self.origin(entry, where),
            decision=self.field(entry, "decision", where),
        )

    def failure(self, entry: Mapping[str, Any], where: str) -> FailedCopy:
        return FailedCopy(
            dst=self.destination(entry, where),
            src=self.field(entry, "src", where),
            error=self.field(entry, "error", where),
            models=self.strings(entry.get("models", []), f"{where}.models"),
        )
