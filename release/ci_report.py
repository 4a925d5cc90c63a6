"""Pure renderers for `inv ci.read`: the two output documents (§8.1, §8.2), the summary JSON and its table."""

from __future__ import annotations

import textwrap
from typing import Any

from tabulate import tabulate

from release.ci_logs import JobLogInfo
from release.ci_model import CiEntry, CiReadResult, Progress, ReadPlan
from release.github_types import RateLimitWait, WorkflowRun

UNIDENTIFIED = "_unidentified"


def output_names(result: CiReadResult) -> tuple[str, str]:
    """(all_results, last_good) file names; the range is the run numbers examined by this invocation."""
    rng = result.run_range
    span = f"{rng[0]}_to_{rng[1]}" if rng else "none"
    return f"models_ci_all_results_{span}.json", f"models_ci_last_good_{span}.json"


def _stamp(ts: str | None) -> str | None:
    """`2025-12-14T04:00:00Z` → `2025-12-14_04-00-00`."""
    if not ts:
        return None
    return ts.replace("Z", "").split("+", 1)[0].split(".", 1)[0].replace("T", "_").replace(":", "-")


def _job_metadata(entry: CiEntry) -> dict[str, Any] | None:
    if entry.job is None:
        return None
    return {k: v for k, v in entry.job.items() if k != "runner_name"}


def _entry_doc(result: CiReadResult, entry: CiEntry, run: WorkflowRun) -> dict[str, Any]:
    job = entry.job or {}
    info = result.logs.get(entry.job_id) if entry.job_id is not None else None
    workflow_logs: dict[str, Any] = {
        "dir_name": entry.artifact_name,
        "summary": entry.parse.summary,
        "run_specs": entry.parse.run_specs,
        "reports_output": entry.parse.reports_output,
        "tt_smi_output": None,
    }
    if entry.parse.reason is not None:
        workflow_logs["unparseable"] = entry.parse.reason
    return {
        "job_run_datetimestamp": _stamp(job.get("completed_at") or run.updated_at),
        "ci_metadata": {
            "run_id": run.id,
            "run_number": run.run_number,
            "owner": result.repo.owner,
            "repo": result.repo.name,
            "workflow_file": result.workflow_file,
            "created_at": run.created_at,
            "updated_at": run.updated_at,
            "ci_run_url": run.html_url,
            "ci_job_metadata": _job_metadata(entry),
        },
        "ci_logs": {
            "docker_image": info.docker_image if info else None,
            "build_runner_name": result.build_runners.get(run.id),
            "firmware_bundle": info.firmware_bundle if info else None,
            "kmd_version": info.kmd_version if info else None,
            "ci_log_tt_smi_output": info.tt_smi if info else None,
            "runner_name": job.get("runner_name") or (info.runner_name if info else None),
            "tt_inference_server_checkout": _checkout_doc(info),
        },
        "workflow_logs": workflow_logs,
    }


def _checkout_doc(info: JobLogInfo | None) -> dict[str, Any] | None:
    """Where the job log says which tt-inference-server commit the job checked out."""
    c = info.checkout if info is not None else None
    if c is None:
        return None
    return {"commit": c.commit, "line_number": c.line_number, "line": c.line}


def all_results(result: CiReadResult) -> dict[str, list[dict[str, Any]]]:
    """{model_id: [entries, newest first]}: catalogue models first (in catalogue order), then other
    model_ids sorted, then `_unidentified` (artifacts whose model_id could not be read)."""
    runs = {r.id: r for r in result.runs}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in result.entries:  # already newest first
        key = entry.model_id if entry.model_id is not None else UNIDENTIFIED
        grouped.setdefault(key, []).append(_entry_doc(result, entry, runs[entry.run_id]))
    order = [m.model_id for m in result.models if m.model_id in grouped]
    rest = sorted(k for k in grouped if k not in set(order) and k != UNIDENTIFIED)
    if UNIDENTIFIED in grouped:
        rest.append(UNIDENTIFIED)
    return {k: grouped[k] for k in [*order, *rest]}


