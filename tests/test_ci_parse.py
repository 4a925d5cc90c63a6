"""Table tests for the pure Models CI parsers and the last-good selection (release/ci_parse.py, last_good.py)."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from release import ci_hardware, ci_logs, ci_parse, last_good
from release.ci_logs import JobLogInfo
from release.ci_model import CiEntry, ModelRef
from release.ci_parse import ArtifactParse, UnsafeArchive
from release.github_types import Job
from release.sim.history import SimModel
from release.sim.joblogs import make_job_log
from release.sim.reports import make_report
from workflows.model_spec import DEVICE_TYPES

ROOT = Path(__file__).resolve().parent.parent
TM = "ef93cf18b3aee66cc9ec703423de0ad3c6fde844"
IO_MODULES = {"requests", "urllib3", "docker", "subprocess", "release.github", "release.http"}


@pytest.mark.parametrize(
    "module",
    [
        "release.ci_parse",
        "release.ci_logs",
        "release.last_good",
        "release.ci_report",
        "release.ci_model",
        "release.github_types",
        "release.sim.history",
        "release.imagetags",
        "release.ci_hardware",
    ],
)
def test_pure_modules_import_no_io(module):
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout)) & IO_MODULES
    assert not loaded, f"{module} pulls in {sorted(loaded)}"


# ----------------------------------------------------------------------------------------------- rules


def checks(ttft: Any = 2, user: Any = 2, tput: Any = 2, *, drop_user: bool = False) -> dict[str, Any]:
    c = {"ttft_check": ttft, "tput_user_check": user, "tput_check": tput}
    if drop_user:
        del c["tput_user_check"]
    return c


def report(levels: dict[str, Any] | None, evals: list[Any] | None = None, summary: Any = "default") -> dict:
    r: dict[str, Any] = {"evals": [{"accuracy_check": 2}] if evals is None else evals}
    if summary == "default":
        r["benchmarks_summary"] = [{"target_checks": levels}] if levels is not None else []
    elif summary is not None:
        r["benchmarks_summary"] = summary
    return r


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ({"target": checks(), "complete": checks(), "functional": checks()}, "target"),
        ({"target": checks(3), "complete": checks(), "functional": checks()}, "complete"),
        ({"target": checks(3), "complete": checks(tput=3), "functional": checks()}, "functional"),
        ({"target": checks(3), "complete": checks(3), "functional": checks(3)}, "experimental"),
        ({"target": checks(1, 1, 1)}, "target"),  # NA counts as present and not FAIL
        ({"target": checks(None)}, "experimental"),  # a null check is not present
        ({"target": checks(drop_user=True)}, "experimental"),  # media quirk: no tput_user_check
        ({"functional": checks(ttft="Undefined")}, "functional"),  # present and not 3
        ({}, "experimental"),
        (None, "experimental"),
    ],
)
def test_perf_status(levels, expected):
    assert ci_parse.perf_status(report(levels)) == expected


def test_perf_status_reads_only_the_first_summary():
    r = report(None, summary=[{"target_checks": {"functional": checks(3)}}, {"target_checks": {"target": checks()}}])
    assert ci_parse.perf_status(r) == "experimental"


@pytest.mark.parametrize(
    ("levels", "unknown"),
    [
        ({"target": checks(drop_user=True), "functional": checks(drop_user=True)}, True),
        ({"target": checks()}, False),
        ({}, False),
    ],
)
def test_perf_unknown(levels, unknown):
    assert ci_parse.perf_unknown(report(levels)) is unknown


@pytest.mark.parametrize(
    ("r", "bench", "evals_done", "accuracy"),
    [
        (report({"target": checks()}), True, True, True),
        (report({"target": checks()}, evals=[{"accuracy_check": 2}, {"accuracy_check": 1}]), True, True, True),
        (report({"target": checks()}, evals=[{"accuracy_check": 2}, {"accuracy_check": 3}]), True, True, False),
        (report({"target": checks()}, evals=[{"accuracy_check": 2}, {"score": 1}]), True, False, False),
        (report({"target": checks()}, evals=[]), True, False, False),
        (report({}, evals=[{"accuracy_check": 2}]), False, True, True),  # empty target_checks
        (report(None), False, True, True),  # empty benchmarks_summary
        (report(None, summary=None), False, True, True),  # no benchmarks_summary key
        (report(None, summary=[{"target_checks": {}}, {"target_checks": {"x": {}}}]), True, True, True),
    ],
)
def test_pass_rule(r, bench, evals_done, accuracy):
    assert ci_parse.benchmarks_completed(r) is bench
    assert ci_parse.evals_completed(r) is evals_done
    assert ci_parse.accuracy_status(r) is accuracy


# ----------------------------------------------------------------------------------------------- jobs


@pytest.mark.parametrize(
    ("name", "key"),
    [
        (
            "run-release-models / test (release, Llama-3.1-8B-Instruct, n150, n150)",
            ("release", "Llama-3.1-8B-Instruct", "n150", "n150"),
        ),
        ("run-release-models / test (Qwen3-8B, galaxy_t3k, galaxy)", ("release", "Qwen3-8B", "galaxy_t3k", "galaxy")),
        ("nightly / run-tests (evals, true, Qwen2.5_Coder-7B, t3k, t3k)", ("evals", "Qwen2.5_Coder-7B", "t3k", "t3k")),
        ("nightly / run-tests (true, whisper-large-v3, n300, n300)", ("release", "whisper-large-v3", "n300", "n300")),
        ("build-inference-server / build", None),
        ("test (release, a, b, c)", None),  # no prefix
        ("x / test (a, b)", None),
    ],
)
def test_parse_job_name(name, key):
    parsed = ci_parse.parse_job_name(name)
    assert (
        None if parsed is None else (parsed.workflow_type, parsed.model_name, parsed.hardware_name, parsed.hardware)
    ) == key


def job(job_id: int, name: str, completed: str | None = "2025-12-14T04:00:00Z") -> Job:
    return Job(job_id, 1, 1, name, "completed", "success", None, completed, None, None)


def test_match_job_uses_names_with_underscores_and_picks_the_last_completed():
    jobs = [
        job(1, "build-inference-server / build"),
        job(2, "r / test (release, Qwen2.5_Coder-7B, galaxy_t3k, galaxy)", "2025-12-14T01:00:00Z"),
        job(3, "r / test (release, Qwen2.5_Coder-7B, galaxy_t3k, galaxy)", "2025-12-14T02:00:00Z"),
        job(4, "r / test (release, Qwen2.5-Coder-7B, galaxy, galaxy)"),
    ]
    found = ci_parse.match_job("workflow_logs_release_Qwen2.5_Coder-7B_galaxy_t3k", jobs)
    assert found is not None and found[0].id == 3 and found[1].hardware_name == "galaxy_t3k"
    found = ci_parse.match_job("workflow_logs_release_Qwen2.5-Coder-7B_galaxy", jobs)
    assert found is not None and found[0].id == 4
    loose = ci_parse.match_job("workflow_logs_release_Qwen2.5_Coder_7B_galaxy", jobs)
    assert loose is not None and loose[0].id == 4
    assert ci_parse.match_job("workflow_logs_release_Other_n150", jobs) is None


def test_match_job_by_device_when_the_hardware_names_differ():
    jobs = [
        job(1, "r / test (release, Qwen3-32B, galaxy, galaxy)"),
        job(2, "r / test (release, Qwen3-32B, galaxy-t3k, galaxy)"),
        job(3, "r / test (release, Llama-3.1-70B, llmbox, t3k)"),
    ]
    assert ci_parse.match_job("workflow_logs_release_Qwen3-32B_tg", jobs)[0].id == 1
    assert ci_parse.match_job("workflow_logs_release_Qwen3-32B_galaxy_t3k", jobs)[0].id == 2
    assert ci_parse.match_job("workflow_logs_release_Llama-3.1-70B_t3k", jobs)[0].id == 3
    assert ci_parse.match_job("workflow_logs_release_Llama-3.1-70B_n300", jobs) is None
    assert ci_parse.match_job("workflow_logs_evals_Qwen3-32B_tg", jobs) is None  # another workflow type


@pytest.mark.parametrize(
    ("name", "devices"),
    [
        ("n150", {"N150"}),
        ("tg", {"GALAXY"}),
        ("TG", {"GALAXY"}),
        ("galaxy", {"GALAXY"}),
        ("galaxy-t3k", {"GALAXY_T3K"}),
        ("galaxy_t3k", {"GALAXY_T3K"}),
        ("llmbox", {"T3K"}),
        ("t3k", {"T3K"}),
        ("p150x4", {"P150X4"}),
        ("", set()),
    ],
)
def test_hardware_names(name, devices):
    assert ci_hardware.devices_for(name) & {*DEVICE_TYPES} == devices
    for device in devices:
        assert ci_hardware.loose(name) in ci_hardware.hardware_names_for(device)


def test_artifact_candidates_cover_every_impl_and_hardware_name():
    models = [
        ModelRef("id_qwen3-32b-galaxy_Qwen3-32B_galaxy", "GALAXY", "qwen3-32b-galaxy", "Qwen3-32B"),
        ModelRef("id_tt-transformers_Qwen3-32B_galaxy", "GALAXY", "tt-transformers", "Qwen3-32B"),
        ModelRef("id_tt-transformers_Qwen3-32B_t3k", "T3K", "tt-transformers", "Qwen3-32B"),
        ModelRef("id_tt-transformers_Qwen2.5_Coder-7B_galaxy_t3k", "GALAXY_T3K", "tt-transformers"),
    ]
    cands = ci_hardware.ArtifactCandidates(models)
    galaxy = {models[0].model_id, models[1].model_id}
    assert cands("workflow_logs_release_Qwen3-32B_tg") == galaxy
    assert cands("workflow_logs_release_Qwen3-32B_galaxy") == galaxy
    assert cands("workflow_logs_evals_qwen3_32b_TG") == galaxy
    assert cands("workflow_logs_release_Qwen3-32B_llmbox") == {models[2].model_id}
    assert cands("workflow_logs_release_Qwen3-32B_n150") == set()  # no such catalogue model
    assert cands("workflow_logs_release_Qwen3-32B_mystery-box") == {m.model_id for m in models[:3]}  # any device
    assert cands("workflow_logs_release_Qwen2.5_Coder-7B_galaxy-t3k") == {models[3].model_id}
    assert cands("workflow_logs_release_Unknown_tg") == set()
    assert cands("perf-data_001") == set()
    assert models[3].model_name == "Qwen2.5_Coder-7B"  # spelled by the model_id when not given


def test_early_stop_needs_every_model_an_artifact_may_carry():
    seen, cands = {"a"}, frozenset({"a", "b"})
    assert not ci_hardware.all_resolved(seen, cands, {"a"})
    assert ci_hardware.all_resolved(seen, cands, {"a", "b"})
    assert not ci_hardware.all_resolved(set(), cands, {"a", "b"})  # a name never seen is read
    assert ci_hardware.all_resolved({"x"}, frozenset(), {"x"})  # not a catalogue model: what it carried counts


# ----------------------------------------------------------------------------------------------- zips


def make_zip(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("entries", "symlink", "message"),
    [
        ({"../evil.txt": b"x"}, None, "escapes"),
        ({"a/../../evil.txt": b"x"}, None, "escapes"),
        ({"a\\..\\..\\evil.txt": b"x"}, None, "escapes"),
        ({"/etc/evil": b"x"}, None, "absolute"),
        ({"C:/evil": b"x"}, None, "absolute"),
        ({"ok.txt": b"x"}, "link", "symbolic link"),
    ],
)
def test_zip_slip_is_refused(entries, symlink, message):
    with pytest.raises(UnsafeArchive, match=message):
        ci_parse.zip_members(make_zip(entries, symlink=symlink))


def test_zip_members_and_garbage():
    assert ci_parse.zip_members(make_zip({"a/b.json": b"{}", "c": b"1"})) == {"a/b.json": b"{}", "c": b"1"}
    with pytest.raises(ci_parse.CorruptArchive, match="not a zip"):
        ci_parse.zip_members(b"PK\x03\x04 garbage")


# ----------------------------------------------------------------------------------------------- artifacts

MODEL = SimModel("id_tt-transformers_Qwen2.5_Coder-7B_t3k", "tt-transformers", "Qwen2.5_Coder-7B", "T3K")
MEDIA = SimModel(
    "id_tt-transformers_stable-diffusion-xl-base-1.0_n150",
    "tt-transformers",
    "stable-diffusion-xl-base-1.0",
    "N150",
    "media",
)
CI_IMAGE = f"ghcr.io/tenstorrent/tt-shield/vllm:0.0.5-{TM}-1d799da-52000000000"


def artifact_files(
    model: SimModel = MODEL,
    outcome: str = "target",
    *,
    spec: Any = None,
    rep: Any = None,
    extra: dict[str, bytes] | None = None,
) -> dict[str, bytes]:
    spec = (
        spec
        if spec is not None
        else {"model_id": model.model_id, "docker_image": CI_IMAGE, "cli_args": {"override_docker_image": None}}
    )
    rep = rep if rep is not None else make_report(model, outcome)
    files = {
        "run_specs/tt_model_spec_2025-12-14_03-00-00_x.json": json.dumps(spec).encode(),
        f"reports_output/release/data/report_data_{model.model_id}_2025-12-14_04-00-00.json": rep
        if isinstance(rep, bytes)
        else json.dumps(rep).encode(),
    }
    files.update(extra or {})
    return files


def test_parse_artifact_passing_entry():
    p = ci_parse.parse_artifact("workflow_logs_release_Qwen2.5_Coder-7B_t3k", artifact_files())
    assert p.reason is None and p.model_id == MODEL.model_id
    assert p.summary == {
        "model_id": MODEL.model_id,
        "perf_status": "target",
        "benchmarks_completed": True,
        "accuracy_status": True,
        "evals_completed": True,
        "is_passing": True,
        "docker_image": CI_IMAGE,
        "tt_metal_commit": TM,
        "vllm_commit": "1d799da",
        "perf_unknown": False,
    }
    assert "benchmarks" not in p.reports_output and p.run_specs["model_id"] == MODEL.model_id


@pytest.mark.parametrize(
    ("outcome", "passing", "perf"),
    [
        ("target", True, "target"),
        ("complete", True, "complete"),
        ("functional", True, "functional"),
        ("experimental", True, "experimental"),
        ("fail_accuracy", False, "experimental"),
        ("no_evals", False, "experimental"),
        ("no_bench", False, "experimental"),
        ("na_accuracy", True, "experimental"),
        ("no_benchmarks_key", True, "experimental"),
    ],
)
def test_parse_artifact_outcomes(outcome, passing, perf):
    p = ci_parse.parse_artifact("a", artifact_files(outcome=outcome))
    assert p.summary is not None and p.summary["is_passing"] is passing and p.summary["perf_status"] == perf


def test_media_report_is_passing_with_perf_unknown():
    p = ci_parse.parse_artifact("a", artifact_files(MEDIA, "target"))
    assert p.summary is not None
    assert p.summary["is_passing"] and p.summary["perf_status"] == "experimental" and p.summary["perf_unknown"]


def test_override_image_wins_and_released_tags_give_their_commits():
    spec = {
        "model_id": MODEL.model_id,
        "docker_image": CI_IMAGE,
        "cli_args": {"override_docker_image": "ghcr.io/t/tt-inference-server/v:0.5.0-ae65ee5-35f023f"},
    }
    p = ci_parse.parse_artifact("a", artifact_files(spec=spec))
    assert p.summary is not None and p.summary["docker_image"].endswith("0.5.0-ae65ee5-35f023f")
    assert (p.summary["tt_metal_commit"], p.summary["vllm_commit"]) == ("ae65ee5", "35f023f")
    media = ci_parse.parse_artifact("a", artifact_files(spec={**spec, "vllm_commit": None}))
    assert media.summary is not None and media.summary["vllm_commit"] is None  # the spec says: no vLLM part
    tag = {**spec, "cli_args": {"override_docker_image": "x/y:0.0.5-v0.61.1-rc1-abc1234-123"}}
    hyphenated = ci_parse.parse_artifact("a", artifact_files(spec=tag))
    assert hyphenated.summary is not None
    assert (hyphenated.summary["tt_metal_commit"], hyphenated.summary["vllm_commit"]) == ("v0.61.1-rc1", "abc1234")


def test_newest_spec_and_report_by_name_and_never_another_models_report():
    extra = {
        "run_specs/tt_model_spec_2000-01-01_00-00-00_old.json": b'{"model_id": "id_stale_n150"}',
        f"reports_output/release/data/report_data_{MODEL.model_id}_2025-01-01_00-00-00.json": b"{not json",
        "reports_output/release/data/report_data_id_other_n150_2099-01-01_00-00-00.json": b"{}",
    }
    p = ci_parse.parse_artifact("a", artifact_files(extra=extra))
    assert p.reason is None and p.model_id == MODEL.model_id
    only_other = {
        "run_specs/tt_model_spec_x.json": json.dumps({"model_id": MODEL.model_id}).encode(),
        "reports_output/release/data/report_data_id_other_n150_2099-01-01_00-00-00.json": b"{}",
    }
    p = ci_parse.parse_artifact("a", only_other)
    assert p.model_id == MODEL.model_id and p.summary is None and "no reports_output" in (p.reason or "")


@pytest.mark.parametrize(
    ("files", "reason", "model_known"),
    [
        ({}, "no run_specs", False),
        ({"run_specs/s.json": b"{bad"}, "malformed JSON", False),
        ({"run_specs/s.json": b'{"x": 1}'}, "no model_id", False),
        (artifact_files(rep=b'{"evals": [ trunc'), "malformed JSON", True),
        (artifact_files(rep=b"[1, 2]"), "not a JSON object", True),
    ],
)
def test_unparseable_artifacts_carry_a_reason(files, reason, model_known):
    p = ci_parse.parse_artifact("workflow_logs_x", files)
    assert p.summary is None and reason in (p.reason or "") and (p.model_id is not None) is model_known
    assert not p.is_passing


# ----------------------------------------------------------------------------------------------- logs

T0 = __import__("datetime").datetime(2025, 12, 14, 3, 0, tzinfo=__import__("datetime").timezone.utc)


@pytest.mark.parametrize(
    ("variant", "fw", "kmd"),
    [
        ("plain", "18.12.0", "2.4.1"),
        ("malformed_then_good", "18.12.0", "2.4.1"),
        ("two_blocks", "18.12.0", "2.4.1"),
        ("none", None, None),
    ],
)
def test_parse_job_log(variant, fw, kmd):
    data = make_job_log(
        runner="tt-n150-runner-07", image="ghcr.io/x/y:1", fw="18.12.0", kmd="2.4.1", variant=variant, t=T0
    )
    assert b"\x1b[" in data and data[:4] == b"2025"
    info = ci_logs.parse_job_log(data)
    assert info.runner_name == "tt-n150-runner-07"
    assert info.docker_image == "ghcr.io/x/y:1"
    assert (info.firmware_bundle, info.kmd_version) == (fw, kmd)
    if fw:
        assert info.tt_smi is not None and "device_info" not in info.tt_smi
        assert info.tt_smi["host_info"]["Driver"] == "TT-KMD 2.4.1"


def test_parse_job_log_without_anything():
    assert ci_logs.parse_job_log(b"hello\n\xff\xfe\n") == JobLogInfo()


# ----------------------------------------------------------------------------------------------- last good


def entry(
    model_id: str | None, run: int, *, passing: bool = True, completed: str | None = None, art: int = 1, job_id: int = 9
) -> CiEntry:
    summary = None if model_id is None else {"is_passing": passing}
    parse = ArtifactParse("w", model_id, summary, None, None, None if model_id else "bad")
    job_meta = {"job_id": job_id, "completed_at": completed} if completed else None
    return CiEntry(run * 1000, run, art, "w", parse, job_meta)


MODELS = [ModelRef("id_a_n150", "N150", "a"), ModelRef("id_b_n300", "N300", "b"), ModelRef("id_c_t3k", "T3K", "c")]


def test_last_good_newest_passing_run_wins_and_later_failures_do_not_disqualify():
    entries = [
        entry("id_a_n150", 200),
        entry("id_a_n150", 250, passing=False),
        entry("id_a_n150", 240),
        entry("id_b_n300", 190, passing=False),
        entry(None, 260),
        entry("id_zzz_n150", 260),
    ]
    chosen = last_good.select_last_good(entries, MODELS)
    assert list(chosen) == ["id_a_n150", "id_b_n300", "id_c_t3k"]
    assert chosen["id_a_n150"] is not None and chosen["id_a_n150"].run_number == 240
    assert chosen["id_b_n300"] is None and chosen["id_c_t3k"] is None
    assert last_good.unknown_model_ids(entries, MODELS) == ["id_zzz_n150"]


def test_last_good_ties_go_to_the_job_completed_last_in_any_order():
    a = entry("id_a_n150", 300, completed="2025-12-14T05:00:00Z", art=7, job_id=1)
    b = entry("id_a_n150", 300, completed="2025-12-14T06:00:00Z", art=3, job_id=2)
    c = entry("id_a_n150", 300, completed=None, art=9, job_id=3)
    for order in ([a, b, c], [c, b, a], [b, a, c]):
        chosen = last_good.select_last_good(order, MODELS)["id_a_n150"]
        assert chosen is b


def test_progress_text():
    from release import ci_report
    from release.ci_model import Progress
    from release.github_types import RateLimitWait

    assert ci_report.progress_text(Progress("artifacts", 5, 10, "workflow_logs_x")) == (
        "[############............] artifacts 5/10 workflow_logs_x"
    )
    assert ci_report.progress_text(RateLimitWait(61.2, "primary", "/repos/o/r/actions/runs")) == (
        "rate limited by GitHub (primary): waiting 61s before /repos/o/r/actions/runs"
    )
    assert ci_report.progress_text(RateLimitWait(2, "retry-after", "")) == (
        "rate limited by GitHub (retry-after): waiting 2s"
    )
    assert ci_report.progress_text(object()) is None


def test_progress_line_in_logs_shows_first_and_last_line_of_each_stage():
    import io

    from release.progress import ProgressLine

    buf = io.StringIO()
    line = ProgressLine(stream=buf)
    for stage in ("listings", "artifacts"):
        for i in range(1, 4):
            line.update(f"{stage} {i}/3", stage=stage)
    line.update("rate limited", important=True)
    line.done()
    assert buf.getvalue().splitlines() == [
        "listings 1/3",
        "listings 3/3",
        "artifacts 1/3",
        "rate limited",
    ]
