"""Pure planners of what goes to GitHub: the pre-release and release PRs (opened once, then kept up to date), and
the published release (tag on main, GitHub release with the notes and the release record)."""

from __future__ import annotations

from collections.abc import Sequence

from release.errors import GitStateError, TagConflict
from release.gitflow.facts import PublishFacts, RepoFacts, require_merged, require_remote
from release.gitflow.plan import (
    CreateRelease,
    GitPlan,
    OpenPull,
    RunGit,
    Skip,
    Step,
    UpdatePull,
    UpdateRelease,
    UploadAsset,
)
from release.github_types import PullRequest, ReleaseAsset


def plan_pull_request(
    *, head: str, base: str, title: str, body: str, draft: bool, existing: Sequence[PullRequest]
) -> GitPlan:
    """Open the PR, or bring the open one up to date; never a second PR for the same branch."""
    facts = (("head", head), ("base", base), ("title", title))
    open_prs = [p for p in existing if p.state == "open"]
    merged = [p for p in existing if p.merged]
    if merged:
        p = merged[0]
        return GitPlan(f"PR {head} → {base}", facts, (Skip(f"PR #{p.number} is already merged ({p.html_url})"),))
    if len(open_prs) > 1:
        raise GitStateError(
            f"{len(open_prs)} open PRs from {head} into {base} (#{', #'.join(str(p.number) for p in open_prs)}): "
            "close all but one, then run the command again"
        )
    if open_prs:
        p = open_prs[0]
        if p.title == title and (p.body or "") == body:
            step: Step = Skip(f"PR #{p.number} is up to date ({p.html_url})")
        else:
            step = UpdatePull(p.number, p.html_url, title, body)
        return GitPlan(f"PR {head} → {base}", facts, (step,))
    return GitPlan(f"PR {head} → {base}", facts, (OpenPull(head, base, title, body, draft),))


def plan_publish(repo: RepoFacts, f: PublishFacts, *, notes: str, problem: str | None, draft: bool) -> GitPlan:
    """Tag vX.Y.Z on main (annotated) and create the GitHub release with the notes; idempotent."""
    require_remote(repo)
    if problem:
        raise GitStateError(f"the release notes are not ready to publish: {problem}. Edit them and run again.")
    require_merged(f.merged, repo.remote, next_step="publish again")
    r, tag = repo.remote, f.tag
    steps: list[Step] = []
    if f.local_tag is None:
        if f.remote_tag is None:
            steps.append(
                RunGit(
                    ("tag", "-a", tag, "-m", f"Release {tag}", f.target),
                    f"tag the release on {f.merged.into}",
                )
            )
        else:
            steps.append(Skip(f"tag {tag} exists on {r} only"))
    elif f.local_tag != f.target:
        raise TagConflict(
            f"local tag {tag} points at {f.local_tag[:12]}, not at {f.target[:12]}; the kit never moves a tag. "
            f"If it is a mistake: git tag -d {tag}"
        )
    else:
        steps.append(Skip(f"tag {tag} exists at {f.target[:12]}"))
    if f.remote_tag is None:
        steps.append(RunGit(("push", r, f"refs/tags/{tag}"), f"publish the tag on {r}"))
    elif f.remote_tag != f.target:
        raise TagConflict(
            f"{r} has tag {tag} at {f.remote_tag[:12]}, not at {f.target[:12]}; the kit never moves a published "
            "tag. Bump the version (a patch release) instead."
        )
    else:
        steps.append(Skip(f"{r} has tag {tag} at {f.target[:12]}"))
    name = f"v{f.version}"
    rel = f.release
    if rel is None:
        steps.append(CreateRelease(tag, f.target, name, notes, draft))
        existing_assets: dict[str, ReleaseAsset] = {}
    else:
        existing_assets = {a.name: a for a in rel.assets}
        publish = bool(rel.draft) and not draft  # --no-draft on a draft publishes it; a release never goes back
        if rel.name == name and (rel.body or "") == notes and not publish:
            steps.append(Skip(f"release {tag} is up to date ({rel.html_url})"))
        else:
            steps.append(UpdateRelease(tag, rel.id, name, notes, publish=publish))
    for asset_name, data, ctype in f.assets:
        have = existing_assets.get(asset_name)
        if have is not None and have.size == len(data):
            steps.append(Skip(f"asset {asset_name} is attached"))
        else:
            steps.append(UploadAsset(tag, asset_name, data, ctype, replaces=have.id if have is not None else None))
    return GitPlan(
        f"publish release {tag}",
        (
            ("tag", f"{tag} → {f.target[:12]} (merge of {f.merged.branch} into {f.merged.into})"),
            ("release", "draft" if draft else "published"),
        ),
        tuple(steps),
    )
