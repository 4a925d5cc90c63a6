"""`inv ci.read` against a re-enactment of the original models_ci_reader.py (§3.4), on the same history.

Both read the same generated Models CI (every catalogue model, so > 100 jobs and artifacts per run) from the
fake GitHub server with 20 ms injected latency on every API and blob request. The baseline does what the
original did: 5 preflight calls, the workflow, one page of runs (per_page = max runs, no status filter), and for
each run, one after another: every job page, EVERY job log, one page of artifacts and every `workflow_logs_*`
artifact (expired ones included). Warm = the same command again on the same cache.

Then ours alone, at scale (the same latency):
- cold and warm wall time at 40 and 130 runs of the catalogue (warm = the same command again: the index is read
  instead of the cache; target warm ≤ 1/10 of cold, and under 1 s at 130 runs);
- the request budget: a 90-run history of a 225-spec catalogue (the catalogue widened, CI hardware names, two
  impls sharing artifact names, flaky conclusions), cold, must stay under 2,500 API requests.

Environment: BENCH_CI_RUNS (default 10), BENCH_CI_LATENCY (seconds, default 0.02), BENCH_CI_SCALE (runs of the
scale rows, default "40,130"; empty to skip them and the budget row).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import requests

from release import catalogue, ci_read
from release.ci_model import ModelRef
from release.config import Secret
from release.github import GitHubClient
from release.github_types import RepoRef
from release.http import make_retry, make_session
from release.http_cache import FileResponseCache
from release.sim.github_server import GitHubServer
from release.sim.history import CI_HARDWARE_NAMES, SimModel, generate_history, widened
from tests.bench.__main__ import Row

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_bench_token"
OWNER, REPO = "tenstorrent", "tt-shield"


def original_reader(api: str, out_root: Path, max_runs: int) -> None:
    """Re-enactment of models_ci_reader.py's download step (§3.2-3.4), sequential, as-is."""
    auth = {"Authorization": f"Bearer {TOKEN}", "User-Agent": "models-ci-reader/1.0"}
    jhdr = {**auth, "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    base = f"{api}/repos/{OWNER}/{REPO}"

    def get(url: str, **kw: object) -> requests.Response:
        for attempt in range(3):
            r = requests.get(url, timeout=60, **kw)  # type: ignore[arg-type]
            if r.status_code not in (429, 500, 502, 503, 504):
                return r
            time.sleep(attempt + 1)
        return r

    # preflight (§3.2): repo, workflows, runs of the first workflow, recent runs, their artifacts
    get(base, headers=jhdr)
    get(f"{base}/actions/workflows", headers=jhdr)
    get(f"{base}/actions/workflows/on-nightly.yml/runs?per_page=1", headers=jhdr)
    get(f"{base}/actions/runs?per_page=5", headers=jhdr)
    get(f"{base}/actions/runs/1/artifacts", headers=jhdr)
    wid = get(f"{base}/actions/workflows/on-nightly.yml", headers=jhdr).json()["id"]
    runs = get(f"{base}/actions/workflows/{wid}/runs?per_page={max_runs}", headers=jhdr).json()["workflow_runs"]
    for run in runs:
        folder = out_root / "ci_run_logs" / f"On_nightly_{run['run_number']}_{run['id']}"
        if (folder / "logs").is_dir() and any(folder.glob("workflow_logs_*")):
            continue
        logs = folder / "logs"
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True)
        page, jobs = 1, []
        while True:
            batch = get(f"{base}/actions/runs/{run['id']}/jobs?per_page=100&page={page}", headers=jhdr).json()["jobs"]
            jobs += batch
            if len(batch) < 100:
                break
            page += 1
        for job in jobs:
            r = requests.get(f"{base}/actions/jobs/{job['id']}/logs", headers=auth, timeout=300, allow_redirects=False)
            if r.status_code == 302:
                r = requests.get(r.headers["Location"], headers={"User-Agent": "models-ci-reader/1.0"}, timeout=300)
            if r.ok:
                (logs / f"{job['name'].replace('/', '_')}_{job['id']}.txt").write_bytes(r.content)
        arts = get(f"{base}/actions/runs/{run['id']}/artifacts?per_page=100", headers=jhdr).json()["artifacts"]
        for art in arts:
            if not art["name"].startswith("workflow_logs_"):
                continue
            r = requests.get(art["archive_download_url"], headers=auth, timeout=300, allow_redirects=False)
            if r.status_code == 302:
                r = requests.get(r.headers["Location"], headers={"User-Agent": "models-ci-reader/1.0"}, timeout=300)
            if r.status_code != 200:
                continue
            target = folder / art["name"]
            shutil.rmtree(target, ignore_errors=True)
            with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
                for member in zf.namelist():
                    if ".." not in member:
                        zf.extract(member, target)


