"""GitHubClient against the fake GitHub server over real HTTP: pagination, ETags, rate limits, faults, auth."""

from __future__ import annotations

import io

import pytest

from release import wiring
from release.config import Config, Secret
from release.errors import AuthError, ConfigError, GitHubError, GitHubStatusError, RateLimitExceeded
from release.github import GitHubClient
from release.github_types import RateLimitWait, RepoRef
from release.http import WaitBudget, make_retry, make_session, retry_after_seconds
from release.http_cache import FileResponseCache
from release.sim.github_routing import Reply, error
from release.sim.history import generate_history
from tests.services.github_server import TOKEN, small_models

REPO = RepoRef("tenstorrent", "tt-shield")


def client(server, *, token: str | None = TOKEN, cache=None, events=None) -> GitHubClient:
    def on_wait(seconds: float) -> None:
        if events is not None:
            events.append(RateLimitWait(seconds, "retry-after", ""))

    session = make_session(retry=make_retry(backoff_factor=0.01, on_wait=on_wait))
    return GitHubClient(
        api_url=server.api_url,
        token=Secret(token) if token else None,
        session=session,
        cache=cache,
        on_event=events.append if events is not None else None,
    )


@pytest.fixture(scope="module")
def big(github_factory, catalogue_sim_models):
    """> 100 runs; runs with > 100 jobs and > 100 artifacts (every catalogue model plus fillers)."""
    return github_factory(generate_history(catalogue_sim_models, runs=104, seed=7, expired_runs=0))


def test_pagination_past_100_everywhere(big):
    gh = client(big)
    workflow = gh.get_workflow(REPO, "on-nightly.yml")
    runs = list(gh.iter_workflow_runs(REPO, workflow.id, status="completed"))
    assert len(runs) == 102 and all(r.completed for r in runs)  # in-progress and queued filtered by the server
    assert [r.run_number for r in runs] == sorted((r.run_number for r in runs), reverse=True)
    newest = runs[0]
    arts = gh.list_artifacts(REPO, newest.id)
    jobs = gh.list_jobs(REPO, newest.id)
    sim_run = big.history.run(newest.id)
    assert len(arts) == len(sim_run.artifacts) > 100 and len({a.id for a in arts}) == len(arts)
    assert len(jobs) == len(sim_run.jobs) > 100
    assert big.stats.by_route["GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts 200"] >= 2


def test_server_side_filters(github_server):
    gh = client(github_server)
    wf = gh.get_workflow(REPO, "on-nightly.yml")
    dispatch = list(gh.iter_workflow_runs(REPO, wf.id, event="workflow_dispatch"))
    assert dispatch and all(r.event == "workflow_dispatch" for r in dispatch)
    assert all(r.head_branch == "main" for r in gh.iter_workflow_runs(REPO, wf.id, branch="main"))
    run = next(gh.iter_workflow_runs(REPO, wf.id))
    name = next(a.name for a in github_server.history.run(run.id).artifacts)
    assert [a.name for a in gh.list_artifacts(REPO, run.id, name=name)] == [name]


def test_etag_answers_cost_a_304(github_server, tmp_path):
    gh = client(github_server, cache=FileResponseCache(tmp_path))
    wf = gh.get_workflow(REPO, "on-nightly.yml")
    first = list(gh.iter_workflow_runs(REPO, wf.id))
    before = github_server.stats.not_modified
    gh2 = client(github_server, cache=FileResponseCache(tmp_path))
    assert gh2.get_workflow(REPO, "on-nightly.yml") == wf
    assert list(gh2.iter_workflow_runs(REPO, wf.id)) == first
    assert github_server.stats.not_modified - before == 2 and gh2.stats.not_modified == 2


def test_blob_downloads_carry_no_authorization(github_server):
    gh = client(github_server)
    run = github_server.history.runs[3]
    art = next(a for a in run.artifacts if a.name.startswith("workflow_logs_"))
    job = run.jobs[1]
    arts = {a.id: a for a in gh.list_artifacts(REPO, run.id)}
    zip_buf, log_buf = io.BytesIO(), io.BytesIO()
    assert gh.download_artifact(REPO, arts[art.id], zip_buf, max_bytes=1 << 20) == len(art.content)
    assert gh.download_job_log(REPO, job.id, log_buf, max_bytes=1 << 20) == len(job.log)
    assert (zip_buf.getvalue(), log_buf.getvalue()) == (art.content, job.log)
    blob_requests = [e for e in github_server.stats.log if e[0] == "blob"]
    assert blob_requests and not any(had_auth for *_, had_auth in blob_requests)


