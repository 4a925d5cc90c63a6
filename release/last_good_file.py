"""Read and validate a last-good JSON (the output of `inv ci.read`, format of §8.2): the one reader of that file.

`read_last_good(path, known=...)` and `parse_last_good(data, source=..., known=...)` return
{model_id: LastGoodRecord | None}; a model without a passing run maps to None. The file is outside data: it is
bounded (MAX_FILE_BYTES, checked before reading), every key §8.2 gives a record must be there, and every field the
kit reads must have its type. Problems raise one InputError line naming the file and the key.

`docker_image` may be null (a passing run whose run_specs named no image: nothing to promote, §5.4); the commits
may be null (an image tag they could not be read from).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import fsio
from release.errors import InputError

MAX_FILE_BYTES = 64 << 20  # one record per catalogue model: a few hundred KB in practice

REQUIRED_FIELDS = ("tt_metal_commit", "vllm_commit", "docker_image", "perf_status", "ci_run_number")
NULLABLE_FIELDS: dict[str, type] = {  # required keys whose value may be null
    "tt_metal_commit": str,
    "vllm_commit": str,
    "docker_image": str,
}
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
    docker_image: str | None
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


LastGoodRecords = Mapping[str, "LastGoodRecord | None"]  # model_id → its record (None: no passing run)


def parse_last_good(data: Any, *, source: str, known: Iterable[str] | None = None) -> dict[str, LastGoodRecord | None]:
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a JSON object of model_id → record, got {fsio.json_kind(data)}")
    known_ids = set(known) if known is not None else None
    out: dict[str, LastGoodRecord | None] = {}
    for model_id, raw in data.items():
        where = f"{source}: {fsio.shown(model_id)}"
        if known_ids is not None and model_id not in known_ids:
            raise InputError(f"{where}: not a model_id of the catalogue")
        if raw in ({}, None):
            out[model_id] = None
            continue
        if not isinstance(raw, Mapping):
            raise InputError(f"{where}: expected an object, got {fsio.json_kind(raw)}")
        for field in REQUIRED_FIELDS:
            if field not in raw:
                raise InputError(f"{where}.{field}: missing")
        run_number = raw["ci_run_number"]
        if isinstance(run_number, str) and run_number.isascii() and run_number.isdigit() and len(run_number) < 19:
            run_number = int(run_number)
        if not isinstance(run_number, int) or isinstance(run_number, bool):
            raise InputError(f"{where}.ci_run_number: expected an integer, got {fsio.json_kind(run_number)}")
        if not isinstance(raw["perf_status"], str):
            raise InputError(f"{where}.perf_status: expected a string, got {fsio.json_kind(raw['perf_status'])}")
        for field, kind in {**NULLABLE_FIELDS, **OPTIONAL_FIELDS}.items():
            value = raw.get(field)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                want = "an integer" if kind is int else "a string"
                raise InputError(f"{where}.{field}: expected {want} or null, got {fsio.json_kind(value)}")
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


def read_last_good(path: Path, *, known: Iterable[str] | None = None) -> dict[str, LastGoodRecord | None]:
    """Read, bound and parse a last-good file."""
    return load_last_good(read_bytes(path), source=str(path), known=known)


def read_bytes(path: Path) -> bytes:
    """The bytes of a last-good file (at most MAX_FILE_BYTES; a missing file says where it comes from)."""
    if not Path(path).exists():
        raise InputError(f"{path}: last-good file not found (write it with `inv ci.read`)")
    return fsio.read_bytes(path, what="last-good file", max_bytes=MAX_FILE_BYTES)


def load_last_good(data: bytes, *, source: str, known: Iterable[str] | None = None) -> dict[str, LastGoodRecord | None]:
    """Parse the bytes of a last-good file (`read_bytes`)."""
    text = fsio.decode(data, source=source, what="last-good file")
    return parse_last_good(fsio.parse_json(text, source=source), source=source, known=known)
