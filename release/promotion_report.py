"""Pure renderers for `images.promote` / `images.copy`: the plan table (with estimates for `--dry-run`) and
`{dev|release}_artifacts_summary.{json,md}` (the original's format, plus digests, conflicts, failures and the
CI file and run each image came from)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tabulate import tabulate

from release.promotion import (
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


class EstimateLike(Protocol):
    @property
    def requests(self) -> int: ...
    @property
    def mounts(self) -> int: ...
    @property
    def uploads(self) -> int: ...
    @property
    def upload_bytes(self) -> int: ...
    @property
    def image_bytes(self) -> int: ...
    @property
    def blobs_present(self) -> int: ...


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


def plan_table(plan: PromotionPlan, estimates: Mapping[str, EstimateLike] | None = None) -> str:
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


def _source_json(source: CiSource | None) -> dict[str, Any]:
    if source is None:
        return {}
    out: dict[str, Any] = {}
    if source.file:
        out["source_file"] = source.file
    if source.run_number is not None:
        out["ci_run_number"] = source.run_number
    if source.run_url:
        out["ci_run_url"] = source.run_url
    if source.job_url:
        out["ci_job_url"] = source.job_url
    return out


def summary_json(result: PromotionResult) -> dict[str, Any]:
    """`{prefix}_artifacts_summary.json`: the original keys first, then details."""
    plan = result.plan
    copied: dict[str, str] = {}
    failed: list[dict[str, Any]] = []
    images: dict[str, dict[str, Any]] = {}
    for o in result.outcomes:
        step = o.step
        assert isinstance(step, Copy)
        if o.ok:
            copied[str(step.dst)] = str(step.src.without_digest())
        else:
            failed.append({"dst": str(step.dst), "src": str(step.src), "error": o.error, "models": list(step.models)})
    with_ci = {str(s.dst): str(s.src) for s in plan.of(Skip) if s.src is not None}
    without_ci = sorted(str(s.dst) for s in plan.of(Skip) if s.src is None)
    to_build = sorted(str(s.dst) for s in plan.of(NeedsBuild))
    conflicts = [
        {
            "dst": str(c.dst), "dst_digest": c.dst_digest, "src": str(c.src), "src_digest": c.src_digest,
            "models": list(c.models), **_source_json(c.source), "decision": c.decision,
        }
        for c in sorted(plan.conflicts, key=lambda c: str(c.dst))
    ]  # fmt: skip
    for step in sorted(plan.steps, key=lambda s: str(s.dst)):
        entry: dict[str, Any] = {"action": step.kind, "models": list(step.models)}
        outcome = result.outcome(step)
        if isinstance(step, Copy):
            entry.update(src=str(step.src), digest=step.digest, **_source_json(step.source))
            entry["result"] = "copied" if outcome and outcome.ok else "failed"
            if step.alternatives:
                entry["other_ci_images"] = list(step.alternatives)
        elif isinstance(step, Skip):
            entry["digest"] = step.digest
            if step.src is not None:
                entry.update(src=str(step.src), **_source_json(step.source))
            if step.reasons:
                entry["reasons"] = dict(step.reasons)
        elif isinstance(step, Conflict):
            entry.update(digest=step.dst_digest, src=str(step.src), src_digest=step.src_digest, decision=step.decision)
        else:
            entry["reasons"] = dict(step.reasons)
        images[str(step.dst)] = entry
    return {
        "images_to_build": to_build,
        "copied_images": dict(sorted(copied.items())),
        "existing_with_ci_ref": dict(sorted(with_ci.items())),
        "existing_without_ci_ref": without_ci,
        "summary": {
            "total_to_build": len(to_build),
            "total_copied": len(copied),
            "total_existing_with_ci": len(with_ci),
            "total_existing_without_ci": len(without_ci),
            "total_conflicts": len(conflicts),
            "total_failed": len(failed),
        },
        "mode": plan.mode,
        "version": plan.version,
        "conflicts": conflicts,
        "failed": sorted(failed, key=lambda f: f["dst"]),
        "images": images,
    }


def _link(ref: str) -> str:
    return ref if ref.startswith("https://") else f"https://{ref}"


def _run_line(entry: Mapping[str, Any]) -> str | None:
    """`  - CI run: [#105](url) (`file`)` from an image entry of the summary JSON."""
    run_url, number, file = entry.get("ci_run_url"), entry.get("ci_run_number"), entry.get("source_file")
    if not (run_url or file):
        return None
    where = f" (`{file}`)" if file else ""
    if not run_url:
        return f"  - from file{where}"
    label = f"#{number}" if number is not None else "run"
    return f"  - CI run: [{label}]({run_url}){where}"


def summary_markdown(result: PromotionResult) -> str:
    """`{prefix}_artifacts_summary.md`: the original's sections, items sorted by destination."""
    return summary_markdown_from_json(summary_json(result))


