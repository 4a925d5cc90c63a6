"""`inv spec.update LAST_GOOD_JSON`: selection, guards, text-preserving edits, outputs, idempotence."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest

from release import catalogue as kit_catalogue
from release import models_diff, spec_plan, spec_update
from release.config import Config
from release.errors import InputError
from release.last_good_file import parse_last_good

DATA = Path(__file__).resolve().parent / "data" / "spec_update"
ROOT = Path(__file__).resolve().parent.parent


def make_checkout(tmp_path: Path, *, toml: Path, readme: Path, version: str = "0.5.0") -> Config:
    (tmp_path / "workflows").mkdir()
    shutil.copy(toml, tmp_path / "workflows" / "model_specs.toml")
    shutil.copy(readme, tmp_path / "README.md")
    (tmp_path / "VERSION").write_text(f"{version}\n")
    return Config.from_env({}, repo_root=tmp_path)


def run_update(cfg: Config, last_good: Path, **kwargs) -> spec_update.UpdateFiles:
    files = spec_update.update_from_last_good(
        cfg,
        last_good,
        allow_downgrade=kwargs.get("allow_downgrade", False),
        only=kwargs.get("only", ()),
        against=None,
        diff_out=cfg.release_logs / "release_models_diff.md",
    )
    spec_update.apply_file_changes(files.changes)
    return files


def line_diff(before: str, after: str) -> str:
    """A unified-style diff without context, exact (difflib's autojunk would hide repeated lines)."""
    a, b = before.splitlines(True), after.splitlines(True)
    out = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(0):
        first, last = group[0], group[-1]
        out.append(f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@\n")
        for tag, i1, i2, j1, j2 in group:
            out.extend("-" + line for line in a[i1:i2] if tag != "equal")
            out.extend("+" + line for line in b[j1:j2] if tag != "equal")
    return "".join(out)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_mini_catalogue_update_golden(tmp_path, golden):
    cfg = make_checkout(tmp_path, toml=DATA / "model_specs.toml", readme=DATA / "README.md")
    before = (DATA / "model_specs.toml").read_text()
    files = run_update(cfg, DATA / "last_good.json")
    after = cfg.catalogue_path.read_text()
    toml_diff = line_diff(before, after)
    golden.check("spec_update/mini_toml.diff", toml_diff)
    golden.check("spec_update/mini_README.md", cfg.readme_path.read_text())
    diff_md = (cfg.release_logs / "release_models_diff.md").read_text()
    golden.check("spec_update/mini_release_models_diff.md", diff_md)
    diff_json = (cfg.release_logs / "release_models_diff.json").read_text()
    golden.check("spec_update/mini_release_models_diff.json", diff_json)
    # the JSON is the value the markdown was rendered from: read back, it renders the same text
    assert models_diff.render(models_diff.parse(json.loads(diff_json), source="x")) == diff_md
    golden.check("spec_update/mini_model_specs_output.json", cfg.output_json_path.read_text())

    by_index = {u.template_index: u for u in files.plan.updates}
    # template 0: the highest run wins (240, second weight, first device), not "first weight, first device"
    assert by_index[0].source.model_id == "id_tt-transformers_Llama-3.1-8B-Instruct_n150"
    assert (by_index[0].tt_metal_after, by_index[0].vllm_after) == ("ef93cf1", "1d799da")
    assert by_index[0].disagreements  # the run-236 record had other commits
    assert by_index[0].proposed_status == "FUNCTIONAL" and by_index[0].status_after == "COMPLETE"
    # template 1: media image and its commit kept (the CI commit differs) -> needs attention
    assert by_index[1].commits_held_back and not by_index[1].commits_changed
    assert by_index[1].ci_tt_metal == "fbbbd2d" and 'tt_metal_commit = "e95ffa5"' in after
    assert "ghcr.io/tenstorrent/tt-media-inference-server:0.4.0-e95ffa5" in after
    # template 2: status added, tag ref replaced by the CI commit
    assert by_index[2].status_before == "EXPERIMENTAL" and by_index[2].status_after == "FUNCTIONAL"
    # template 3: rejected (tag carries no commits); template 4 updated and upgraded
    assert 3 not in by_index
    assert [r.model_id for r in files.plan.rejected] == ["id_tt-transformers_Llama-3.3-70B-Instruct_t3k"]
    assert by_index[4].status_after == "COMPLETE"
    # everything outside the edited values is byte-identical
    assert "# do not lower without review" in after and "# N150 first" in after


def test_second_run_changes_nothing(tmp_path):
    cfg = make_checkout(tmp_path, toml=DATA / "model_specs.toml", readme=DATA / "README.md")
    run_update(cfg, DATA / "last_good.json")
    first = snapshot(tmp_path)
    files = run_update(cfg, DATA / "last_good.json")
    assert not files.plan.changed
    assert files.changes == ()
    assert snapshot(tmp_path) == first


def test_allow_downgrade_and_only(tmp_path):
    cfg = make_checkout(tmp_path, toml=DATA / "model_specs.toml", readme=DATA / "README.md")
    files = run_update(cfg, DATA / "last_good.json", allow_downgrade=True, only=("*Llama-3.1-8B*",))
    assert [u.template_index for u in files.plan.updates] == [0]
    assert files.plan.updates[0].status_after == "FUNCTIONAL"
    assert 'status = "FUNCTIONAL"         # do not lower without review' in cfg.catalogue_path.read_text()


def test_dry_run_writes_nothing(tmp_path):
    cfg = make_checkout(tmp_path, toml=DATA / "model_specs.toml", readme=DATA / "README.md")
    before = snapshot(tmp_path)
    files = spec_update.update_from_last_good(
        cfg, DATA / "last_good.json", allow_downgrade=False, only=(), against=None,
        diff_out=cfg.release_logs / "release_models_diff.md",
    )  # fmt: skip
    assert files.changes  # there is something to do...
    assert snapshot(tmp_path) == before  # ...but computing it wrote nothing


def test_real_catalogue_from_a_last_good_built_from_it(tmp_path, golden):
    cfg = make_checkout(tmp_path, toml=ROOT / "workflows" / "model_specs.toml", readme=ROOT / "README.md")
    shutil.copy(ROOT / "model_specs_output.json", tmp_path / "model_specs_output.json")
    cat = kit_catalogue.load(cfg)
    new_tm = "ef93cf18b3aee66cc9ec703423de0ad3c6fde844"
    last_good = {}
    for i, (model_id, spec) in enumerate(cat.specs.items()):
        if spec.inference_engine != "vLLM" or i % 3 == 0:
            last_good[model_id] = {}
            continue
        last_good[model_id] = {
            "tt_metal_commit": new_tm, "vllm_commit": "1d799da", "perf_status": "target",
            "docker_image": f"ghcr.io/tenstorrent/tt-shield/vllm-tt-metal-src-dev-ubuntu-22.04-amd64:0.0.5-{new_tm}-1d799da-5272906{i:04d}",
            "ci_run_number": 300 + i % 5, "ci_job_url": f"https://github.com/tenstorrent/tt-shield/actions/runs/1/job/{i}",
        }  # fmt: skip
    path = tmp_path / "last_good.json"
    path.write_text(json.dumps(last_good))
    before = cfg.catalogue_path.read_text()
    run_update(cfg, path)
    after = cfg.catalogue_path.read_text()
    toml_diff = line_diff(before, after)
    golden.check("spec_update/real_toml.diff", toml_diff)
    golden.check("spec_update/real_release_models_diff.md", (cfg.release_logs / "release_models_diff.md").read_text())
    golden.check("spec_update/real_readme_table.md", cfg.readme_path.read_text().split("## Model Support", 1)[1])
    output = json.loads(cfg.output_json_path.read_text())
    assert len(output) == 131
    golden.check("spec_update/real_model_specs_output.json", cfg.output_json_path.read_text())
    # only tt_metal_commit / vllm_commit / status lines changed
    changed = [line for line in toml_diff.splitlines() if line[:1] in "+-"]
    assert changed and all(line[1:].split(" = ")[0] in {"tt_metal_commit", "vllm_commit", "status"} for line in changed)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "last_good.json: not valid JSON"),
        ('{"id_nope_x_n150": {}}', "last_good.json: id_nope_x_n150: not a model_id of the catalogue"),
        ('{"id_tt-transformers_Qwen3-8B_t3k": {"tt_metal_commit": "a", "vllm_commit": null, "docker_image": "x"}}',
         "last_good.json: id_tt-transformers_Qwen3-8B_t3k.perf_status: missing"),
        ("[]", "last_good.json: expected a JSON object"),
    ],
)  # fmt: skip
def test_bad_last_good_touches_nothing(tmp_path, content, message):
    cfg = make_checkout(tmp_path, toml=DATA / "model_specs.toml", readme=DATA / "README.md")
    path = tmp_path / "last_good.json"
    path.write_text(content)
    before = snapshot(tmp_path)
    with pytest.raises(InputError) as err:
        run_update(cfg, path)
    assert message in str(err.value)
    assert snapshot(tmp_path) == before