def last_good(result: CiReadResult) -> dict[str, dict[str, Any]]:
    runs = {r.id: r for r in result.runs}
    out: dict[str, dict[str, Any]] = {}
    for model in result.models:
        entry = result.last_good.get(model.model_id)
        if entry is None or entry.parse.summary is None:
            out[model.model_id] = {}
            continue
        summary = entry.parse.summary
        job = entry.job or {}
        info = result.logs.get(entry.job_id) if entry.job_id is not None else None
        run = runs[entry.run_id]
        out[model.model_id] = {
            "device": model.device,
            "impl_name": model.impl_name,
            "tt_metal_commit": summary.get("tt_metal_commit"),
            "vllm_commit": summary.get("vllm_commit"),
            "docker_image": summary.get("docker_image"),
            "perf_status": summary.get("perf_status"),
            "accuracy_status": summary.get("accuracy_status"),
            "ci_run_id": run.id,
            "ci_run_number": run.run_number,
            "ci_run_url": run.html_url,
            "ci_job_id": job.get("job_id"),
            "ci_job_url": job.get("job_url"),
            "ci_job_name": job.get("job_name"),
            "ci_job_status": job.get("job_status"),
            "ci_job_conclusion": job.get("job_conclusion"),
            "ci_job_started_at": job.get("started_at"),
            "ci_job_completed_at": job.get("completed_at"),
            "firmware_bundle": info.firmware_bundle if info else None,
            "driver_version": info.kmd_version if info else None,
            "tt_inference_server_commit": info.checkout.commit if info and info.checkout else None,
        }
    return out


def _checkout_commit(result: CiReadResult, entry: CiEntry) -> str | None:
    info = result.logs.get(entry.job_id) if entry.job_id is not None else None
    return info.checkout.commit if info is not None and info.checkout is not None else None


def summary(result: CiReadResult) -> dict[str, Any]:
    """The machine-readable summary (`--json`)."""
    per_run = []
    for run in result.runs:
        mine = [e for e in result.entries if e.run_id == run.id]
        skipped = [s for s in result.skipped if s.run_number == run.run_number]
        per_run.append(
            {
                "run_number": run.run_number,
                "run_id": run.id,
                "conclusion": run.conclusion,
                "head_branch": run.head_branch,
                "event": run.event,
                "read": len(mine),
                "passing": sum(e.is_passing for e in mine),
                "failing": sum(1 for e in mine if e.parse.summary is not None and not e.is_passing),
                "unparseable": sum(1 for e in mine if e.parse.reason is not None),
                "skipped_expired": sum(s.reason == "expired" for s in skipped),
                "skipped_known_good": sum(s.reason == "known-good" for s in skipped),
                "skipped_not_cached": sum(s.reason == "not-cached" for s in skipped),
            }
        )
    good = []
    without = []
    for model in result.models:
        entry = result.last_good.get(model.model_id)
        if entry is None or entry.parse.summary is None:
            without.append(model.model_id)
            continue
        s = entry.parse.summary
        good.append(
            {
                "model_id": model.model_id,
                "run_number": entry.run_number,
                "perf_status": s.get("perf_status"),
                "perf_unknown": bool(s.get("perf_unknown")),
                "tt_metal_commit": s.get("tt_metal_commit"),
                "vllm_commit": s.get("vllm_commit"),
                "commits_known": s.get("tt_metal_commit") is not None,
                "tt_inference_server_commit": _checkout_commit(result, entry),
            }
        )
    failing_after = []
    for model in result.models:
        chosen = result.last_good.get(model.model_id)
        if chosen is None:
            continue
        newer = sorted(
            {
                e.run_number
                for e in result.entries
                if e.model_id == model.model_id and not e.is_passing and e.run_number > chosen.run_number
            },
            reverse=True,
        )
        if newer:
            failing_after.append(
                {"model_id": model.model_id, "last_good_run": chosen.run_number, "failing_runs": newer}
            )
    rng = result.run_range
    return {
        "repo": str(result.repo),
        "workflow_file": result.workflow_file,
        "run_range": list(rng) if rng else None,
        "runs": per_run,
        "models_total": len(result.models),
        "models_with_last_good": len(good),
        "last_good": good,
        "without_last_good": without,
        "perf_unknown": [g["model_id"] for g in good if g["perf_unknown"]],
        "commits_unknown": [g["model_id"] for g in good if not g["commits_known"]],
        "not_in_catalogue": list(result.unknown_model_ids),
        "failing_after_last_good": failing_after,
        "job_logs_unavailable": [
            m.model_id
            for m in result.models
            if (e := result.last_good.get(m.model_id)) is not None and e.job_id in result.missing_logs
        ],
        "unparseable": [
            {"run_number": e.run_number, "artifact": e.artifact_name, "reason": e.parse.reason}
            for e in result.entries
            if e.parse.reason is not None
        ],
    }


