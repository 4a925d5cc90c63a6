"""The catalogue reproduces release 0.5.0, validates its input, and its generated outputs are fresh."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from release import catalogue as kit_catalogue
from release import spec_outputs, spec_update
from release.config import Config
from release.errors import CatalogueError
from tests.builders import catalogue_toml, template
from tests.cli import run_inv
from workflows.model_spec import load_catalogue, make_model_id, param_count_from_name

ROOT = Path(__file__).resolve().parent.parent
TOML = ROOT / "workflows" / "model_specs.toml"
REFERENCE = Path(__file__).resolve().parent / "golden" / "model_specs_output-0.5.0.json"


@pytest.fixture(scope="module")
def real():
    return load_catalogue(TOML, version="0.5.0")


def test_expansion_reproduces_the_0_5_0_reference_byte_for_byte(real):
    # The reference is the model_specs_output.json of release 0.5.0 (131 specs). Every model_id, docker_image
    # and field matches, in the same order and serialization; no field differs deliberately.
    reference_text = REFERENCE.read_text(encoding="utf-8")
    assert list(real.specs) == list(json.loads(reference_text))
    assert len(real.specs) == 131
    assert spec_outputs.output_json(real) == reference_text


def test_every_spec_matches_the_reference_field_by_field(real):
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    for model_id, expected in reference.items():
        got = real.specs[model_id].to_json()
        for key, value in expected.items():
            assert got[key] == value, f"{model_id}.{key}"


def test_version_is_read_when_loading_not_at_import(real):
    later = load_catalogue(TOML, version="0.6.0")
    spec = later.specs["id_tt-transformers_AFM-4.5B_n300"]
    assert spec.docker_image.endswith(":0.6.0-ae65ee5-35f023f")
    assert spec.dev_image == spec.docker_image.replace("-release-", "-dev-")
    media = next(s for s in later.specs.values() if s.has_explicit_image)
    assert media.dev_image == media.docker_image  # explicit images are never renamed
    assert ":0.6.0" not in media.docker_image


def test_committed_outputs_are_fresh():
    cfg = Config.from_env({}, repo_root=ROOT)
    changes = spec_update.plan_outputs_for(cfg, kit_catalogue.load(cfg))
    stale = [str(c.path.name) for c in changes]
    assert not stale, f"stale generated files {stale}: run `inv spec.update --output-only` and commit them"


def test_readme_table_golden(real, golden):
    golden.check("readme_table_0.5.0.md", spec_outputs.readme_table(real))


@pytest.mark.parametrize(
    ("impl_name", "weight", "device", "expected"),
    [
        ("tt-transformers", "meta-llama/Llama-3.1-8B-Instruct", "N150", "id_tt-transformers_Llama-3.1-8B-Instruct_n150"),
        ("llama3-70b-galaxy", "meta-llama/Llama-3.3-70B-Instruct", "GALAXY_T3K",
         "id_llama3-70b-galaxy_Llama-3.3-70B-Instruct_galaxy_t3k"),
        ("forge-vllm-plugin", "resnet-50", "N300", "id_forge-vllm-plugin_resnet-50_n300"),
    ],
)  # fmt: skip
def test_model_id(impl_name, weight, device, expected):
    assert make_model_id(impl_name, weight, device) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Llama-3.1-8B", 8), ("AFM-4.5B", 4), ("gemma-3-27b-it", 27), ("Qwen3-32B", 32), ("whisper-large-v3", None),
     ("stable-diffusion-3.5-large", None), ("Llama-3.2-11B-Vision-Instruct", 11), ("Motif-Image-6B-Preview", 6)],
)  # fmt: skip
def test_param_count_from_name(name, expected):
    assert param_count_from_name(name) == expected


MINI = catalogue_toml(
    template("org/Model-8B", "org/Model-8B-Instruct", tt_metal="v0.61.1-rc1", vllm="5cbc982", status="COMPLETE",
             devices=("N150", "GALAXY_T3K")),
)  # fmt: skip


def test_tag_based_commit_and_devices_without_hardware_link():
    cat = load_catalogue(Path("mini.toml"), version="0.5.0", text=MINI)
    assert list(cat.specs) == [
        "id_tt-transformers_Model-8B_n150",
        "id_tt-transformers_Model-8B_galaxy_t3k",
        "id_tt-transformers_Model-8B-Instruct_n150",
        "id_tt-transformers_Model-8B-Instruct_galaxy_t3k",
    ]
    spec = cat.specs["id_tt-transformers_Model-8B_n150"]
    assert spec.docker_image.endswith(":0.5.0-v0.61.1-rc1-5cbc982")
    assert spec.code_link == "https://github.com/tenstorrent/tt-metal/tree/v0.61.1-rc1/models/tt_transformers"
    assert (spec.param_count, spec.min_disk_gb, spec.min_ram_gb) == (8, 36, 32)
    row = spec_outputs.readme_row(cat.templates[0], "0.5.0")
    assert row is not None
    assert row[1] == "[n150](https://tenstorrent.com/hardware/wormhole), GALAXY_T3K"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('device = "N150"', 'device = "N999"'), "template 0 (org/Model-8B) device 0: device: 'N999' is not a known device"),
        (('status = "COMPLETE"', 'status = "DONE"'), "template 0 (org/Model-8B): status: 'DONE' is not one of"),
        (('tt_metal_commit = "v0.61.1-rc1"\n', ""), "template 0 (org/Model-8B): tt_metal_commit: missing"),
        (('vllm_commit = "5cbc982"\n', ""), "template 0 (org/Model-8B): vllm_commit: missing"),
        (('device = "GALAXY_T3K"', 'device = "N150"'), "duplicate model_id id_tt-transformers_Model-8B_n150"),
        (('impl = "tt_transformers"', 'impl = "nope"'), "template 0 (org/Model-8B): impl: unknown impl 'nope'"),
        (("max_context = 8192", 'max_context = "big"'), "max_context: must be int"),
        (("[[templates]]", "[[templates]\n"), "mini.toml: not valid TOML"),
        (('status = "COMPLETE"', 'stauts = "COMPLETE"'), "stauts: unknown field"),
    ],
)  # fmt: skip
def test_bad_catalogue_names_file_template_and_field(change, message):
    text = MINI.replace(*change, 1)
    with pytest.raises(CatalogueError) as err:
        kit_catalogue.load_path(Path("workflows/mini.toml"), version="0.5.0", text=text)
    assert message in str(err.value)
    assert str(err.value).startswith("workflows/mini.toml: ")
    assert "\n" not in str(err.value)


def _copy_checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "workflows").mkdir(parents=True)
    for name in ("tasks.py", "VERSION", "README.md", "model_specs_output.json", "workflows/model_specs.toml"):
        (root / name).write_bytes((ROOT / name).read_bytes())
    return root


def _inv(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return run_inv(*args, cwd=root, env=env)


def test_task_reports_bad_catalogue_in_one_line_and_exits_2(tmp_path):
    root = _copy_checkout(tmp_path)
    toml = root / "workflows" / "model_specs.toml"
    toml.write_text(toml.read_text().replace('device = "N300"', 'device = "N301"', 1))
    result = _inv(root, "spec.update", "--output-only")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "model_specs.toml: template 0 (arcee-ai/AFM-4.5B) device 0: device: 'N301'" in lines[0]


def test_output_only_regenerates_and_dry_run_writes_nothing(tmp_path):
    root = _copy_checkout(tmp_path)
    (root / "VERSION").write_text("0.6.0\n")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    dry = _inv(root, "spec.update", "--output-only", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would update model_specs_output.json" in dry.stdout
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    real_run = _inv(root, "spec.update", "--output-only")
    assert real_run.returncode == 0, real_run.stderr
    assert ":0.6.0-ae65ee5-35f023f" in (root / "model_specs_output.json").read_text()
    assert "0.6.0-ae65ee5-35f023f" in (root / "README.md").read_text()
    again = _inv(root, "spec.update", "--output-only")
    assert "up to date" in again.stdout
