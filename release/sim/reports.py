"""Artifacts of the Models CI simulator: the run spec and report of one model in one run (many outcome variants
and a few fixed quirks), zipped as `workflow_logs_*` artifacts (what release.ci_parse reads). Standard library
only."""

from __future__ import annotations

import hashlib
import io
import json
import random
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

CI_IMAGE = "ghcr.io/tenstorrent/tt-shield/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"
RELEASED_IMAGE = "ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-release-ubuntu-22.04-amd64"
ZIP_TIME = (2025, 10, 1, 0, 0, 0)


def sha(text: str, n: int = 40) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


class ModelLike(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def impl_name(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @property
    def device(self) -> str: ...

    @property
    def engine(self) -> str: ...

    @property
    def hardware_name(self) -> str: ...


# ------------------------------------------------------------------------------------------------ outcomes

OUTCOMES: tuple[tuple[str, int], ...] = (
    ("target", 30),
    ("complete", 14),
    ("functional", 14),
    ("experimental", 8),
    ("fail_accuracy", 12),
    ("no_evals", 4),
    ("no_bench", 4),
    ("na_accuracy", 4),
    ("no_benchmarks_key", 4),
    ("not_run", 3),
)


def _outcome(rng: random.Random, outcomes: Sequence[tuple[str, int]] = OUTCOMES) -> str:
    names = [n for n, _ in outcomes]
    weights = [w for _, w in outcomes]
    return rng.choices(names, weights)[0]


def _target_checks(level: str, media: bool) -> dict[str, Any]:
    """target_checks where `level` and the levels below it pass (3 = FAIL for the ones above)."""
    order = ["functional", "complete", "target"]
    passing = set(order[: order.index(level) + 1]) if level in order else set()
    out: dict[str, Any] = {}
    for name in order:
        value = 2 if name in passing else 3
        checks: dict[str, Any] = {"ttft_check": value, "tput_check": value, "ttft": 120.5, "ttft_ratio": 0.9}
        if not media:
            checks["tput_user_check"] = value
        out[name] = checks
    return out


def make_report(model: ModelLike, outcome: str) -> dict[str, Any]:
    media = model.engine == "media"
    level = outcome if outcome in ("target", "complete", "functional") else "none"
    summary = [
        {
            "isl": 128,
            "osl": 128,
            "max_concurrency": 1,
            "model": model.model_name,
            "device": model.hardware_name,
            "ttft": 120.5,
            "tput_user": 20.1,
            "tput": 20.1,
            "target_checks": _target_checks(level, media),
        }
    ]
    if outcome == "no_bench":
        summary = []
    accuracy = {"fail_accuracy": 3, "na_accuracy": 1}.get(outcome, 2)
    evals = [
        {
            "model": model.model_name,
            "device": model.hardware_name,
            "task_name": task,
            "accuracy_check": accuracy,
            "score": 71.2,
            "ratio_to_reference": 0.98,
            "gpu_reference_score": 72.0,
            "published_score": 72.5,
        }
        for task in ("mmlu", "gsm8k")
    ]
    if outcome == "no_evals":
        evals = []
    report: dict[str, Any] = {
        "metadata": {
            "report_id": f"{model.model_id}_report",
            "model_name": model.model_name,
            "model_id": model.model_id,
            "model_impl": model.impl_name,
            "inference_engine": model.engine,
            "device": model.hardware_name,
        },
        "benchmarks_summary": summary,
        "evals": evals,
        "benchmarks": [{"isl": 128, "osl": 128, "rows": list(range(5))}],
    }
    if outcome == "no_benchmarks_key":
        del report["benchmarks"]
    return report


def _zip(files: dict[str, bytes], *, evil: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data)
        if evil:
            zf.writestr(zipfile.ZipInfo("../../outside.txt", ZIP_TIME), b"zip-slip")
    return buf.getvalue()


def _quirk(special: bool, offset: int, pos: int) -> str | None:
    """Fixed oddities at known places, so that small test histories hit each of them."""
    if not special:
        return None
    return {
        (2, 1): "override_short_tag",
        (2, 0): "two_specs",
        (3, 2): "zip_slip",
        (3, 3): "malformed_report",
        (5, 4): "malformed_spec",
        (2, 3): "override_ci_tag",
    }.get((offset, pos))


def override_image(quirk: str | None) -> str | None:
    """The `cli_args.override_docker_image` a quirk puts in the run spec (None: no override)."""
    if quirk == "override_short_tag":
        return f"{RELEASED_IMAGE}:0.5.0-ae65ee5-35f023f"
    if quirk == "override_ci_tag":
        return f"{CI_IMAGE}:0.0.6-{sha('override')}-{sha('ov', 7)}-1234"
    return None


def _artifact_zip(
    *, model: ModelLike, outcome: str, quirk: str | None, image: str, idx: int, created: datetime
) -> bytes:
    ts = (created + timedelta(hours=2)).strftime("%Y-%m-%d_%H-%M-%S")
    run_label = f"{ts}_{model.model_id}_release_{sha(model.model_id, 8)}"
    spec: dict[str, Any] = {
        "model_id": model.model_id,
        "model_name": model.model_name,
        "impl": model.impl_name,
        "device_type": model.device,
        "inference_engine": model.engine,
        "docker_image": image,
        "cli_args": {"override_docker_image": None},
    }
    spec["cli_args"]["override_docker_image"] = override_image(quirk)
    files: dict[str, bytes] = {
        f"run_specs/tt_model_spec_{run_label}.json": json.dumps(spec, indent=2).encode(),
        f"reports_output/release/data/report_data_{model.model_id}_{ts}.json": json.dumps(
            make_report(model, outcome), indent=2
        ).encode(),
        f"reports_output/release/data/report_data_id_other-model_n150_{ts}.json": b'{"evals": []}',
        "logs/run.log": f"run {idx} of {model.model_id}\n".encode(),
    }
    if quirk == "two_specs":
        older = dict(spec, model_id="id_stale_spec_n150")
        files[f"run_specs/tt_model_spec_2000-01-01_00-00-00_{model.model_id}.json"] = json.dumps(older).encode()
    if quirk == "malformed_report":
        files[f"reports_output/release/data/report_data_{model.model_id}_{ts}.json"] = b'{"evals": [ truncated'
    if quirk == "malformed_spec":
        files[f"run_specs/tt_model_spec_{run_label}.json"] = b"{not json"
    return _zip(files, evil=quirk == "zip_slip")
