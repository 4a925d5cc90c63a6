"""`inv ci.read` on hostile Models CI data (release/sim/hostile.py) against the fake GitHub server: zip bombs,
layouts that cannot be extracted, lying sizes, hostile job logs, stale temp folders and rate limits that would
need a long wait. Everything ends as a refused artifact or one clear error, at bounded cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from release import catalogue, ci_read, ci_report
from release.ci_model import ModelRef
from release.ci_parse import ArchiveLimits
from release.config import Secret
from release.errors import RateLimitExceeded
from release.github import GitHubClient
from release.github_types import RepoRef
from release.http import make_retry, make_session
from release.sim import hostile
from release.sim.history import SimHistory, generate_history
from tests import peak_rss
from tests.services.github_server import TOKEN, small_models

ROOT = Path(__file__).resolve().parent.parent
REPO = RepoRef("tenstorrent", "tt-shield")
MiB = 1 << 20
SMALL = ArchiveLimits(max_member_bytes=16 * MiB, max_artifact_bytes=24 * MiB)


@pytest.fixture(scope="module")
def models() -> list[ModelRef]:
    cat = catalogue.load_path(ROOT / "workflows" / "model_specs.toml", version="0.5.0")
    return ci_read.models_from_specs(cat.specs.values())


def passing_history(runs: int = 3) -> SimHistory:
    return generate_history(
        small_models(), runs=runs, seed=4, special_runs=False, expired_runs=0, outcomes=[("target", 1)]
    )


def read(server, out: Path, models, **opts):
    session = make_session(retry=make_retry(backoff_factor=0.01))
    gh = GitHubClient(api_url=server.api_url, token=Secret(TOKEN), session=session)
    options = ci_read.ReadOptions(repo=REPO, **{"max_runs": 3, "limits": SMALL, **opts})
    result = ci_read.read_ci(options, github=gh, models=models, out_root=out)
    ci_read.write_outputs(result, out)
    return result


def refused(result) -> dict[str, str]:
    return {e.artifact_name: e.parse.reason for e in result.entries if e.parse.reason}


def temp_entries(out: Path) -> list[Path]:
    return list(out.rglob(".tmp-*"))


def test_hostile_artifacts_are_refused_listed_and_remembered(github_factory, models, tmp_path):
    hist = passing_history()
    newest = hist.runs[0]
    kinds = hostile.make_hostile(newest, bomb_size=40 * MiB, log_size=1 * MiB, hostile_logs=2)
    srv = github_factory(hist)
    result = read(srv, tmp_path, models)
    reasons = refused(result)
    by_kind = {kind: name for name, kind in kinds.items() if kind != "hostile-log"}
    assert "inflates to 40 MiB, over the 16 MiB limit per member" in reasons[by_kind["bomb"]]
    assert "'report' is both a file and a folder" in reasons[by_kind["clash"]]
    assert "name part over 255 bytes" in reasons[by_kind["long-name"]]
    assert all(r.startswith("unsafe zip: ") for r in reasons.values()) and len(reasons) == 3
    summary = ci_report.summary(result)
    assert {u["artifact"] for u in summary["unparseable"]} == set(reasons)
    assert summary["runs"][0]["unparseable"] == 3
    assert not temp_entries(tmp_path)
    assert not list(tmp_path.rglob("zeros.bin"))
    # the hostile logs of last-good jobs were parsed (their last block names the firmware)
    hostile_names = [name for name, kind in kinds.items() if kind == "hostile-log"]
    chosen = [e for e in result.last_good.values() if e is not None and e.artifact_name in hostile_names]
    assert chosen and all(result.logs[e.job_id].firmware_bundle == f"hostile-{e.job_id}" for e in chosen)
    # refusals are remembered: the next read downloads nothing
    blob = srv.stats.blob
    again = read(srv, tmp_path, models)
    assert srv.stats.blob == blob and refused(again) == reasons


def test_a_download_longer_than_its_listed_size_stops(github_factory, models, tmp_path):
    hist = passing_history(2)
    art = next(a for a in hist.runs[0].artifacts if a.name.startswith("workflow_logs_"))
    noise = os.urandom(3 * MiB)  # incompressible: the zip really is 3 MiB
    art._content = lambda: hostile._zip({"logs/noise.bin": noise})
    art.listed_size = 1000
    result = read(github_factory(hist), tmp_path, models, max_runs=2)
    assert refused(result)[art.name] == "unsafe zip: the download is larger than the 1000 bytes GitHub lists"
    assert not temp_entries(tmp_path)


def test_a_zip_listed_over_the_limit_is_refused_without_a_download(github_factory, models, tmp_path):
    hist = passing_history(2)
    art = next(a for a in hist.runs[0].artifacts if a.name.startswith("workflow_logs_"))
    art.listed_size = 30 * MiB
    srv = github_factory(hist)
    result = read(srv, tmp_path, models, max_runs=2)
    assert "over the 25165824 bytes limit per artifact" in refused(result)[art.name]
    assert not any(p.endswith(f"/{art.id}") for host, p, _, _ in srv.stats.log if host == "blob")


def test_an_unreadable_zip_that_matches_its_digest_is_refused(github_factory, models, tmp_path):
    hist = passing_history(2)
    art = next(a for a in hist.runs[0].artifacts if a.name.startswith("workflow_logs_") and a.with_digest)
    art._content = lambda: b"PK\x03\x04 not really a zip"
    result = read(github_factory(hist), tmp_path, models, max_runs=2)
    assert refused(result)[art.name].startswith("unsafe zip: not a zip file")


def test_stale_temp_entries_are_swept_at_start(github_factory, models, tmp_path):
    hist = passing_history(2)
    srv = github_factory(hist)
    read(srv, tmp_path, models, max_runs=2)
    run_dir = next((tmp_path / "ci_run_logs").glob("On_nightly_*"))
    dead = run_dir / ".tmp-p4194304-1-abcd"  # above the kernel's pid_max: no such process
    legacy = run_dir / ".tmp-123-abcd"  # an older kit's name
    old_live = run_dir / "logs" / ".tmp-p1-2-abcd.tmp"  # pid 1 is alive, but the file is two days old
    live = run_dir / ".tmp-p1-3-abcd"
    for path in (dead / "x", legacy / "y", live / "z"):
        path.parent.mkdir(parents=True)
        path.write_text("partial")
    old_live.parent.mkdir(exist_ok=True)
    old_live.write_text("partial")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old_live, (two_days_ago, two_days_ago))
    read(srv, tmp_path, models, max_runs=2)
    assert temp_entries(tmp_path) == [live]


def test_a_rate_limit_beyond_the_allowed_wait_ends_the_read_with_one_error(github_factory, models, tmp_path):
    srv = github_factory(passing_history(3))
    srv.faults.at = {6: "403-primary:3600"}
    with pytest.raises(RateLimitExceeded) as stopped:
        read(srv, tmp_path, models)
    text = str(stopped.value)
    assert "rate limit of the token in GH_PAT is used up" in text and "run the same command again after" in text
    assert not list(tmp_path.glob("models_ci_*.json"))


def task_env(server) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_PAT", "GITHUB_TOKEN")}
    env.update(GITHUB_API_URL=server.api_url, RELEASE_REPO_ROOT=str(ROOT), GH_PAT=TOKEN)
    return env


def test_the_task_prints_one_error_line_for_a_day_long_retry_after(github_factory, tmp_path):
    srv = github_factory(passing_history(2))
    srv.faults.every = {1: "429:86400"}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "ci.read", "--out-root", str(tmp_path)],
        cwd=ROOT,
        env=task_env(srv),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - start < 30  # not a day
    assert done.returncode == 1 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: GitHub's secondary rate limit") and "wait of 24.0 h" in last


# ------------------------------------------------------------------------------------------------ done when


@pytest.mark.slow
def test_inv_ci_read_reads_a_hostile_history_within_time_and_memory(github_factory, tmp_path):
    """The issue's "done when": the newest run holds a 600 MB zip bomb, a file/folder clash, a 300-character member
    name and 10 MB hostile job logs; `inv ci.read` reads to the end in < 2 min and < 400 MB peak RSS."""
    hist = passing_history(4)
    kinds = hostile.make_hostile(hist.runs[0], bomb_size=600_000_000, name_length=300, log_size=10 << 20)
    bomb = next(a for a in hist.runs[0].artifacts if kinds.get(a.name) == "bomb")
    assert bomb.size_in_bytes < 1 << 20  # < 1 MB on the wire
    srv = github_factory(hist)
    out = tmp_path / "out"
    env = task_env(srv)
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    run = peak_rss.measure(
        [sys.executable, "-m", "invoke", "ci.read", "--max-runs", "4", "--out-root", str(out), "--json"],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=stderr,
    )
    elapsed, peak_mb = run.seconds, run.peak_mb
    print(f"\nhostile history: inv ci.read took {elapsed:.1f}s, peak RSS {peak_mb:.0f} MB")
    assert run.exit_code == 0, stderr.read_text()[-3000:]
    assert elapsed < 120 and peak_mb < 400
    data = json.loads(stdout.read_text())
    listed = {u["artifact"]: u["reason"] for u in data["unparseable"]}
    for name, kind in kinds.items():
        if kind != "hostile-log":
            assert name in listed and listed[name].startswith("unsafe zip: "), (name, kind)
    assert "inflates to 572 MiB, over the 256 MiB limit per member" in listed[bomb.name]
    assert not list(out.rglob(".tmp-*")) and not list(out.rglob("zeros.bin"))
    good = json.loads(next(out.glob("models_ci_last_good_*.json")).read_text())
    hostile_jobs = {e["ci_job_id"]: e["firmware_bundle"] for e in good.values() if e and e["ci_run_number"] == 103}
    parsed = {job for job, fw in hostile_jobs.items() if fw == f"hostile-{job}"}
    assert len(parsed) == 3  # the three hostile logs were parsed to their last block