def test_expired_artifact_answers_410(github_factory):
    server = github_factory(generate_history(small_models()[:2], runs=4, expired_runs=1, special_runs=False))
    gh = client(server)
    old = server.history.runs[-1]
    art = next(a for a in gh.list_artifacts(REPO, old.id) if a.expired)
    with pytest.raises(GitHubError, match="410: Artifact has expired"):
        gh.download_artifact(REPO, art, io.BytesIO(), max_bytes=1 << 20)


@pytest.mark.parametrize("kind", ["502", "reset", "429", "403-secondary", "403-primary"])
def test_faults_are_retried_or_waited_out(github_factory, kind):
    server = github_factory(generate_history(small_models()[:2], runs=4, special_runs=False))
    server.faults.at = {1: kind, 2: kind} if kind in ("502", "reset") else {1: kind}
    events: list[object] = []
    gh = client(server, events=events)
    assert gh.get_workflow(REPO, "on-nightly.yml").id == server.history.workflow_id
    waits = [e for e in events if isinstance(e, RateLimitWait)]
    if kind in ("429", "403-secondary", "403-primary"):
        assert len(waits) == 1 and 0 < waits[0].seconds <= 2.5
    else:
        assert not waits
    assert server.stats.faults == (2 if kind in ("502", "reset") else 1)


def test_a_hanging_answer_times_out_and_is_retried(github_factory):
    server = github_factory(generate_history(small_models()[:1], runs=3, special_runs=False))
    server.hang_seconds = 0.6
    server.faults.at = {1: "timeout"}
    session = make_session(retry=make_retry(backoff_factor=0.01), timeout=(2.0, 0.3))
    gh = GitHubClient(api_url=server.api_url, token=Secret(TOKEN), session=session)
    assert gh.get_workflow(REPO, "on-nightly.yml").id == server.history.workflow_id
    assert server.stats.faults == 1 and server.stats.api == 2


def test_exhausted_primary_limit_holds_the_next_request(github_factory):
    server = github_factory(generate_history(small_models()[:1], runs=3, special_runs=False))
    server.rate_remaining, server.rate_reset_in = 0, 1
    events: list[object] = []
    gh = client(server, events=events)
    gh.get_workflow(REPO, "on-nightly.yml")
    server.rate_remaining = 4999
    gh.get_workflow(REPO, "on-nightly.yml")
    assert [(type(e), e.reason) for e in events] == [(RateLimitWait, "primary")]


def budget_client(server, budget: WaitBudget, events: list[object], sleeps: list[float]) -> GitHubClient:
    """A client whose session retries and own waits share `budget`; its own sleeps are recorded, not slept."""
    session = make_session(retry=make_retry(backoff_factor=0.01, budget=budget))
    return GitHubClient(
        api_url=server.api_url,
        token=Secret(TOKEN),
        session=session,
        on_event=events.append,
        sleep=sleeps.append,
        wait_budget=budget,
    )


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ("429:86400", "secondary rate limit (too many requests at once) is hit"),
        ("403-secondary:86400", "secondary rate limit"),
        ("403-primary:3600", "API rate limit of the token in GH_PAT is used up"),
    ],
)
def test_a_wait_longer_than_allowed_fails_at_once_with_advice(github_factory, fault, needle):
    server = github_factory(generate_history(small_models()[:1], runs=3, special_runs=False))
    server.faults.every = {1: fault}  # every request: waiting and asking again would not help
    events: list[object] = []
    sleeps: list[float] = []
    gh = budget_client(server, WaitBudget(per_wait=120, total=900), events, sleeps)
    with pytest.raises(RateLimitExceeded) as failed:
        gh.get_workflow(REPO, "on-nightly.yml")
    text = str(failed.value)
    assert needle in text and "the kit waits at most 120s" in text and "lifts at 20" in text
    assert "run the same command again after that" in text and "\n" not in text
    assert sleeps == [] and not [e for e in events if isinstance(e, RateLimitWait)]
    assert server.stats.api == 1  # the answer was not retried by the session either


def test_the_total_wait_budget_ends_the_run_with_advice(github_factory):
    server = github_factory(generate_history(small_models()[:1], runs=3, special_runs=False))
    server.faults.every = {1: "403-secondary:50"}
    events: list[object] = []
    sleeps: list[float] = []
    gh = budget_client(server, WaitBudget(per_wait=120, total=120), events, sleeps)
    with pytest.raises(RateLimitExceeded, match=r"already waited 10\ds of its 120s budget") as failed:
        gh.get_workflow(REPO, "on-nightly.yml")
    assert "a lower --concurrency makes it less likely" in str(failed.value)
    assert len(sleeps) == 2 and all(49 <= s <= 50.5 for s in sleeps)  # two waits fit, the third does not
    assert [type(e) for e in events] == [RateLimitWait, RateLimitWait]


