"""Pure: read and validate a last-good JSON (the output of `inv ci.read`, format of §8.2).

`parse_last_good(data, source=..., known=...)` returns {model_id: LastGoodRecord | None}; a model without a
passing run maps to None. Problems raise InputError naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from release.errors import InputError

REQUIRED_FIELDS = ("tt_metal_commit", "vllm_commit", "docker_image", "perf_status", "ci_run_number")
OPTIONAL_FIELDS: dict[str, type] = {  # null or this type
    "ci_run_id": int,
    "ci_run_url": str,
    "ci_job_id": int,
    "ci_job_url": str,
    "ci_job_name": str,
    "device": str,
    "firmware_bundle": str,
    "driver_version": str,
    "tt_inference_server_commit": str,
}


@dataclass(frozen=True)
class LastGoodRecord:
    model_id: str
    tt_metal_commit: str | None
    vllm_commit: str | None
    docker_image: str
    perf_status: str
    ci_run_number: int
    ci_run_id: int | None = None
    ci_run_url: str | None = None
    ci_job_id: int | None = None
    ci_job_url: str | None = None
    ci_job_name: str | None = None
    device: str | None = None
    accuracy_status: Any = None
    firmware_bundle: str | None = None
    driver_version: str | None = None
    tt_inference_server_commit: str | None = None  # what the job's checkout step printed (full SHA or prefix)


def parse_last_good(data: Any, *, source: str, known: Iterable[str] | None = None) -> dict[str, LastGoodRecord | None]:
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a JSON object of model_id → record")
    known_ids = set(known) if known is not None else None
    out: dict[str, LastGoodRecord | None] = {}
    for model_id, raw in data.items():
        if known_ids is not None and model_id not in known_ids:
            raise InputError(f"{source}: {model_id}: not a model_id of the catalogue")
        if raw in ({}, None):
            out[model_id] = None
            continue
        if not isinstance(raw, Mapping):
            raise InputError(f"{source}: {model_id}: expected an object")
        for field in REQUIRED_FIELDS:
            if field not in raw:
                raise InputError(f"{source}: {model_id}.{field}: missing")
        run_number = raw["ci_run_number"]
        if isinstance(run_number, str) and run_number.isascii() and run_number.isdigit() and len(run_number) < 19:
            run_number = int(run_number)
        if not isinstance(run_number, int) or isinstance(run_number, bool):
            raise InputError(f"{source}: {model_id}.ci_run_number: expected an integer, got {run_number!r}")
        for field in ("tt_metal_commit", "vllm_commit"):
            if raw[field] is not None and not isinstance(raw[field], str):
                raise InputError(f"{source}: {model_id}.{field}: expected a string or null")
        if not isinstance(raw["docker_image"], str) or not isinstance(raw["perf_status"], str):
            raise InputError(f"{source}: {model_id}: docker_image and perf_status must be strings")
        for field, kind in OPTIONAL_FIELDS.items():
            value = raw.get(field)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                want = "an integer" if kind is int else "a string"
                raise InputError(f"{source}: {model_id}.{field}: expected {want} or null, got {type(value).__name__}")
        out[model_id] = LastGoodRecord(
            model_id=model_id,
            tt_metal_commit=raw["tt_metal_commit"],
            vllm_commit=raw["vllm_commit"],
            docker_image=raw["docker_image"],
            perf_status=raw["perf_status"],
            ci_run_number=run_number,
            ci_run_id=raw.get("ci_run_id"),
            ci_run_url=raw.get("ci_run_url"),
            ci_job_id=raw.get("ci_job_id"),
            ci_job_url=raw.get("ci_job_url"),
            ci_job_name=raw.get("ci_job_name"),
            device=raw.get("device"),
            accuracy_status=raw.get("accuracy_status"),
            firmware_bundle=raw.get("firmware_bundle"),
            driver_version=raw.get("driver_version"),
            tt_inference_server_commit=raw.get("tt_inference_server_commit"),
        )
    return out
