"""Pure rendering of PR bodies and release notes (golden files), and what they extract from the kit's files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from release import artifacts_summary, models_diff, notes, record
from release.ci_results_file import AllResults, parse_all_results
from release.git_types import Commit
from release.last_good_file import LastGoodRecords, parse_last_good
from workflows.model_spec import ModelSpec, load_catalogue

DATA = Path(__file__).parent / "data" / "gitflow"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def last_good() -> LastGoodRecords:
    return parse_last_good(load("models_ci_last_good_230_to_236.json"), source="models_ci_last_good_230_to_236.json")


def all_results() -> AllResults:
    return parse_all_results(
        load("models_ci_all_results_230_to_236.json"), source="models_ci_all_results_230_to_236.json"
    )


def specs() -> Mapping[str, ModelSpec]:
    """The data's catalogue: which models are the default impl."""
    return load_catalogue(DATA / "model_specs.toml", version="0.6.0").specs


def release_summary() -> artifacts_summary.ArtifactsSummary:
    return artifacts_summary.parse(load("release_artifacts_summary.json"), source="release_artifacts_summary.json")


def diff() -> models_diff.ModelsDiff:
    return models_diff.parse(load("release_models_diff.json"), source="release_models_diff.json")


def commit(sha: str, subject: str, message: str = "", parents: tuple[str, ...] = ("p",)) -> Commit:
    return Commit(
        sha * 40 if len(sha) == 1 else sha,
        parents,
        "Bob Dev",
        "bob@example.com",
        subject,
        f"{subject}\n\n{message}".strip(),
    )


COMMITS = [
    commit("a", "Update model specs from Models CI", "Release-Kit: spec.update"),
    commit("b", "Hand-edit Qwen3-32B max_context | 32k"),
    commit("c", "Merge branch 'dev' into pre-release-v0.6.0", parents=("p", "q")),
    commit("d", "Bump VERSION to 0.6.0", "Signed-off-by: x\nRelease-Kit: images.promote"),
]


def test_manual_changes_leave_out_kit_commits_and_merges() -> None:
    assert notes.manual_changes(COMMITS) == [
        notes.ManualChange("b" * 12, "Hand-edit Qwen3-32B max_context | 32k", "Bob Dev")
    ]
    assert notes.kit_commit_message("spec.update", "Update specs").endswith("\n\nRelease-Kit: spec.update\n")


def test_kit_commit_subjects_are_short_and_the_files_go_in_the_body() -> None:
    files = [
        "README.md", "VERSION", "model_specs_output.json", "release_logs/dev_artifacts_summary.json",
        "release_logs/dev_artifacts_summary.md", "release_logs/release_models_diff.md", "workflows/model_specs.toml",
    ]  # fmt: skip
    subject = notes.kit_commit_subject("prerelease", "0.6.0", files)
    assert subject == "Pre-release 0.6.0: catalogue, outputs, VERSION, images and models diff"
    assert notes.kit_commit_subject("release", "0.6.0", ["release_logs/release_artifacts_summary.md"]) == (
        "Release 0.6.0: images"
    )
    message = notes.kit_commit_message("prerelease", subject, files)
    lines = message.splitlines()
    assert lines[0] == subject and len(subject) <= 72 and lines[1] == ""
    assert lines[2:-2] == [f"- {f}" for f in files] and lines[-1] == "Release-Kit: prerelease"
    assert notes.manual_changes([commit("e", subject, "\n".join(lines[2:]))]) == []


def test_waivers_are_default_impl_models_whose_last_result_regressed() -> None:
    waivers = notes.find_waivers(all_results(), specs())
    assert [(w.model_id, w.reason) for w in waivers] == [
        ("id_tt-transformers_AFM-4.5B_n300", "failed in run 236; no passing run"),
        ("id_tt-transformers_Qwen3-32B_t3k", "failed in run 236 after passing in run 230"),
    ]


def test_ci_runs_and_hardware_from_last_good() -> None:
    lg = last_good()
    assert [r.run_number for r in notes.ci_runs_used(lg)] == ["236", "230"]
    assert notes.newest_run(lg) == notes.ci_runs_used(lg)[0]
    assert notes.hardware_versions(lg) == ({"18.12.0": 1, "18.11.0": 1}, {"2.4.1": 2})
    assert notes.newest_run({"m": None}) is None


