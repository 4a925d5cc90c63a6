"""spec.update on a catalogue of 225 specs: plan + TOML edit + every render, against the 1 s budget."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import tomlkit

from release import catalogue as kit_catalogue
from release import spec_update
from release.config import Config
from tests.bench.__main__ import Row

ROOT = Path(__file__).resolve().parents[2]
TARGET_SPECS = 225


def grow_catalogue(text: str, target: int) -> str:
    """Append renamed copies of real templates until the catalogue expands to `target` specs."""
    doc = tomlkit.parse(text)
    originals = list(doc["templates"])  # type: ignore[arg-type]
    count = sum(len(t["weights"]) * len(t["devices"]) for t in originals)
    copy = 0
    while count < target:
        src = originals[copy % len(originals)]
        clone = tomlkit.parse(tomlkit.dumps({"templates": [src.unwrap()]}))["templates"][0]  # type: ignore[index]
        size = len(clone["weights"]) * len(clone["devices"])
        if count + size > target:
            clone["weights"] = clone["weights"][:1]
            clone["devices"] = clone["devices"][: target - count]
            size = len(clone["devices"])
        clone["weights"] = [f"{w}-copy{copy}" for w in clone["weights"]]
        doc["templates"].append(clone)  # type: ignore[union-attr]
        count += size
        copy += 1
    return tomlkit.dumps(doc)


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "workflows").mkdir()
        (root / "workflows" / "model_specs.toml").write_text(
            grow_catalogue((ROOT / "workflows" / "model_specs.toml").read_text(), TARGET_SPECS)
        )
        for name in ("README.md", "VERSION", "model_specs_output.json"):
            shutil.copy(ROOT / name, root / name)
        cfg = Config.from_env({}, repo_root=root)
        cat = kit_catalogue.load(cfg)
        tm = "ef93cf18b3aee66cc9ec703423de0ad3c6fde844"
        image = f"ghcr.io/tenstorrent/tt-shield/vllm-tt-metal-src-dev-ubuntu-22.04-amd64:0.0.5-{tm}-1d799da-1"
        last_good = {
            mid: {"tt_metal_commit": tm, "vllm_commit": "1d799da", "docker_image": image, "perf_status": "complete",
                  "ci_run_number": 300, "ci_job_url": "https://example/job/1"}
            for mid in cat.specs
        }  # fmt: skip
        (root / "last_good.json").write_text(json.dumps(last_good))
        start = time.perf_counter()
        files = spec_update.update_from_last_good(
            cfg, root / "last_good.json", allow_downgrade=False, only=(), against=None,
            diff_out=root / "release_logs" / "release_models_diff.md",
        )  # fmt: skip
        spec_update.apply_file_changes(files.changes)
        elapsed = time.perf_counter() - start
    return [Row(f"spec.update ({len(cat.specs)} specs, full update + renders)", "seconds vs 1 s budget", 1.0,
                round(elapsed, 3), "< 1")]  # fmt: skip
