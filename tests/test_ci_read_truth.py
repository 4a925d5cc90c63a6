"""ci.read against the truth: on generated nightly histories of the real catalogue, every model's last good is
the one the simulator knows it generated (SimHistory.expected_last_good, computed without the kit), cold, warm and
under injected faults.

The histories carry what once made ci.read wrong: the CI's own hardware names (`tg`, `llmbox`, `galaxy-t3k`),
two impls of one weight on one device sharing an artifact name (each run tests one of them), passing entries on
the second page of the artifact and job listings, and passing jobs that concluded `failure`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from release import catalogue, ci_read
from release.ci_model import CiReadResult, ModelRef
from release.config import Secret
from release.github import GitHubClient
from release.github_types import RepoRef
from release.http import make_retry, make_session
from release.http_cache import FileResponseCache
from release.sim.github_server import GitHubServer
from release.sim.history import CI_HARDWARE_NAMES, SimHistory, SimModel, generate_history
from tests.services.github_server import TOKEN

ROOT = Path(__file__).resolve().parent.parent
REPO = RepoRef("tenstorrent", "tt-shield")
PAGE = 100  # GitHub's largest page


@pytest.fixture(scope="module")
def models() -> list[ModelRef]:
    cat = catalogue.load_path(ROOT / "workflows" / "model_specs.toml", version="0.5.0")
    return ci_read.models_from_specs(cat.specs.values())


def history(sims: list[SimModel], runs: int, seed: int) -> SimHistory:
    return generate_history(
        sims,
        runs=runs + 2,  # the two newest are in progress and queued: not read
        seed=seed,
        expired_runs=1,
        hardware_names=CI_HARDWARE_NAMES,
        shared_names=True,
        failed_conclusions=True,
    )


def read(server: GitHubServer, out: Path, models: list[ModelRef], max_runs: int) -> CiReadResult:
    session = make_session(retry=make_retry(backoff_factor=0.01))
    gh = GitHubClient(
        api_url=server.api_url, token=Secret(TOKEN), session=session, cache=FileResponseCache(out / ".http_cache")
    )
    options = ci_read.ReadOptions(repo=REPO, max_runs=max_runs)
    result = ci_read.read_ci(options, github=gh, models=models, out_root=out)
    ci_read.write_outputs(result, out)
    return result


def found(result: CiReadResult) -> dict[str, tuple[int, int]]:
    return {m: (e.run_number, e.artifact_id) for m, e in result.last_good.items() if e is not None}


def check_the_history_is_hard(hist: SimHistory, truth: dict[str, tuple[int, int]], models: list[ModelRef]) -> None:
    """The cases that once went wrong are in this history (otherwise the comparison proves little)."""
    ids = {m.model_id for m in models}
    by_name: dict[str, set[str]] = {}
    for run in hist.runs:
        for art in run.artifacts:
            if art.model_id in ids:
                by_name.setdefault(art.name, set()).add(art.model_id)
    shared = {name: carried for name, carried in by_name.items() if len(carried) > 1}
    assert any(name.endswith("_tg") for name in shared), shared  # two impls under a CI hardware name
    assert all(m in truth for carried in shared.values() for m in carried)  # each with a last good
    late_artifact = late_job = flaky = False
    for run in hist.runs:
        listed = sorted(run.artifacts, key=lambda a: a.id, reverse=True)  # the server's listing order
        late = {a.id for a in listed[PAGE:]}
        job_pos = {j.id: i for i, j in enumerate(run.jobs)}
        conclusion = {j.id: j.conclusion for j in run.jobs}
        for art in run.artifacts:
            if art.model_id is None or truth.get(art.model_id) != (run.run_number, art.id):
                continue
            late_artifact |= art.id in late
            late_job |= job_pos.get(art.job_id or 0, 0) >= PAGE
            flaky |= conclusion.get(art.job_id or 0) == "failure"
    assert late_artifact and late_job and flaky


@pytest.mark.parametrize(
    "runs", [pytest.param(10, id="10-runs"), pytest.param(40, id="40-runs", marks=pytest.mark.slow)]
)
def test_every_model_gets_the_true_last_good_cold_warm_and_under_faults(
    github_factory, catalogue_sim_models, models, tmp_path, runs
):
    hist = history(catalogue_sim_models, runs, seed=21)
    ids = {m.model_id for m in models}
    truth = {m: v for m, v in hist.expected_last_good(runs).items() if m in ids}
    check_the_history_is_hard(hist, truth, models)

    server = github_factory(hist)
    cold = read(server, tmp_path / "out", models, runs)
    assert found(cold) == truth
    assert len(cold.runs) == runs

    api = server.stats.api
    warm = read(server, tmp_path / "out", models, runs)
    assert found(warm) == truth
    assert server.stats.api - api <= 3  # the workflow and the runs pages, answered 304

    faulty = github_factory(history(catalogue_sim_models, runs, seed=21))
    # sparse enough that 5 retries always get through, whatever the interleaving of concurrent requests
    faulty.faults.every = {13: "502", 17: "reset"}
    faulty.faults.blob_every = {11: "reset"}
    faulty.faults.at = {3: "429", 23: "403-secondary"}
    assert found(read(faulty, tmp_path / "faulty", models, runs)) == truth
    assert faulty.stats.faults >= 6
    outputs = sorted((tmp_path / "out").glob("models_ci_*.json"))
    assert [p.read_bytes() for p in outputs] == [
        (tmp_path / "faulty" / p.name).read_bytes() for p in outputs
    ]  # byte for byte, whatever the faults


def test_a_corrupt_or_stale_index_is_rebuilt_not_trusted(github_factory, catalogue_sim_models, models, tmp_path):
    runs = 6
    hist = history(catalogue_sim_models, runs, seed=22)
    ids = {m.model_id for m in models}
    truth = {m: v for m, v in hist.expected_last_good(runs).items() if m in ids}
    server = github_factory(hist)
    out = tmp_path / "out"
    read(server, out, models, runs)
    index = out / "ci_run_logs" / "index.json"
    good = index.read_bytes()
    first = {p.name: p.read_bytes() for p in out.glob("models_ci_*.json")}

    # a forged result with a checksum that no longer matches: ignored, rebuilt from the cache
    index.write_bytes(good.replace(b'"is_passing":true', b'"is_passing":false'))
    assert found(read(server, out, models, runs)) == truth
    assert index.read_bytes() == good
    # garbage, or an index of another parser: ignored
    for junk in (b"\x00garbage", b'{"signature": [0]}\n{}', good[: len(good) // 2]):
        index.write_bytes(junk)
        assert found(read(server, out, models, runs)) == truth
        assert index.read_bytes() == good
    # a cached report changed behind the kit's back: its entry is not taken from the index
    report = next(p for p in (out / "ci_run_logs").rglob("report_data_*.json") if "other-model" not in p.name)
    report.write_text(report.read_text() + " ")
    result = read(server, out, models, runs)
    assert found(result) == truth
    assert {p.name: p.read_bytes() for p in out.glob("models_ci_*.json")} == first
