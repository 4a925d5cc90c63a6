"""Builders of the documents tests hand to the kit: a catalogue TOML and last-good records (§8.2).

    catalogue_toml(
        template("org/Alpha-8B", tt_metal="aaaaaaa", vllm="1111111", devices=("N150", "N300")),
        template("org/Gamma-image", impl="media", tt_metal="e95ffa5", engine="media", docker_image=MEDIA),
    )

One `key = value` line per field, as workflows/model_specs.toml is written (tests edit the text by line).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

IMPLS: dict[str, dict[str, str]] = {
    "tt_transformers": {
        "impl_id": "tt_transformers",
        "impl_name": "tt-transformers",
        "repo_url": "https://github.com/tenstorrent/tt-metal",
        "code_path": "models/tt_transformers",
    },
    "media": {
        "impl_id": "media",
        "impl_name": "tt-media",
        "repo_url": "https://github.com/tenstorrent/tt-metal",
        "code_path": "models/media",
    },
}


def device(name: str, *, max_concurrency: int = 32, max_context: int = 8192, **fields: Any) -> dict[str, Any]:
    return {"device": name, "max_concurrency": max_concurrency, "max_context": max_context, **fields}


def template(
    *weights: str,
    tt_metal: str,
    vllm: str | None = None,
    impl: str = "tt_transformers",
    engine: str = "vLLM",
    devices: Sequence[str | Mapping[str, Any]] = ("N150",),
    **fields: Any,
) -> dict[str, Any]:
    """One `[[templates]]` entry; `fields` are further template keys (status, model_type, docker_image...)."""
    out: dict[str, Any] = {"weights": list(weights), "impl": impl, "tt_metal_commit": tt_metal}
    if vllm is not None:
        out["vllm_commit"] = vllm
    out["inference_engine"] = engine
    out.update(fields)
    out["devices"] = [device(d) if isinstance(d, str) else dict(d) for d in devices]
    return out


def catalogue_toml(*templates: Mapping[str, Any], comment: str = "a test catalogue") -> str:
    """The catalogue text: the impls the templates use (in first-use order), then the templates."""
    impls = dict.fromkeys(t["impl"] for t in templates)
    lines = [f"# {comment}"]
    for impl in impls:
        lines += ["", "[[impls]]", *_fields(IMPLS[impl])]
    for t in templates:
        lines += ["", "[[templates]]", *_fields({k: v for k, v in t.items() if k != "devices"})]
        for d in t["devices"]:
            lines += ["", "[[templates.devices]]", *_fields(d)]
    return "\n".join(lines) + "\n"


def _fields(table: Mapping[str, Any]) -> list[str]:
    return [f"{key} = {_value(value)}" for key, value in table.items()]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value)  # strings and numbers: JSON's forms are TOML's


def last_good_record(
    image: str | None,
    run: int = 236,
    *,
    tt_metal: str | None = None,
    vllm: str | None = None,
    perf: str = "functional",
    **fields: Any,
) -> dict[str, Any]:
    """One model's record of a last-good file, with every key §8.2 gives it; `fields` override or add keys."""
    run_url = f"https://github.com/tenstorrent/tt-shield/actions/runs/{1000 + run}"
    return {
        "device": "N150",
        "impl_name": "tt-transformers",
        "tt_metal_commit": tt_metal,
        "vllm_commit": vllm,
        "docker_image": image,
        "perf_status": perf,
        "accuracy_status": True,
        "ci_run_id": 1000 + run,
        "ci_run_number": run,
        "ci_run_url": run_url,
        "ci_job_id": 7,
        "ci_job_url": f"{run_url}/job/7",
        "ci_job_name": "run-release-models / test",
        "ci_job_status": "completed",
        "ci_job_conclusion": "success",
        "firmware_bundle": "18.12.0",
        "driver_version": "2.4.1",
        **fields,
    }
