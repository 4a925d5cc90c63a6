"""Pure renderers for `images.promote` / `images.copy`: the plan table (with estimates for `--dry-run`) and
`{dev|release}_artifacts_summary.{json,md}` (the original's format, plus digests, conflicts, failures and the
CI file and run each image came from)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from release import artifacts_summary
from release.artifacts_summary import ArtifactsSummary, CiOrigin, ConflictEntry, FailedCopy, ImageEntry, https_link
from release.images.promotion import (
    CiSource,
    Conflict,
    Copy,
    NeedsBuild,
    PromotionPlan,
    PromotionResult,
    Skip,
    Step,
    StepOutcome,
)

if TYPE_CHECKING:
    from release.registry_copy import CopyEstimate


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def short(digest: str | None) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "-"


def _models(step: Step) -> str:
    first = step.models[0]
    return first if len(step.models) == 1 else f"{first} (+{len(step.models) - 1})"


def _what(step: Step) -> str:
    if isinstance(step, Copy):
        return f"from {step.src}"
    if isinstance(step, Skip):
        return "same digest as CI image" if step.src else "exists; no usable CI image"
    if isinstance(step, Conflict):
        return f"has {short(step.dst_digest)}, CI image {short(step.src_digest)}"
    return "; ".join(sorted({r for _, r in step.reasons}))


ACTION = {"copy": "copy", "skip": "present", "conflict": "CONFLICT", "build": "needs build"}
COPY_ACTION = {**ACTION, "build": "NO SOURCE"}


def _action(step: Step, copy_mode: bool) -> str:
    if isinstance(step, Conflict) and step.decision == "kept":
        return "kept"
    return (COPY_ACTION if copy_mode else ACTION)[step.kind]


def plan_table(plan: PromotionPlan, estimates: Mapping[str, CopyEstimate] | None = None) -> str:
    """The plan, one row per destination; with `estimates` (dry run) the requests and bytes a copy needs."""
    rows = []
    totals = [0, 0, 0, 0, 0]
    copy_mode = plan.mode == "copy"
    for step in plan.steps:
        if copy_mode:
            row: list[Any] = [_action(step, True), str(step.dst), _what(step)]
        else:
            row = [_action(step, False), str(step.dst), _what(step), _models(step)]
        if estimates is not None:
            est = estimates.get(str(step.dst)) if isinstance(step, Copy) else None
            if est is not None:
                vals = [est.requests, est.mounts, est.uploads, est.upload_bytes, est.image_bytes]
                totals = [a + b for a, b in zip(totals, vals, strict=True)]
                row += [est.requests, est.mounts, est.uploads, human_bytes(est.upload_bytes)]
            else:
                row += ["", "", "", ""]
        rows.append(row)
    headers = ["action", "destination", "source / reason"] + ([] if copy_mode else ["models"])
    if estimates is not None:
        headers += ["requests", "mounts", "uploads", "upload"]
    text = tabulate(rows, headers=headers, tablefmt="simple") if rows else "(no images in the catalogue)"
    counts = _counts_line(plan)
    if estimates is not None:
        requests, mounts, uploads, up, image = totals
        counts += (
            f"\nestimated: {requests} requests ({mounts} blob mounts, {uploads} blob uploads), "
            f"{human_bytes(up)} to upload for {human_bytes(image)} of images"
        )
    return f"{text}\n\n{counts}"


def _counts_line(plan: PromotionPlan) -> str:
    n = {k: sum(1 for s in plan.steps if s.kind == k) for k in ("copy", "skip", "conflict", "build")}
    kept = len(plan.conflicts) - len(plan.undecided)
    conflicts = f"{n['conflict']} conflicts" + (f" ({kept} kept)" if kept else "")
    if plan.mode == "copy":
        return (
            f"{len(plan.steps)} pair(s): {n['copy']} to copy, {n['skip']} present with the same digest, "
            f"{conflicts}, {n['build']} missing sources"
        )
    return (
        f"{plan.mode} images for {plan.version or 'the given pairs'}: {n['copy']} to copy, {n['skip']} present, "
        f"{conflicts}, {n['build']} need builds"
    )


def result_table(result: PromotionResult) -> str:
    rows = []
    for o in result.outcomes:
        if o.ok:
            how = f"{o.blobs_mounted} mounted, {o.blobs_uploaded} uploaded ({human_bytes(o.bytes_uploaded)})"
        else:
            how = f"FAILED: {o.error}"
        rows.append([str(o.step.dst), short(o.digest or o.step.digest if isinstance(o.step, Copy) else None), how])
    text = tabulate(rows, headers=["copied to", "digest", "blobs"], tablefmt="simple") if rows else "nothing copied"
    return text


# ------------------------------------------------------------------------------------------- summaries


def summary_of(result: PromotionResult) -> ArtifactsSummary:
    """The artifacts summary of a promotion (or copy) result: the original's sections, then details."""
    plan = result.plan
    copied: dict[str, str] = {}
    failed: list[FailedCopy] = []
    for o in result.outcomes:
        step = o.step
        assert isinstance(step, Copy)
        if o.ok:
            copied[str(step.dst)] = str(step.src.without_digest())
        else:
            failed.append(FailedCopy(str(step.dst), str(step.src), o.error, step.models))
    return ArtifactsSummary(
        images_to_build=tuple(sorted(str(s.dst) for s in plan.of(NeedsBuild))),
        copied=dict(sorted(copied.items())),
        with_ci=dict(sorted((str(s.dst), str(s.src)) for s in plan.of(Skip) if s.src is not None)),
        without_ci=tuple(sorted(str(s.dst) for s in plan.of(Skip) if s.src is None)),
        mode=plan.mode,
        version=plan.version,
        conflicts=tuple(
            ConflictEntry(str(c.dst), c.dst_digest, str(c.src), c.src_digest, c.models, _origin(c.source), c.decision)
            for c in sorted(plan.conflicts, key=lambda c: str(c.dst))
        ),
        failed=tuple(sorted(failed, key=lambda f: f.dst)),
        images={str(s.dst): _image_entry(s, result.outcome(s)) for s in sorted(plan.steps, key=lambda s: str(s.dst))},
    )