def test_session_retries_spend_the_same_budget(github_factory):
    server = github_factory(generate_history(small_models()[:1], runs=3, special_runs=False))
    server.faults.at = {1: "429", 2: "429"}
    budget = WaitBudget(per_wait=120, total=1.5)
    events: list[object] = []
    sleeps: list[float] = []
    gh = budget_client(server, budget, events, sleeps)
    with pytest.raises(RateLimitExceeded, match="budget for rate limits"):
        gh.get_workflow(REPO, "on-nightly.yml")  # the session waits 1 s, then the client may not wait again
    assert budget.spent == 1.0 and sleeps == []


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("Thu, 01 Jan 2099 00:00:00 GMT", 4070908800.0 - 1_700_000_000.0),
        ("9" * 40, float("inf")),
        ("-5", None),
        ("soon", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value, seconds):
    assert retry_after_seconds(value, now=1_700_000_000.0) == seconds


def test_wait_budget_counts_and_refuses():
    budget = WaitBudget(per_wait=10, total=15)
    assert budget.take(10) is None and budget.take(11) == "per-wait" and budget.take(float("nan")) == "per-wait"
    assert budget.take(6) == "total" and budget.take(5) is None and budget.spent == 15


def test_bad_and_missing_tokens(github_server):
    with pytest.raises(AuthError) as bad:
        client(github_server, token="ghp_wrong_secret_value").get_workflow(REPO, "on-nightly.yml")
    assert "GH_PAT" in str(bad.value) and "Actions: read" in str(bad.value)
    assert "ghp_wrong" not in str(bad.value) and "secret_value" not in str(bad.value)
    with pytest.raises(AuthError, match="set GH_PAT"):
        client(github_server, token=None).get_workflow(REPO, "on-nightly.yml")


def test_unknown_run_and_workflow(github_server):
    gh = client(github_server)
    with pytest.raises(GitHubError, match="run 42 not found in tenstorrent/tt-shield: check --run-id"):
        gh.get_run(REPO, 42)
    with pytest.raises(GitHubError, match="workflow 'nope.yml' not found"):
        gh.get_workflow(REPO, "nope.yml")


def test_wiring_builds_the_client_from_config(github_server, tmp_path):
    cfg = Config.from_env({"GITHUB_API_URL": github_server.api_url, "GITHUB_TOKEN": TOKEN}, repo_root=tmp_path)
    gh = wiring.ci_github_client(cfg, cache_root=tmp_path)
    assert gh.get_workflow(REPO, "on-nightly.yml").name == "On Nightly"
    with pytest.raises(ConfigError, match="GH_PAT"):
        Config.from_env({}, repo_root=tmp_path).require_ci_token("Actions: read")


def test_reads_and_writes_share_one_check_and_one_wait_loop(github_factory):
    """A write meets the same rules as a read: 401/403 name the token and the permission, another status names the
    request and GitHub's messages, a body that is not JSON is an error (never a traceback), rate limits are waited
    out."""
    server = github_factory(generate_history(small_models()[:1], runs=2, special_runs=False))
    repo = RepoRef("o", "r")
    with pytest.raises(
        AuthError, match="GitHub needs a token for POST /repos/o/r/pulls: set GH_PAT .*Pull requests: write"
    ):
        client(server, token=None).create_pull(repo, head="a", base="b", title="t", body="")
    gh = client(server)
    server.add_route("POST", "/repos/{owner}/{repo}/pulls", lambda srv, r: error(403, "Resource not accessible"))
    with pytest.raises(AuthError, match=r"refused POST /repos/o/r/pulls \(open PR a → b\) with 403: .* needs Pull "):
        gh.create_pull(repo, head="a", base="b", title="t", body="")
    errors = [
        {"resource": "PullRequest", "field": "base", "code": "invalid"},
        {"code": "custom", "message": "no commits"},
    ]
    failed = Reply(422, {"message": "Validation Failed", "errors": errors, "documentation_url": "https://docs"})
    server.add_route("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", lambda srv, r: failed)
    with pytest.raises(GitHubStatusError, match=r"PATCH /repos/o/r/pulls/3 \(update PR #3\) answered 422: Validation "
                       r"Failed; base invalid; no commits$"):  # fmt: skip
        gh.update_pull(repo, 3, title="t", body="")
    server.add_route(
        "DELETE", "/repos/{owner}/{repo}/releases/assets/{asset_id}", lambda srv, r: Reply(204, None, raw=b"")
    )
    server.add_route("GET", "/repos/{owner}/{repo}/git/ref/{ref}", lambda srv, r: Reply(200, None, raw=b"<html>"))
    with pytest.raises(GitHubError, match=r"GET /repos/o/r/git/ref/tags/v1 \(ref tags/v1\): the answer is not JSON"):
        gh.get_ref(repo, "tags/v1")
    events: list[object] = []
    server.faults.at = {server.stats.api + 1: "429"}
    client(server, events=events).delete_release_asset(repo, 9)
    assert [type(e) for e in events] == [RateLimitWait]