def summary_table(data: dict[str, Any]) -> str:
    """Human summary: last good per model, models without one, per-run counts, and what needs attention."""
    parts = []
    rows = [
        (
            g["model_id"],
            g["run_number"],
            "perf unknown" if g["perf_unknown"] else g["perf_status"],
            (g["tt_metal_commit"] or "unknown")[:12],
            g["vllm_commit"] or "-",
            (g.get("tt_inference_server_commit") or "unknown")[:12],
        )
        for g in data["last_good"]
    ]
    parts.append(f"Models with a last good run: {data['models_with_last_good']} of {data['models_total']}")
    if rows:
        parts.append(tabulate(rows, headers=["model_id", "run", "perf", "tt-metal", "vLLM", "tt-inference-server"]))
    if data["without_last_good"]:
        parts.append(f"Models without a last good run ({len(data['without_last_good'])}):")
        parts.append("\n".join(f"  {m}" for m in data["without_last_good"]))
    run_rows = [
        (
            r["run_number"],
            r["conclusion"] or "-",
            r["head_branch"] or "-",
            r["event"],
            r["read"],
            r["passing"],
            r["failing"],
            r["unparseable"],
            r["skipped_known_good"],
            r["skipped_expired"],
        )
        for r in data["runs"]
    ]
    parts.append(
        tabulate(
            run_rows,
            headers=[
                "run",
                "conclusion",
                "branch",
                "event",
                "read",
                "pass",
                "fail",
                "unparseable",
                "skip:known",
                "skip:expired",
            ],
        )
    )
    if data["failing_after_last_good"]:
        rows_f = [
            (f["model_id"], f["last_good_run"], ", ".join(str(n) for n in f["failing_runs"]))
            for f in data["failing_after_last_good"]
        ]
        parts.append(
            "Failing in runs newer than their last good run:\n"
            + tabulate(rows_f, headers=["model_id", "last good", "failing in runs"])
        )
    notes = []
    if data["perf_unknown"]:
        notes.append(f"perf unknown (reports without tput_user_check): {', '.join(data['perf_unknown'])}")
    if data["commits_unknown"]:
        notes.append(f"passing, but the image tag gives no commits: {', '.join(data['commits_unknown'])}")
    if data["job_logs_unavailable"]:
        notes.append(f"job log gone, firmware/KMD unknown: {', '.join(data['job_logs_unavailable'])}")
    if data["not_in_catalogue"]:
        notes.append(f"in CI but not in the catalogue (not kept): {', '.join(data['not_in_catalogue'])}")
    for u in data["unparseable"]:
        notes.append(f"unparseable: run {u['run_number']} {u['artifact']}: {u['reason']}")
    if notes:
        parts.append("\n".join(_wrapped(n) for n in notes))
    return "\n\n".join(parts)


def _wrapped(note: str, width: int = 100) -> str:
    """A note listing many models, wrapped to a normal terminal's width (continuation lines indented)."""
    return textwrap.fill(note, width=width, subsequent_indent="  ", break_on_hyphens=False, break_long_words=False)


def progress_text(event: object) -> str | None:
    """One progress line for an event of ci_read / the GitHub client (None: nothing to show)."""
    if isinstance(event, RateLimitWait):
        where = f" before {event.path}" if event.path else ""
        return f"rate limited by GitHub ({event.reason}): waiting {event.seconds:.0f}s{where}"
    if isinstance(event, Progress):
        width = 24
        filled = int(width * event.done / event.total) if event.total else width
        bar = "#" * filled + "." * (width - filled)
        label = {
            "runs": "runs selected",
            "listings": "artifact lists",
            "artifacts": "artifacts",
            "logs": "job logs",
        }.get(event.stage, event.stage)
        return f"[{bar}] {label} {event.done}/{event.total} {event.detail}".rstrip()
    return None


def read_plan_table(plan: ReadPlan) -> str:
    """The dry-run view of `inv ci.read`."""
    rows = [
        (r.run_number, r.id, r.head_branch, r.event, r.conclusion, "cached" if r.id in plan.cached else "download")
        for r in plan.runs
    ]
    table = tabulate(rows, headers=["run", "run id", "branch", "event", "conclusion", "cache"])
    return (
        f"{table}\n\nwould write models_ci_all_results_{plan.span}.json, models_ci_last_good_{plan.span}.json and "
        f"models_ci_health_{plan.span}.html "
        f"({sum(r.id not in plan.cached for r in plan.runs)} run(s) to download)"
    )
