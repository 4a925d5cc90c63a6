"""The executor of a `GitPlan`: runs its steps in order with the git client and the project's GitHub client,
announcing each before it runs. It decides nothing: every decision is in the plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from release.errors import GitError, GitStateError
from release.gitflow.plan import CreateRelease, GitPlan, OpenPull, RunGit, Skip, UpdatePull, UpdateRelease, UploadAsset
from release.github_types import Release, RepoRef

if TYPE_CHECKING:
    from release.git import Git
    from release.github import GitHubClient


@dataclass(frozen=True)
class ApplyResult:
    done: tuple[str, ...]
    urls: tuple[str, ...]


GitHubStep = OpenPull | UpdatePull | CreateRelease | UpdateRelease | UploadAsset


def apply_git_plan(
    plan: GitPlan,
    *,
    git: Git,
    github: GitHubClient | None = None,
    project: RepoRef | None = None,
    on_event: Callable[[str], None] = lambda _: None,
) -> ApplyResult:
    """Run the plan's steps in order; each is announced through `on_event` before it runs."""
    done: list[str] = []
    urls: list[str] = []
    releases: dict[str, Release] = {}  # made or changed by this run, by tag
    for step in plan.steps:
        if isinstance(step, Skip):
            continue
        on_event(("$ " if isinstance(step, RunGit) else "→ ") + step.describe())
        if isinstance(step, RunGit):
            _run_git(git, step)
        else:
            if github is None or project is None:
                raise GitStateError("this step needs GitHub: set GITHUB_TOKEN (or GH_PAT)")
            url = _write_github(github, project, step, releases)
            if url is not None:
                urls.append(url)
        done.append(step.describe())
    return ApplyResult(tuple(done), tuple(urls))


def _run_git(git: Git, step: RunGit) -> None:
    try:
        git.run(*step.args)
    except GitError as e:
        if step.advice:
            raise GitError(f"{e}\n  {step.advice}", stderr=e.stderr, returncode=e.returncode) from None
        raise


def _write_github(github: GitHubClient, project: RepoRef, step: GitHubStep, releases: dict[str, Release]) -> str | None:
    """One GitHub write; returns the URL of the PR or release it made or changed (None for an asset)."""
    if isinstance(step, OpenPull):
        pull = github.create_pull(
            project, head=step.head, base=step.base, title=step.title, body=step.body, draft=step.draft
        )
        return pull.html_url
    if isinstance(step, UpdatePull):
        return github.update_pull(project, step.number, title=step.title, body=step.body).html_url
    if isinstance(step, CreateRelease):
        rel = github.create_release(
            project, tag=step.tag, target=step.target, name=step.name, body=step.body, draft=step.draft
        )
    elif isinstance(step, UpdateRelease):
        draft = False if step.publish else None
        rel = github.update_release(project, step.release_id, name=step.name, body=step.body, draft=draft)
    else:
        found = releases.get(step.tag) or github.find_release(project, step.tag)
        if found is None:
            raise GitStateError(f"release {step.tag} vanished while uploading {step.name}; run again")
        if step.replaces is not None:
            github.delete_release_asset(project, step.replaces)
        github.upload_release_asset(found, name=step.name, data=step.data, content_type=step.content_type)
        return None
    releases[step.tag] = rel
    return rel.html_url