def test_parse_last_good_accepts_empty_records():
    out = parse_last_good({"a": {}, "b": None}, source="x.json")
    assert out == {"a": None, "b": None}


def test_against_a_git_ref_renders_the_diff_against_that_catalogue(tmp_path, golden):
    from release.git import Git

    cfg = make_checkout(tmp_path, toml=DATA / "model_specs.toml", readme=DATA / "README.md")
    git = Git(tmp_path)
    git.run("init", "-q", "-b", "main")
    git.run("add", "workflows/model_specs.toml")
    git.run("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "main's catalogue")
    # the rc branch had an earlier hand edit that main does not have
    text = cfg.catalogue_path.read_text().replace('tt_metal_commit = "aaaaaaa"', 'tt_metal_commit = "abcdef0"')
    cfg.catalogue_path.write_text(text)
    files = spec_update.update_from_last_good(
        cfg, DATA / "last_good.json", allow_downgrade=False, only=(), against="main",
        show_file=git.show_file, diff_out=cfg.release_logs / "release_models_diff.md",
    )  # fmt: skip
    diff = next(c.new for c in files.changes if c.path.name == "release_models_diff.md")
    golden.check("spec_update/mini_against_main.md", diff)
    assert "against `main`" in diff and "`aaaaaaa` → `abcdef0`" in diff
    with pytest.raises(InputError, match="--against nope: that ref has no workflows/model_specs.toml"):
        spec_update.update_from_last_good(
            cfg, DATA / "last_good.json", allow_downgrade=False, only=(), against="nope",
            show_file=git.show_file, diff_out=cfg.release_logs / "x.md",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("tm", "vllm", "image", "problem"),
    [
        ("ef93cf18b3aee66cc9ec703423de0ad3c6fde844", "1d799da", "r/x:0.0.5-ef93cf18b3aee66cc9ec703423de0ad3c6fde844-1d799da-52729064622", None),
        ("ef93cf1", "1d799da", "r/x:0.5.0-ef93cf1-1d799da", None),
        ("e95ffa59adbe39237525161272141cbbb603c686", None, "r/m:0.4.0-e95ffa59adbe39237525161272141cbbb603c686", None),
        ("v0.61.1-rc1", "5cbc982", "r/x:0.0.5-v0.61.1-rc1-5cbc982-1", None),
        ("ef93cf1", "1d799da", "r/x:latest", "carries no parseable commits"),
        ("ef93cf1", "1d799da", "r/x", "carries no parseable commits"),
        ("0123456", "1d799da", "r/x:0.0.5-ef93cf18b3aee66cc9ec703423de0ad3c6fde844-1d799da-1", "tt-metal commit 0123456 disagrees"),
        ("ef93cf1", "7777777", "r/x:0.0.5-ef93cf18b3aee66cc9ec703423de0ad3c6fde844-1d799da-1", "vLLM commit 7777777 disagrees"),
    ],
)  # fmt: skip
def test_tag_guard(tm, vllm, image, problem):
    from release.last_good_file import LastGoodRecord

    record = LastGoodRecord("m", tm, vllm, image, "complete", 1)
    found = spec_plan.tag_problem(record)
    assert (found is None) if problem is None else (problem in found)