def summary_markdown_from_json(data: Mapping[str, Any]) -> str:
    """The markdown of a summary JSON (`summary_json`, possibly updated by `summary_with_builds`): one renderer, so
    the two files always agree."""
    images: Mapping[str, Mapping[str, Any]] = data.get("images") or {}
    out = [TITLE, ""]

    out += ["## Images Promoted from Models CI", ""]
    copied: Mapping[str, str] = data.get("copied_images") or {}
    if copied:
        for dst, src in copied.items():
            entry = images.get(dst, {})
            out.append(f"- {_link(dst)}")
            out.append(f"  - from: {_link(src)}")
            out.append(f"  - digest: `{entry.get('digest')}`")
            out.append(f"  - models: {', '.join(entry.get('models') or [])}")
            run = _run_line(entry)
            if run:
                out.append(run)
        out += ["", f"**Total:** {len(copied)}", ""]
    else:
        out += ["No images were copied from Models CI.", ""]

    with_ci: Mapping[str, str] = data.get("existing_with_ci_ref") or {}
    out += ["## Existing Images with Models CI reference", "", WITH_CI_TEXT, ""]
    for dst, src in with_ci.items():
        entry = images.get(dst, {})
        out.append(f"- {dst}")
        out.append(f"  - CI source: {src}")
        out.append(f"  - digest: `{entry.get('digest')}`")
        run = _run_line(entry)
        if run:
            out.append(run)
    out += ["", f"**Total:** {len(with_ci)}", ""] if with_ci else ["**Total:** 0", ""]

    without: list[str] = list(data.get("existing_without_ci_ref") or [])
    out += ["## Existing Images without Models CI reference", "", WITHOUT_CI_TEXT, ""]
    for dst in without:
        out.append(f"- {dst}")
        out.append(f"  - digest: `{images.get(dst, {}).get('digest')}`")
    out += ["", f"**Total:** {len(without)}", ""] if without else ["**Total:** 0", ""]

    builds: list[str] = list(data.get("images_to_build") or [])
    out += ["## Docker Images Requiring New Builds", "", BUILD_NOTE, ""]
    if builds:
        for dst in builds:
            out.append(f"- {dst}")
            for model_id, reason in (images.get(dst, {}).get("reasons") or {}).items():
                out.append(f"  - {model_id}: {reason}")
        out += ["", f"**Total:** {len(builds)}", ""]
    else:
        out += ["No images need to be built." + (" The images listed here before were built (below)." if
                data.get("built_images") else ""), ""]  # fmt: skip

    built: Mapping[str, str] = data.get("built_images") or {}
    if built:
        out += ["## Images Built by the Release Kit", "", BUILT_TEXT, ""]
        for dst, digest in built.items():
            entry = images.get(dst, {})
            out.append(f"- {_link(dst)}")
            out.append(f"  - digest: `{digest}`")
            out.append(f"  - models: {', '.join(entry.get('models') or [])}")
            if entry.get("build_log"):
                out.append(f"  - build log: `{entry['build_log']}`")
        out += ["", f"**Total:** {len(built)}", ""]

    conflicts: list[Mapping[str, Any]] = list(data.get("conflicts") or [])
    if conflicts:
        undecided = any(not c.get("decision") for c in conflicts)
        out += ["## Conflicts", "", CONFLICT_TEXT if undecided else KEPT_TEXT, ""]
        for c in conflicts:
            out.append(f"- {c.get('dst')}")
            out.append(f"  - has: `{c.get('dst_digest')}`")
            out.append(f"  - CI image: {c.get('src')} (`{c.get('src_digest')}`)")
            out.append(f"  - models: {', '.join(c.get('models') or [])}")
            decided = "kept (`--keep-existing`)" if c.get("decision") == "kept" else "needed"
            out.append(f"  - decision: {decided}")
        out += ["", f"**Total:** {len(conflicts)}", ""]

    failures: list[Mapping[str, Any]] = list(data.get("failed") or [])
    if failures:
        out += ["## Failed Copies", "", "Run the same command again; finished copies are not repeated.", ""]
        for f in failures:
            out.append(f"- {f.get('dst')}")
            out.append(f"  - error: {f.get('error')}")
        out += ["", f"**Total:** {len(failures)}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def summary_with_builds(data: Mapping[str, Any], built: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The summary after `images.build`: each image of `images_to_build` that `built` names ({image: {digest,
    build_log}}) moves to `built_images` ({image: digest}, a section of its own), with its digest and build log in
    `images`; the counts follow. Applying the same builds again changes nothing."""
    out = dict(data)
    images = {dst: dict(entry) for dst, entry in (data.get("images") or {}).items()}
    done = dict(data.get("built_images") or {})
    left = []
    for dst in data.get("images_to_build") or []:
        info = built.get(dst)
        if not info or not info.get("digest"):
            left.append(dst)
            continue
        done[dst] = str(info["digest"])
        entry = images.setdefault(dst, {"action": "build", "models": []})
        entry.update(result="built", digest=str(info["digest"]))
        if info.get("build_log"):
            entry["build_log"] = str(info["build_log"])
    out["images_to_build"] = left
    out["built_images"] = dict(sorted(done.items()))
    out["summary"] = {**(data.get("summary") or {}), "total_to_build": len(left), "total_built": len(done)}
    out["images"] = images
    return out


def copy_summary_markdown(result: PromotionResult) -> str:
    """`copy_artifacts_summary.md` for `images.copy --from-summary`."""
    plan = result.plan
    outcomes = {str(o.step.dst): o for o in result.outcomes}
    out = ["# Image Copy Summary", ""]
    copied = sorted((d, o) for d, o in outcomes.items() if o.ok)
    out += ["## Copied", ""]
    for dst, o in copied:
        assert isinstance(o.step, Copy)
        out += [f"- {_link(dst)}", f"  - from: {_link(str(o.step.src.without_digest()))}", f"  - digest: `{o.digest}`"]
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
