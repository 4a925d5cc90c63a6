"""Pure planners: PR open/update/skip and release publishing decisions, without any repository."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from release import gitflow
from release.errors import GitStateError, TagConflict
from release.version import Version


@dataclass(frozen=True)
class Pull:
    number: int
    state: str = "open"
    merged: bool = False
    title: str = "Pre-release v0.6.0"
    body: str = "body"
    html_url: str = "https://github.com/o/r/pull/1"
    head_ref: str = "pre-release-v0.6.0"
    head_sha: str = "a" * 40
    base_ref: str = "dev"
    merge_commit_sha: str | None = None


def plan_pr(existing: list[Pull], body: str = "body") -> gitflow.GitPlan:
    return gitflow.plan_pull_request(
        head="pre-release-v0.6.0", base="dev", title="Pre-release v0.6.0", body=body, draft=True, existing=existing
    )


def test_pr_opened_once_then_updated_then_left_alone() -> None:
    [step] = plan_pr([]).steps
    assert isinstance(step, gitflow.OpenPull) and step.draft
    [step] = plan_pr([Pull(7)], body="new body").steps
    assert step == gitflow.UpdatePull(7, "https://github.com/o/r/pull/1", "Pre-release v0.6.0", "new body")
    assert plan_pr([Pull(7)]).converged
    assert plan_pr([Pull(3, state="closed", merged=True)]).converged
    # a closed, unmerged PR does not count: open a new one
    assert isinstance(plan_pr([Pull(3, state="closed")]).steps[0], gitflow.OpenPull)
    with pytest.raises(GitStateError, match="2 open PRs"):
        plan_pr([Pull(3), Pull(4)])


REPO = gitflow.RepoFacts("origin", "/tmp/origin.git", (), "main", {"main": "m" * 40}, {})
MERGED = gitflow.MergeFacts("rc-v0.6.0", "r" * 40, "main", "m" * 40, True, "m" * 40)


@dataclass(frozen=True)
class Asset:
    id: int
    name: str
    size: int


@dataclass(frozen=True)
class Release:
    id: int = 5
    tag_name: str = "v0.6.0"
    name: str = "v0.6.0"
    body: str = "notes"
    draft: bool = True
    html_url: str = "https://github.com/o/r/releases/tag/v0.6.0"
    assets: tuple[Asset, ...] = field(default_factory=tuple)


def publish(
    *,
    problem: str | None = None,
    local: str | None = None,
    remote: str | None = None,
    release: Release | None = None,
    merged: gitflow.MergeFacts = MERGED,
) -> gitflow.GitPlan:
    facts = gitflow.PublishFacts(
        version=Version(0, 6, 0),
        tag="v0.6.0",
        target=merged.merge_commit or "",
        merged=merged,
        local_tag=local,
        remote_tag=remote,
        release=release,
        assets=(("release_record_v0.6.0.json", b"{}", "application/json"),),
    )
    return gitflow.plan_publish(REPO, facts, notes="notes", problem=problem, draft=True)


def test_publish_plans_tag_push_release_and_asset() -> None:
    plan = publish()
    assert [type(s).__name__ for s in plan.actions] == ["RunGit", "RunGit", "CreateRelease", "UploadAsset"]
    assert plan.steps[0].describe() == f"git tag -a v0.6.0 -m 'Release v0.6.0' {'m' * 40}"
    done = publish(
        local="m" * 40, remote="m" * 40, release=Release(assets=(Asset(1, "release_record_v0.6.0.json", 2),))
    )
    assert done.converged
    changed = publish(
        local="m" * 40,
        remote="m" * 40,
        release=Release(body="old", assets=(Asset(1, "release_record_v0.6.0.json", 9),)),
    )
    assert [type(s).__name__ for s in changed.actions] == ["UpdateRelease", "UploadAsset"]
    assert changed.actions[1].replaces == 1  # type: ignore[union-attr]


def test_publish_refuses_placeholder_moved_tags_and_unmerged_rc() -> None:
    with pytest.raises(GitStateError, match="placeholder"):
        publish(problem="the vLLM features placeholder is still there")
    with pytest.raises(TagConflict, match="never moves a published tag"):
        publish(remote="x" * 40)
    with pytest.raises(TagConflict, match="git tag -d v0.6.0"):
        publish(local="x" * 40)
    with pytest.raises(GitStateError, match="is not merged into origin/main"):
        publish(merged=gitflow.MergeFacts("rc-v0.6.0", "r" * 40, "main", "m" * 40, False, None))


def test_plan_renders_and_serialises() -> None:
    plan = publish()
    text = plan.render()
    assert text.splitlines()[0] == "publish release v0.6.0" and "  1. git tag -a v0.6.0" in text
    assert plan.to_json()["steps"][0]["argv"][:3] == ["git", "tag", "-a"]
