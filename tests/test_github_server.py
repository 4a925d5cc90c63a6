"""The fake GitHub server itself: determinism, OpenAPI checks that bite, and room for new endpoints."""

from __future__ import annotations

import pytest
import requests

from release.sim.github_routing import Reply, SimRequest, error
from release.sim.github_server import GitHubServer
from release.sim.history import generate_history
from tests.openapi.validate import validate
from tests.services.github_server import small_models

RUNS = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"


def test_history_is_deterministic():
    a, b = generate_history(small_models(), runs=5, seed=9), generate_history(small_models(), runs=5, seed=9)
    assert [r.id for r in a.runs] == [r.id for r in b.runs]
    assert [x.content for r in a.runs for x in r.artifacts] == [x.content for r in b.runs for x in r.artifacts]
    assert [j.log for r in a.runs for j in r.jobs] == [j.log for r in b.runs for j in r.jobs]
    statuses = {(r.status, r.conclusion, r.head_branch, r.event) for r in a.runs}
    assert ("in_progress", None, "dev", "schedule") in statuses and ("queued", None, "dev", "schedule") in statuses


def test_outcomes_and_ci_images_for_demos():
    hist = generate_history(small_models(), runs=4, special_runs=False, outcomes=[("target", 1)])
    images = hist.ci_images()
    assert images and all(
        i.startswith(("ghcr.io/tenstorrent/tt-shield/", "ghcr.io/tenstorrent/tt-media")) for i in images
    )
    assert all(a.content for r in hist.runs for a in r.artifacts)
    assert len(hist.runs[0].artifacts) == len(small_models()) + 2  # nobody skipped: "not_run" has weight 0


def test_the_openapi_check_rejects_drift():
    with pytest.raises(AssertionError, match="workflow_runs/0"):
        validate("GET", RUNS, 200, {"total_count": 1, "workflow_runs": [{"id": "not-an-int"}]})
    with pytest.raises(AssertionError, match="not in the OpenAPI slice"):
        validate("POST", "/repos/{owner}/{repo}/issues", 201, {})
    validate(
        "GET",
        "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
        410,
        {"message": "Artifact has expired", "documentation_url": "https://docs.github.com/rest", "status": "410"},
    )


def test_new_endpoint_families_plug_in_with_add_route():
    created: list[object] = []

    def create_pull(srv: GitHubServer, r: SimRequest) -> Reply:
        if not isinstance(r.body, dict) or "head" not in r.body:
            return error(422, "Validation Failed")
        created.append(r.body)
        return Reply(201, {"number": len(created), "head": {"ref": r.body["head"]}, "owner": r.params["owner"]})

    with GitHubServer(generate_history(small_models()[:1], runs=2), token="t") as srv:
        srv.add_route("POST", "/repos/{owner}/{repo}/pulls", create_pull)
        url = f"{srv.api_url}/repos/tenstorrent/tt-inference-server/pulls"
        ok = requests.post(url, json={"head": "pre-release-v0.6.0"}, headers={"Authorization": "Bearer t"}, timeout=5)
        assert ok.status_code == 201 and ok.json() == {
            "number": 1,
            "head": {"ref": "pre-release-v0.6.0"},
            "owner": "tenstorrent",
        }
        assert requests.post(url, json={}, headers={"Authorization": "Bearer t"}, timeout=5).status_code == 422
        assert requests.get(url, headers={"Authorization": "Bearer t"}, timeout=5).status_code == 404
        assert srv.stats.by_route["POST /repos/{owner}/{repo}/pulls 201"] == 1
