"""Generated all-results documents (§8.1) for the CI health page's tests and benchmark.

`document(plan, runs)` writes entries the way `ci_report.all_results` does, from a plan of states:
{model_id: [state of the newest run, …]} with None for "no entry". `random_plan` makes a large one.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import Any

from release.ci_health import CatalogueRow

OWNER, REPO = "tenstorrent", "tt-shield"
PASS_LEVELS = ("target", "complete", "functional", "experimental")
STATES = (*PASS_LEVELS, "fail-accuracy", "fail-perf", "fail-evals", "cancelled", "in-progress", "unparseable")


def sha(text: str, n: int = 40) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def run_url(run_number: int) -> str:
    return f"https://github.com/{OWNER}/{REPO}/actions/runs/{run_id(run_number)}"


def run_id(run_number: int) -> int:
    return 19_000_000_000 + run_number


def entry(
    model_id: str,
    run_number: int,
    state: str,
    *,
    position: int = 0,
    job_name: str | None = None,
    hardware: bool = False,
) -> dict[str, Any]:
    """One entry of `model_id` in run `run_number` with the given state (see STATES)."""
    day = 1 + run_number % 28
    job_id = 50_000_000_000 + run_number * 1000 + position
    url = run_url(run_number)
    metal, vllm = sha(f"metal{run_number}"), sha(f"vllm{run_number}", 7)
    image = f"ghcr.io/{OWNER}/{REPO}/vllm-tt-metal-src-dev-ubuntu-22.04-amd64:0.0.5-{metal}-{vllm}-{job_id - position}"
    status, conclusion = "completed", "success"
    if state == "cancelled":
        conclusion = "cancelled"
    elif state == "in-progress":
        status, conclusion = "in_progress", None
    passing = state in PASS_LEVELS
    summary: dict[str, Any] | None = {
        "model_id": model_id,
        "perf_status": state if passing else "experimental",
        "benchmarks_completed": state != "fail-perf",
        "accuracy_status": state not in ("fail-accuracy", "fail-evals"),
        "evals_completed": state != "fail-evals",
        "is_passing": passing,
        "docker_image": image,
        "tt_metal_commit": metal,
        "vllm_commit": vllm,
        "perf_unknown": False,
    }
    logs: dict[str, Any] = {"dir_name": f"workflow_logs_release_{model_id}", "summary": summary}
    if state == "unparseable":
        logs = {"dir_name": logs["dir_name"], "summary": None, "unparseable": "reports_output: malformed JSON"}
    logs.update(run_specs={"model_id": model_id}, reports_output={"evals": []}, tt_smi_output=None)
    return {
        "job_run_datetimestamp": f"2025-10-{day:02d}_04-00-00",
        "ci_metadata": {
            "run_id": run_id(run_number),
            "run_number": run_number,
            "owner": OWNER,
            "repo": REPO,
            "workflow_file": "on-nightly.yml",
            "created_at": f"2025-10-{day:02d}T02:00:05Z",
            "updated_at": f"2025-10-{day:02d}T09:00:05Z",
            "ci_run_url": url,
            "ci_job_metadata": {
                "job_id": job_id,
                "job_name": job_name or f"run-release-models / test ({model_id}, n150, n150)",
                "job_status": status,
                "job_conclusion": conclusion,
                "job_url": f"{url}/job/{job_id}",
                "started_at": f"2025-10-{day:02d}T03:00:00Z",
                "completed_at": f"2025-10-{day:02d}T04:00:{position % 60:02d}Z",
                "model_name": model_id,
                "hardware": "n150",
                "hardware_name": "n150",
            },
        },
        "ci_logs": {
            "docker_image": image,
            "build_runner_name": "builder-01",
            "firmware_bundle": "18.4.1" if hardware else None,
            "kmd_version": "2.0.1" if hardware else None,
            "ci_log_tt_smi_output": None,
            "runner_name": f"tt-runner-{position % 7:02d}",
        },
        "workflow_logs": logs,
    }


def document(plan: Mapping[str, Sequence[str | None]], runs: Sequence[int]) -> dict[str, list[dict[str, Any]]]:
    """{model_id: entries newest first}; plan[model_id][i] is the state in runs[i] (runs newest first)."""
    doc: dict[str, list[dict[str, Any]]] = {}
    for position, (model_id, states) in enumerate(plan.items()):
        items = [
            entry(model_id, number, state, position=position, hardware=state in PASS_LEVELS)
            for number, state in zip(runs, states, strict=False)
            if state is not None
        ]
        if items:
            doc[model_id] = items
    return doc


def random_plan(model_ids: Sequence[str], runs: int, *, seed: int = 7) -> dict[str, list[str | None]]:
    """Mostly passing, some failing streaks, some gaps: a plausible nightly history."""
    rng = random.Random(seed)
    weights = {"target": 10, "complete": 20, "functional": 30, "experimental": 10, "fail-accuracy": 8,
               "fail-perf": 5, "fail-evals": 3, "cancelled": 2, "unparseable": 1, None: 6}  # fmt: skip
    names, w = list(weights), list(weights.values())
    return {m: [rng.choices(names, w)[0] for _ in range(runs)] for m in model_ids}


def rows(*specs: tuple[str, str, str, str]) -> list[CatalogueRow]:
    """CatalogueRows from (model_name, device, impl, status); model_id as the catalogue makes it."""
    return [
        CatalogueRow(f"id_{impl}_{name}_{device.lower()}", name, device, impl, status)
        for name, device, impl, status in specs
    ]