def ours(api: str, out_root: Path, max_runs: int, models: list) -> None:
    session = make_session(retry=make_retry(backoff_factor=0.05))
    gh = GitHubClient(
        api_url=api, token=Secret(TOKEN), session=session, cache=FileResponseCache(out_root / ".http_cache")
    )
    opts = ci_read.ReadOptions(repo=RepoRef(OWNER, REPO), max_runs=max_runs, concurrency=8)
    result = ci_read.read_ci(opts, github=gh, models=models, out_root=out_root)
    ci_read.write_outputs(result, out_root)


BUDGET_RUNS, BUDGET_SPECS, BUDGET_REQUESTS = 90, 225, 2500


def scale_rows(sims: list[SimModel], models: list, latency: float, runs: int) -> list[Row]:
    """Ours only: cold, then warm, on `runs` runs of the catalogue."""
    history = generate_history(sims, runs=runs + 2, seed=12, expired_runs=1)
    with GitHubServer(history, token=TOKEN, latency=latency) as server, tempfile.TemporaryDirectory() as tmp:
        cold = measure(server, lambda: ours(server.api_url, Path(tmp), runs, models))
        warm = measure(server, lambda: ours(server.api_url, Path(tmp), runs, models))
    name = f"ci_read scale ({runs} runs, {len(sims)} models, {latency * 1000:.0f} ms)"
    target = "<= 0.10, and < 1 s" if runs >= 130 else "<= 0.10"
    return [
        Row(name, "wall time (s): cold → warm", round(cold[2], 2), round(warm[2], 3), target),
        Row(name, "API requests: cold → warm", cold[0], warm[0]),
    ]


def budget_row(sims: list[SimModel], latency: float) -> Row:
    """Cold API requests on a 90-run history of a 225-spec catalogue, against the 2,500 budget."""
    wide = widened(sims, BUDGET_SPECS)
    models = [ModelRef(m.model_id, m.device, m.impl_name, m.model_name) for m in wide]
    history = generate_history(
        wide,
        runs=BUDGET_RUNS + 2,
        seed=13,
        expired_runs=1,
        hardware_names=CI_HARDWARE_NAMES,
        shared_names=True,
        failed_conclusions=True,
    )
    with GitHubServer(history, token=TOKEN, latency=latency) as server, tempfile.TemporaryDirectory() as tmp:
        api, _, _ = measure(server, lambda: ours(server.api_url, Path(tmp), BUDGET_RUNS, models))
    jobs = len(history.runs[2].jobs)
    name = f"ci_read budget ({BUDGET_RUNS} runs, {len(wide)} specs, {jobs} jobs per run)"
    return Row(name, "cold API requests vs budget", BUDGET_REQUESTS, api, f"< {BUDGET_REQUESTS}")


def measure(server: GitHubServer, fn) -> tuple[int, int, float]:  # type: ignore[no-untyped-def]
    server.stats.reset()
    start = time.perf_counter()
    fn()
    return server.stats.api, server.stats.blob, time.perf_counter() - start


def run() -> list[Row]:
    runs = int(os.environ.get("BENCH_CI_RUNS", "10"))
    latency = float(os.environ.get("BENCH_CI_LATENCY", "0.02"))
    cat = catalogue.load_path(ROOT / "workflows" / "model_specs.toml", version="0.5.0")
    sims = [SimModel.from_spec(s) for s in cat.specs.values()]
    models = ci_read.models_from_specs(cat.specs.values())
    history = generate_history(sims, runs=runs + 2, seed=11, expired_runs=1)
    rows: list[Row] = []
    with GitHubServer(history, token=TOKEN, latency=latency) as server, tempfile.TemporaryDirectory() as tmp:
        base_dir, our_dir = Path(tmp) / "original", Path(tmp) / "ours"
        b_cold = measure(server, lambda: original_reader(server.api_url, base_dir, runs))
        o_cold = measure(server, lambda: ours(server.api_url, our_dir, runs, models))
        b_warm = measure(server, lambda: original_reader(server.api_url, base_dir, runs))
        o_warm = measure(server, lambda: ours(server.api_url, our_dir, runs, models))
    name = f"ci_read ({runs} runs, {len(sims)} models, {latency * 1000:.0f} ms)"
    rows.append(Row(name, "cold API requests", b_cold[0], o_cold[0], "<= 0.25"))
    rows.append(Row(name, "cold blob requests", b_cold[1], o_cold[1]))
    rows.append(Row(name, "cold wall time (s)", round(b_cold[2], 2), round(o_cold[2], 2), "<= 0.10"))
    rows.append(Row(name, "warm API requests", b_warm[0], o_warm[0], f"<= {runs} (1 per run)"))
    rows.append(Row(name, "warm wall time (s)", round(b_warm[2], 3), round(o_warm[2], 3)))
    scale = [int(n) for n in os.environ.get("BENCH_CI_SCALE", "40,130").split(",") if n.strip()]
    for n in scale:
        rows.extend(scale_rows(sims, models, latency, n))
    if scale:
        rows.append(budget_row(sims, latency))
    return rows
