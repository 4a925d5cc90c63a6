"""The undo's pure parts: the evidence a state file gives (release/undo/evidence.py) and the plan
(release/undo/plan.py) — table tests, the rendered plan against its golden file, and the readers of outside data
(the state file's ledger, GitHub's package versions) under hypothesis."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release import run_state
from release.errors import GitHubError, InputError
from release.github_types import PackageVersion
from release.record import ReleaseRecord
from release.undo import evidence
from release.undo.plan import (
    ClosePull,
    DeleteImage,
    DeleteLocalBranch,
    DeletePackageVersion,
    DeleteRemoteBranch,
    ImageSeen,
    Observed,
    PullSeen,
    RestoreFiles,
    SwitchBranch,
    plan_undo,
    render,
)

V = "0.6.0"
BRANCH = "pre-release-v0.6.0"
TIP = "a" * 40
START = "b" * 40
D1, D2, D3 = ("sha256:" + c * 64 for c in "123")
DEV = "ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"
PROMOTED, BUILT, CLOUD = f"{DEV}:0.6.0-aaa-bbb", f"{DEV}:0.6.0-ccc-ddd", f"{DEV.replace('-dev-', '-cloud-')}:0.6.0-ccc"
MEDIA = "ghcr.io/tenstorrent/tt-media-inference-server:0.4.0-e95ffa5"
URL = "http://127.0.0.1:1/tenstorrent/tt-inference-server/pull/1"


def state(**ledger_over: Any) -> dict[str, Any]:
    ledger = {
        "checkout": {"branch": "dev"},
        "branches": {BRANCH: {"created_local": True, "created_remote": True, "local_tip": TIP, "remote_tip": TIP}},
        "pulls": {"1": {"url": URL, "head": BRANCH, "base": "dev"}},
        "images": {
            PROMOTED: {"digest": D1, "by": "images.promote"},
            BUILT: {"digest": D2, "by": "images.build"},
            CLOUD: {"digest": D3, "by": "images.build"},
        },
        "existed": {MEDIA: D3},
        **ledger_over,
    }
    run = {"arguments": {"increment": "minor"}, "started_at": "2026-01-01T00:00:00Z", "finished": True,
           "steps": {"pr": {"status": "done", "outputs": {"urls": [URL]}}}, "ledger": ledger}  # fmt: skip
    return {"schema": 1, "version": V, "runs": {"prerelease": run}}


def ev(data: dict[str, Any] | None = None, **kw: Any) -> evidence.Evidence:
    parsed = run_state.parse(data or state(), source="state.json")
    return evidence.from_state(parsed, command="prerelease", version=V, source="state.json", **kw)


def seen(**over: Any) -> Observed:
    base = Observed(
        remote="origin",
        current_branch=BRANCH,
        dirty=(),
        local={BRANCH: TIP, "dev": START},
        remote_heads={BRANCH: TIP},
        home="dev",
        kit_files=("VERSION", "workflows/model_specs.toml", "release_logs/dev_artifacts_summary.json"),
        leftovers=("release_logs/release_state_v0.6.0.json", "release_logs/promote_state.json"),
        pulls=(PullSeen(1, "open", False, BRANCH, "dev", TIP, URL),),
        images={
            PROMOTED: ImageSeen(
                PROMOTED, D1, "packages", package="tenstorrent/x", version_id=11, version_tags=("0.6.0-aaa-bbb",)
            ),
            BUILT: ImageSeen(
                BUILT, D2, "packages", package="tenstorrent/x", version_id=12, version_tags=("0.6.0-ccc-ddd",)
            ),
            CLOUD: ImageSeen(CLOUD, D3, "registry", shared_with=()),
        },
    )
    return dataclasses.replace(base, **over)


def kinds(plan: Any) -> list[str]:
    return [type(s).__name__ for s in plan.steps]


def test_the_whole_run_is_undone_in_reverse_order_of_creation(golden: Any) -> None:
    plan = plan_undo(ev(), seen())
    assert kinds(plan) == ["ClosePull", "DeleteRemoteBranch", "DeletePackageVersion", "DeleteImage",
                           "DeletePackageVersion", "SwitchBranch", "DeleteLocalBranch", "Archive"]  # fmt: skip
    assert [s.destination for s in plan.steps if isinstance(s, DeletePackageVersion | DeleteImage)] == [
        BUILT,
        CLOUD,
        PROMOTED,
    ]  # builds first: they came after the promotion
    assert plan.complete and not plan.skipped
    assert [k.what for k in plan.kept] == [MEDIA]  # there before the run: listed, never touched
    golden.check("undo/plan_prerelease.txt", render(plan, source="release_logs/release_state_v0.6.0.json"))


def test_the_release_tag_is_listed_never_touched() -> None:
    plan = plan_undo(ev(), seen(remote_tag=TIP))
    assert plan.complete and any(k.what == f"tag v0.6.0 on origin (at {TIP[:12]})" for k in plan.kept)


def test_a_merged_pr_stops_everything() -> None:
    merged = PullSeen(1, "closed", True, BRANCH, "dev", TIP, URL)
    plan = plan_undo(ev(), seen(pulls=(merged,)))
    assert plan.steps == () and plan.stop and "hot-fix" in plan.stop and not plan.complete
    assert "stopped: PR #1" in render(plan, source="s")


def test_what_changed_since_the_run_is_skipped_with_the_reason() -> None:
    moved = "c" * 40
    plan = plan_undo(
        ev(),
        seen(
            pulls=(PullSeen(1, "open", False, BRANCH, "dev", moved, URL),),
            remote_heads={BRANCH: moved},
            local={BRANCH: moved, "dev": START},
            images={
                PROMOTED: ImageSeen(PROMOTED, D3, "packages"),  # another digest now
                BUILT: ImageSeen(
                    BUILT,
                    D2,
                    "packages",
                    package="tenstorrent/x",
                    version_id=12,
                    version_tags=("0.6.0-ccc-ddd", "latest"),
                ),
                CLOUD: ImageSeen(CLOUD, None, "registry"),  # gone already
            },
        ),
    )
    assert kinds(plan) == ["SwitchBranch", "Archive"]
    reasons = {s.what: s.reason for s in plan.skipped}
    assert "someone pushed to it" in reasons[f"PR #1 {BRANCH} → dev"]
    assert "someone pushed to it" in reasons[f"branch {BRANCH} on origin"]
    assert "changed since the run" in reasons[PROMOTED]
    assert "also carries latest" in reasons[BUILT]
    assert "commits the run did not make" in reasons[f"local branch {BRANCH}"]
    assert [u.what for u in plan.undone] == [CLOUD]
    assert not plan.complete


def test_nothing_is_the_runs_without_a_ledger() -> None:
    data = state()
    del data["runs"]["prerelease"]["ledger"]
    plan = plan_undo(ev(data), seen())
    assert kinds(plan) == ["SwitchBranch", "Archive"]
    assert plan.gaps and "older kit" in plan.gaps[0]
    assert {s.what for s in plan.skipped} == {f"branch {BRANCH} on origin", f"local branch {BRANCH}",
                                              f"PR #1 {BRANCH} → dev"}  # fmt: skip


def test_the_checkout_is_restored_only_when_the_changes_are_the_runs() -> None:
    kit = plan_undo(ev(), seen(dirty=(("M", "VERSION"), ("??", "release_logs/dev_artifacts_summary.json"))))
    (restore,) = [s for s in kit.steps if isinstance(s, RestoreFiles)]
    assert restore.tracked == ("VERSION",) and restore.untracked == ("release_logs/dev_artifacts_summary.json",)
    assert kinds(kit)[-4:] == ["RestoreFiles", "SwitchBranch", "DeleteLocalBranch", "Archive"]
    foreign = plan_undo(ev(), seen(dirty=(("M", "VERSION"), ("M", "src/server.py"))))
    assert not [s for s in foreign.steps if isinstance(s, RestoreFiles | SwitchBranch | DeleteLocalBranch)]
    assert any("src/server.py" in s.reason for s in foreign.skipped)
    elsewhere = plan_undo(ev(), seen(current_branch="dev", dirty=(("M", "src/server.py"),)))
    assert kinds(elsewhere)[-2:] == ["DeleteLocalBranch", "Archive"]  # the user's own work on dev is not looked at


def test_a_pr_the_run_only_updated_is_left_open() -> None:
    data = state(pulls={})
    plan = plan_undo(ev(data), seen())
    assert not [s for s in plan.steps if isinstance(s, ClosePull)]
    assert any("updated it but did not open it" in s.reason for s in plan.skipped)
    # the branch still has that PR open from it: deleting it would close the PR
    assert not [s for s in plan.steps if isinstance(s, DeleteRemoteBranch)]
    assert any("deleting the branch would close it" in s.reason for s in plan.skipped)


def test_a_release_run_after_the_prerelease_is_undone_first() -> None:
    data = state()
    data["runs"]["release"] = {"arguments": {}, "steps": {}}
    plan = plan_undo(ev(data), seen())
    assert plan.stop and "inv release --undo --version 0.6.0" in plan.stop


def test_a_release_record_proves_its_images() -> None:
    data = state()
    data["runs"] = {"release": {"arguments": {}, "steps": {}}}
    record = {"version": V, "images": [
        {"destination": BUILT.replace("-dev-", "-release-"), "digest": D2, "how": "built"},
        {"destination": PROMOTED.replace("-dev-", "-release-"), "digest": D1, "how": "kept"},
        {"destination": MEDIA, "digest": D3, "how": "existing"},
        {"destination": "bad", "digest": "nope", "how": "built"},
    ]}  # fmt: skip
    rec = ReleaseRecord.from_json(record, source="record.json")
    e = evidence.from_state(run_state.parse(data, source="s"), command="release", version=V, source="s", record=rec)
    assert [(i.destination, i.by) for i in e.images] == [(BUILT.replace("-dev-", "-release-"), "images.build")]
    assert set(e.existed) == {PROMOTED.replace("-dev-", "-release-"), MEDIA}
    assert e.run_branch == "rc-v0.6.0" and e.base == "main" and e.gaps


def test_a_state_file_without_the_run_is_refused() -> None:
    with pytest.raises(InputError, match="no `release` run"):
        evidence.from_state(run_state.parse(state(), source="x.json"), command="release", version=V, source="x.json")


# ------------------------------------------------------------------------------------------- outside data

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_ledger_keys = st.sampled_from(["checkout", "branches", "pulls", "images", "existed", "releases", "x"])


@settings(max_examples=200, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_ledger_keys, _json, max_size=6), _json)
def test_any_ledger_gives_evidence_or_an_input_error(ledger: dict[str, Any], steps: Any) -> None:
    data = state()
    data["runs"]["prerelease"]["ledger"] = ledger
    data["runs"]["prerelease"]["steps"] = steps
    try:
        e = ev(data)
    except InputError:
        return
    plan_undo(e, seen())  # whatever the ledger says, the planner gets values it can use
    json.dumps(plan_undo(e, seen()).to_json())


@settings(max_examples=200, deadline=500)
@given(_json)
def test_any_package_version_answer_is_a_value_or_a_github_error(body: Any) -> None:
    try:
        v = PackageVersion.from_api(body)
    except GitHubError:
        return
    assert isinstance(v.id, int) and isinstance(v.name, str) and all(isinstance(t, str) for t in v.tags)


def test_a_package_version_as_github_answers_it() -> None:
    v = PackageVersion.from_api(
        {"id": 7, "name": D1, "url": "u", "package_html_url": "h", "created_at": "t", "updated_at": "t",
         "metadata": {"package_type": "container", "container": {"tags": ["0.6.0-a", "latest"]}}}
    )  # fmt: skip
    assert v == PackageVersion(7, D1, ("0.6.0-a", "latest"))
    assert PackageVersion.from_api({"id": 8, "name": D2, "metadata": {"package_type": "container"}}).tags == ()