def test_firmware_and_kmd_are_sorted_by_version_and_compacted() -> None:
    counts = {f"18.0.{n}": 1 for n in (0, 1, 10, 100, 129, 2)} | {"18.4.9": 2, "18.4.10": 1, "18.3.3": 1}
    assert notes.compact_versions({**counts, notes.UNKNOWN: 2}) == (
        "18.0.0–18.0.129 (6 versions, 6 models), 18.3.3 (1 model), 18.4.9 (2 models), 18.4.10 (1 model), "
        "UNKNOWN (2 models)"
    )
    assert notes.compact_versions({"2.10.0": 1, "2.9.1": 3}) == "2.9.1 (3 models), 2.10.0 (1 model)"
    assert notes.compact_versions({}) == notes.UNKNOWN
    assert notes.compact_versions({notes.UNKNOWN: 1}) == "UNKNOWN (1 model)"


def pr_input(kind: str) -> notes.PrBodyInput:
    summary = "dev_artifacts_summary.md" if kind == "prerelease" else "release_artifacts_summary.md"
    return notes.PrBodyInput(
        kind=kind,
        version="0.6.0",
        head="pre-release-v0.6.0" if kind == "prerelease" else "rc-v0.6.0",
        base="dev" if kind == "prerelease" else "main",
        models_diff=diff(),
        artifacts_summary_md=(DATA / "dev_artifacts_summary.md").read_text() if kind == "prerelease" else None,
        artifacts_summary_name=summary,
        manual_changes=notes.manual_changes(COMMITS),
        waivers=notes.find_waivers(all_results(), specs()),
        ci_runs=notes.ci_runs_used(last_good()),
    )


def test_pr_body_prerelease(golden) -> None:
    golden.check("gitflow/pr_body_prerelease.md", notes.render_pr_body(pr_input("prerelease")))


def test_pr_body_rc_with_missing_summary(golden) -> None:
    body = notes.render_pr_body(pr_input("rc"))
    assert "UNKNOWN: `release_logs/release_artifacts_summary.md` was not found" in body
    golden.check("gitflow/pr_body_rc.md", body)


def notes_input(**over: object) -> notes.NotesInput:
    lg = last_good()
    fw, kmd = notes.hardware_versions(lg)
    values: dict = dict(
        version="0.6.0",
        tag="v0.6.0",
        commit="0123456789abcdef0123456789abcdef01234567",
        ci_runs=notes.ci_runs_used(lg),
        firmware=fw,
        kmd=kmd,
        changes=diff().rows,
        waivers=notes.find_waivers(all_results(), specs()),
        images=record.released_images(record.images_from_summary(release_summary())),
    )
    values.update(over)
    return notes.NotesInput(**values)


def test_release_notes(golden) -> None:
    text = notes.render_release_notes(notes_input())
    golden.check("gitflow/release_notes.md", text)
    assert notes.unfinished(text) == "the vLLM features placeholder is still there"


def test_release_notes_say_unknown_instead_of_crashing(golden) -> None:
    text = notes.render_release_notes(
        notes_input(commit=None, ci_runs=(), firmware={}, kmd={}, changes=None, waivers=None, images=None)
    )
    assert text.count("UNKNOWN") >= 6
    golden.check("gitflow/release_notes_unknown.md", text)


def test_human_section_survives_a_re_render() -> None:
    first = notes.render_release_notes(notes_input())
    edited = first.replace(notes.PLACEHOLDER, "- Structured outputs (guided JSON) for Llama 3.x\n- Prefix caching")
    assert notes.unfinished(edited) is None
    again = notes.render_release_notes(notes_input(commit="f" * 40), human=notes.human_section(edited))
    assert "- Prefix caching" in again and notes.unfinished(again) is None and "`ffffffffffff`" in again
    emptied = first.replace(notes.PLACEHOLDER, "")
    assert notes.unfinished(emptied) == "the vLLM features section is empty"
    assert "markers" in (notes.unfinished("# notes without markers") or "")


def test_models_diff_rows_say_which_way_the_status_moved() -> None:
    assert [(r.model_arch, r.direction) for r in diff().rows] == [
        ("Llama-3.1-8B", "up"),
        ("Qwen3-32B", "down"),
        ("whisper-large-v3", "new"),
    ]
    same = models_diff.DiffRow("a", "b", ("c",), ("N150",), "1", "1", None, None, "COMPLETE", None)
    assert same.status_cell() == "No change" and not same.status_changed and same.direction == ""


@pytest.mark.parametrize("module", ["release.notes", "release.record"])
def test_notes_and_record_modules_are_pure(module: str) -> None:
    code = (
        f"import sys, {module}; bad = {{'subprocess', 'requests', 'docker', 'release.git', 'release.github'}};"
        "print(sorted(bad & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
