"""`inv ci.read` end to end against the fake GitHub server (real HTTP): outputs, cache, faults, resume, errors."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from release import catalogue, ci_read, ci_report
from release.ci_model import ModelRef
from release.config import Secret
from release.errors import ConfigError, GitHubError, PartialFailure
from release.github import GitHubClient
from release.github_types import RepoRef
from release.http import make_retry, make_session
from release.http_cache import FileResponseCache
from release.sim.history import SimModel, generate_history
from release.sim.reports import CI_IMAGE, _artifact_zip
from tests.cli import run_inv
from tests.services.github_server import TOKEN, small_models

ROOT = Path(__file__).resolve().parent.parent
REPO = RepoRef("tenstorrent", "tt-shield")
RETIRED = SimModel("id_tt-transformers_Retired-Model-1B_n150", "tt-transformers", "Retired-Model-1B", "N150")


@pytest.fixture(scope="module")
def models() -> list[ModelRef]:
    cat = catalogue.load_path(ROOT / "workflows" / "model_specs.toml", version="0.5.0")
    return ci_read.models_from_specs(cat.specs.values())


def history(runs: int = 12, **kw):
    return generate_history([*small_models(), RETIRED], runs=runs, seed=3, **kw)


@pytest.fixture(scope="module")
def server(github_factory):
    return github_factory(history())


def client(server, out: Path, *, token: str = TOKEN) -> GitHubClient:
    session = make_session(retry=make_retry(backoff_factor=0.01))
    return GitHubClient(
        api_url=server.api_url, token=Secret(token), session=session, cache=FileResponseCache(out / ".http_cache")
    )


def read(server, out: Path, models, **opts):
    gh = client(server, out) if opts.get("download", True) else None
    options = ci_read.ReadOptions(repo=REPO, **{"max_runs": 8, **opts})
    result = ci_read.read_ci(options, github=gh, models=models, out_root=out)
    paths = ci_read.write_outputs(result, out)
    return result, paths, gh


def outputs(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(out.glob("models_ci_*.json"))}


def test_golden_outputs_and_summary(server, models, tmp_path, golden):
    result, paths, _ = read(server, tmp_path, models)
    assert [p.name for p in paths] == ["models_ci_all_results_102_to_109.json", "models_ci_last_good_102_to_109.json"]
    golden.check("ci_read/models_ci_all_results.json", paths[0].read_text())
    golden.check("ci_read/models_ci_last_good.json", paths[1].read_text())
    summary = ci_report.summary(result)
    golden.check("ci_read/summary.json", json.dumps(summary, indent=2) + "\n")
    golden.check("ci_read/summary.txt", ci_report.summary_table(summary) + "\n")
    good = json.loads(paths[1].read_text())
    assert list(good) == [m.model_id for m in models]  # every catalogue model, catalogue order
    all_results = json.loads(paths[0].read_text())
    assert RETIRED.model_id in all_results and RETIRED.model_id not in good
    assert summary["not_in_catalogue"] == [RETIRED.model_id]
    assert summary["perf_unknown"]  # the media models


def test_only_last_good_job_logs_are_downloaded(server, models, tmp_path):
    before = dict(server.stats.by_route)
    result, _, _ = read(server, tmp_path, models)
    logs = server.stats.by_route["GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs 302"] - before.get(
        "GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs 302", 0
    )
    assert logs == sum(1 for e in result.last_good.values() if e is not None and e.job_id is not None)
    for entry in result.last_good.values():
        if entry is not None and entry.job_id in result.logs:
            sim = server.history.job(entry.job_id)
            assert sim is not None and result.logs[entry.job_id].runner_name == sim[1].runner_name


def test_warm_rerun_costs_about_one_request_per_run(server, models, tmp_path):
    read(server, tmp_path, models)
    first = outputs(tmp_path)
    api, blob = server.stats.api, server.stats.blob
    result, _, gh = read(server, tmp_path, models)
    assert outputs(tmp_path) == first
    assert server.stats.blob == blob
    assert server.stats.api - api <= 2 <= len(result.runs)  # workflow + runs page, both 304
    assert gh.stats.not_modified == 2


def test_full_history_reads_every_artifact_and_reports_unparseable_ones(server, models, tmp_path):
    result, paths, _ = read(server, tmp_path, models, full_history=True, max_runs=10)
    reasons = {e.parse.reason for e in result.entries if e.parse.reason}
    assert any("escapes the folder" in r for r in reasons)  # the zip-slip artifact
    assert any("malformed JSON" in r for r in reasons)
    assert not list(tmp_path.rglob("outside.txt"))
    all_results = json.loads(paths[0].read_text())
    assert all_results["_unidentified"]
    assert {s.reason for s in result.skipped} <= {"expired"}
    expired = [s for s in result.skipped if s.reason == "expired"]
    assert expired and all(s.run_number in (100, 101) for s in expired)
    zip_paths = [p for h, p, _, _ in server.stats.log if h == "api" and p.endswith("/zip")]
    expired_ids = {a.id for r in server.history.runs for a in r.artifacts if a.expired}
    assert not any(int(p.split("/")[-2]) in expired_ids for p in zip_paths)


def test_faults_give_identical_outputs(github_factory, models, tmp_path):
    clean = tmp_path / "clean"
    read(github_factory(history()), clean, models)
    faulty = github_factory(history())
    faulty.faults.every = {5: "502", 7: "reset"}
    faulty.faults.blob_every = {4: "reset"}
    faulty.faults.at = {3: "429", 11: "403-secondary"}
    read(faulty, tmp_path / "faulty", models)
    assert faulty.stats.faults >= 6
    assert outputs(tmp_path / "faulty") == outputs(clean)


def test_corrupt_download_is_reported_and_nothing_is_written(github_factory, models, tmp_path):
    srv = github_factory(history(runs=6))
    srv.faults.blob_every = {1: "corrupt"}
    with pytest.raises(PartialFailure) as failed:
        read(srv, tmp_path, models)
    text = str(failed.value)
    assert "does not match its digest" in text and "artifact workflow_logs_" in text and "run 1" in text
    assert "is not a readable zip" in text  # artifacts without a digest (older upload-artifact)
    assert "run the same command again" in text
    assert not list(tmp_path.glob("models_ci_*.json"))
    srv.faults.blob_every = {}
    read(srv, tmp_path, models)
    assert len(list(tmp_path.glob("models_ci_*.json"))) == 2


def test_artifacts_and_logs_gone_since_listed(github_factory, models, tmp_path):
    srv = github_factory(history(runs=8))
    first, _, _ = read(srv, tmp_path, models, max_runs=6)
    # an artifact not downloaded yet expires; the cached listing (completed run) still says it is there
    older = srv.history.runs[-2]
    target = next(a for a in older.artifacts if a.name.startswith("workflow_logs_"))
    target.expired = True
    # a last-good job's log disappears (retention), after its cached copy is removed
    entry = next(e for e in first.last_good.values() if e is not None and e.job_id is not None)
    run = srv.history.run(entry.run_id)
    job = next(j for j in run.jobs if j.id == entry.job_id)
    run.jobs.remove(job)
    for path in tmp_path.rglob(f"*_{job.id}.txt"):
        path.unlink()
    result, paths, _ = read(srv, tmp_path, models, max_runs=6, full_history=True)
    assert any(s.artifact_name == target.name and s.reason == "expired" for s in result.skipped)
    assert result.missing_logs == (job.id,)
    summary = ci_report.summary(result)
    assert summary["job_logs_unavailable"] == [entry.model_id]
    good = json.loads(paths[1].read_text())[entry.model_id]
    assert good["ci_job_id"] == job.id and good["firmware_bundle"] is None


@pytest.mark.parametrize("hardware", ["galaxy", "tg"])  # the CI's own name for the machine, or the device's
def test_an_artifact_name_shared_by_two_impls_is_read_until_both_are_known(github_factory, tmp_path, hardware):
    name = "Llama-3.3-70B-Instruct"
    a = SimModel(f"id_tt-transformers_{name}_galaxy", "tt-transformers", name, "GALAXY", ci_hardware=hardware)
    b = SimModel(f"id_llama3-70b-galaxy_{name}_galaxy", "llama3-70b-galaxy", name, "GALAXY", ci_hardware=hardware)
    hist = generate_history([a], runs=4, special_runs=False, expired_runs=0)
    for idx, run in enumerate(reversed(hist.runs)):  # oldest first: b, b, a, a — every entry passes
        model = b if idx < 2 else a
        art = next(x for x in run.artifacts if x.name == a.artifact_name)
        created = datetime.fromisoformat(run.created_at.replace("Z", "+00:00"))
        art._content = functools.partial(
            _artifact_zip,
            model=model,
            outcome="target",
            quirk=None,
            image=f"{CI_IMAGE}:0.0.5-{'a' * 40}-bbbbbbb-1",
            idx=idx,
            created=created,
        )
    srv = github_factory(hist)
    refs = [ModelRef(a.model_id, "GALAXY", a.impl_name, name), ModelRef(b.model_id, "GALAXY", b.impl_name, name)]
    result, _, _ = read(srv, tmp_path, refs, max_runs=4)
    chosen = result.last_good
    assert chosen[a.model_id] is not None and chosen[a.model_id].run_number == 103
    assert chosen[b.model_id] is not None and chosen[b.model_id].run_number == 101
    assert [s.run_number for s in result.skipped if s.reason == "known-good"] == [100]


def test_range_and_content_follow_the_flags_not_the_cache(server, models, tmp_path):
    read(server, tmp_path, models, max_runs=8)
    _, paths, _ = read(server, tmp_path, models, max_runs=3)
    assert paths[0].name == "models_ci_all_results_107_to_109.json"
    numbers = {e["ci_metadata"]["run_number"] for es in json.loads(paths[0].read_text()).values() for e in es}
    assert numbers <= {107, 108, 109}


def test_no_download_uses_the_cache_only(server, models, tmp_path):
    read(server, tmp_path, models)
    first = outputs(tmp_path)
    api = server.stats.api
    read(server, tmp_path, models, download=False)
    assert server.stats.api == api and outputs(tmp_path) == first


def test_branch_and_event_filters(server, models, tmp_path):
    result, _, _ = read(server, tmp_path, models, branch="dev", event="schedule", max_runs=4)
    assert len(result.runs) == 4 and all(r.head_branch == "dev" and r.event == "schedule" for r in result.runs)


def test_unknown_run_id_and_run_of_another_workflow(server, models, tmp_path):
    with pytest.raises(GitHubError, match="run 42 not found"):
        read(server, tmp_path, models, run_id=42)
    other = server.history.other_runs[0].id
    with pytest.raises(ConfigError, match="belongs to another workflow"):
        read(server, tmp_path, models, run_id=other)


def test_in_progress_run_is_read_again_once_completed(github_factory, models, tmp_path):
    srv = github_factory(history(runs=6))
    live = srv.history.runs[0]
    assert live.status == "in_progress"
    first, _, _ = read(srv, tmp_path, models, run_id=live.id)
    live.status, live.conclusion, live.updated_at = "completed", "success", "2025-10-06T12:00:00Z"
    second, _, _ = read(srv, tmp_path, models, run_id=live.id)
    assert second.runs[0].completed and not first.runs[0].completed
    listing = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts"
    assert srv.stats.by_route[f"{listing} 200"] + srv.stats.by_route[f"{listing} 304"] == 2  # asked again
    jobs = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
    assert srv.stats.by_route[f"{jobs} 200"] + srv.stats.by_route[f"{jobs} 304"] == 2
    api = srv.stats.api
    read(srv, tmp_path, models, run_id=live.id)  # now completed: its listings come from the cache
    assert srv.stats.api - api == 2  # workflow + run, both 304


@pytest.mark.slow
def test_pagination_past_100_runs_jobs_and_artifacts(github_factory, catalogue_sim_models, models, tmp_path):
    srv = github_factory(generate_history(catalogue_sim_models, runs=104, seed=5, expired_runs=0))
    result, paths, _ = read(srv, tmp_path, models, max_runs=101)
    assert len(result.runs) == 101 and paths[0].name == "models_ci_all_results_101_to_201.json"
    newest = srv.history.runs[2]
    assert len(newest.artifacts) > 100 and len(newest.jobs) > 100
    read_in_newest = [e for e in result.entries if e.run_id == newest.id]
    assert len(read_in_newest) == sum(1 for a in newest.artifacts if a.name.startswith("workflow_logs_"))
    assert all(e.job is not None for e in read_in_newest if e.model_id)  # jobs from page 2 matched too
    assert sum(e is not None for e in result.last_good.values()) > 100


# ------------------------------------------------------------------------------------------- the task


def inv(args: list[str], *, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_inv("ci.read", *args, cwd=ROOT, env=env, timeout=timeout)


def task_env(server, token: str | None = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_PAT", "GITHUB_TOKEN")}
    env.update(GITHUB_API_URL=server.api_url, RELEASE_REPO_ROOT=str(ROOT))
    if token:
        env["GH_PAT"] = token
    return env


def test_task_prints_tables_or_json(server, tmp_path):
    done = inv(["--max-runs", "4", "--out-root", str(tmp_path), "--json"], env=task_env(server))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["run_range"] == [106, 109] and len(data["outputs"]) == 2
    assert "artifacts" in done.stderr  # the progress line
    done = inv(["--max-runs", "4", "--out-root", str(tmp_path)], env=task_env(server))
    assert done.returncode == 0 and "Models with a last good run" in done.stdout
    assert "models_ci_last_good_106_to_109.json" in done.stdout


def test_task_dry_run_lists_runs_and_writes_nothing(server, tmp_path):
    out = tmp_path / "out"
    done = inv(["--max-runs", "4", "--out-root", str(out), "--dry-run"], env=task_env(server))
    assert done.returncode == 0, done.stderr
    assert "would write models_ci_all_results_106_to_109.json" in done.stdout
    assert "(4 run(s) to download)" in done.stdout
    assert not out.exists()
    assert inv(["--max-runs", "4", "--out-root", str(out)], env=task_env(server)).returncode == 0
    again = inv(["--max-runs", "4", "--out-root", str(out), "--dry-run"], env=task_env(server))
    assert "(0 run(s) to download)" in again.stdout


@pytest.mark.parametrize(
    ("token", "needle"), [("ghp_wrong_0123456789", "rejected the token in GH_PAT"), (None, "set GH_PAT")]
)
def test_task_bad_or_missing_token(server, tmp_path, token, needle):
    done = inv(["--out-root", str(tmp_path)], env=task_env(server, token))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert needle in lines[-1] and "Actions: read" in lines[-1]
    assert "Traceback" not in done.stderr
    if token:
        for part in (token, token[:10], token[-4:]):
            assert part not in done.stderr + done.stdout
    assert not list(tmp_path.glob("models_ci_*.json"))


@pytest.mark.slow
def test_kill_and_resume_converges(github_factory, models, tmp_path):
    clean = tmp_path / "clean"
    read(github_factory(history()), clean, models, full_history=True)
    srv = github_factory(history(), latency=0.01)
    out = tmp_path / "killed"
    env = task_env(srv)
    args = ["--out-root", str(out), "--full-history", "--max-runs", "8", "--concurrency", "4"]
    for kill_after in (6, 25):
        start = srv.stats.blob
        proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", "ci.read", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while srv.stats.blob - start < kill_after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not list(out.glob("models_ci_*.json"))  # killed before the end
    done = inv(args, env=env)
    assert done.returncode == 0, done.stderr
    assert outputs(out) == outputs(clean)
    api = srv.stats.api
    assert inv(args, env=env).returncode == 0 and srv.stats.api - api <= 2