def _image_entry(step: Step, outcome: StepOutcome | None) -> ImageEntry:
    if isinstance(step, Copy):
        return ImageEntry(
            "copy", step.models, step.digest, str(step.src), origin=_origin(step.source),
            result="copied" if outcome and outcome.ok else "failed", other_ci_images=step.alternatives,
        )  # fmt: skip
    if isinstance(step, Skip):
        src = str(step.src) if step.src is not None else None
        return ImageEntry(
            "skip", step.models, step.digest, src, origin=_origin(step.source), reasons=step.reasons or None
        )
    if isinstance(step, Conflict):
        return ImageEntry("conflict", step.models, step.dst_digest, str(step.src), step.src_digest, step.decision)
    return ImageEntry("build", step.models, reasons=step.reasons)


def _origin(source: CiSource | None) -> CiOrigin:
    if source is None:
        return CiOrigin()
    return CiOrigin(source.file or None, source.run_number, source.run_url, source.job_url)


def summary_json(result: PromotionResult) -> dict[str, Any]:
    """`{prefix}_artifacts_summary.json`."""
    return summary_of(result).to_json()


def summary_markdown(result: PromotionResult) -> str:
    """`{prefix}_artifacts_summary.md`."""
    return artifacts_summary.render(summary_of(result))


def copy_summary_markdown(result: PromotionResult) -> str:
    """`copy_artifacts_summary.md` for `images.copy --from-summary`."""
    plan = result.plan
    outcomes = {str(o.step.dst): o for o in result.outcomes}
    out = ["# Image Copy Summary", ""]
    copied = sorted((d, o) for d, o in outcomes.items() if o.ok)
    out += ["## Copied", ""]
    for dst, o in copied:
        assert isinstance(o.step, Copy)
        out += [
            f"- {https_link(dst)}",
            f"  - from: {https_link(str(o.step.src.without_digest()))}",
            f"  - digest: `{o.digest}`",
        ]
    out += [f"**Total:** {len(copied)}" if not copied else f"\n**Total:** {len(copied)}", ""]
    present = sorted((str(s.dst), s) for s in plan.of(Skip))
    out += ["## Already Present", "", "These destinations already hold the source's digest.", ""]
    for dst, s in present:
        out += [f"- {dst}", f"  - digest: `{s.digest}`"]
    out += [f"**Total:** {len(present)}" if not present else f"\n**Total:** {len(present)}", ""]
    conflicts = sorted(plan.conflicts, key=lambda c: str(c.dst))
    missing = sorted(plan.of(NeedsBuild), key=lambda b: str(b.dst))
    failures = sorted(result.failures, key=lambda o: str(o.step.dst))
    sections: list[tuple[str, list[str]]] = [
        (
            "Conflicts",
            [f"- {c.dst}\n  - has: `{c.dst_digest}`\n  - source: {c.src} (`{c.src_digest}`)" for c in conflicts],
        ),
        ("Missing Sources", [f"- {b.dst}\n  - {b.reasons[0][1]}" for b in missing]),
        ("Failed Copies", [f"- {o.step.dst}\n  - error: {o.error}" for o in failures]),
    ]
    for title, items in sections:
        if items:
            out += [f"## {title}", "", *items, "", f"**Total:** {len(items)}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def copy_json(result: PromotionResult) -> dict[str, Any]:
    """`images.copy --json`: one entry per pair."""
    items = []
    for step in result.plan.steps:
        entry: dict[str, Any] = {"src": str(getattr(step, "src", "") or ""), "dst": str(step.dst)}
        o = result.outcome(step)
        if isinstance(step, Copy):
            entry.update(result="copied" if o and o.ok else "failed", digest=step.digest)
            if o and o.ok:
                entry.update(
                    blobs_mounted=o.blobs_mounted, blobs_uploaded=o.blobs_uploaded, bytes_uploaded=o.bytes_uploaded
                )
            elif o:
                entry["error"] = o.error
        elif isinstance(step, Skip):
            entry.update(result="present", digest=step.digest)
        elif isinstance(step, Conflict):
            entry.update(result="conflict", dst_digest=step.dst_digest, digest=step.src_digest)
        else:
            entry.update(result="source_not_found", error=step.reasons[0][1])
        items.append(entry)
    return {"pairs": items, "ok": result.ok and not result.plan.of(NeedsBuild)}


def copy_lines(result: PromotionResult) -> list[str]:
    """Human output of `images.copy SRC DST`: what happened and the resulting digest."""
    lines = []
    for step in result.plan.steps:
        o = result.outcome(step)
        if isinstance(step, Copy) and o and o.ok:
            how = f"{o.blobs_mounted} blobs mounted, {o.blobs_uploaded} uploaded ({human_bytes(o.bytes_uploaded)})"
            lines += [f"copied {step.src.without_digest()} → {step.dst} ({how})", f"{step.dst.name}@{step.digest}"]
        elif isinstance(step, Skip):
            lines += [f"{step.dst} already holds {step.digest}; nothing copied", f"{step.dst.name}@{step.digest}"]
    return lines


def outcome_line(o: StepOutcome) -> str:
    return f"{o.step.dst} {o.digest}" if o.ok else f"{o.step.dst}: {o.error}"
