"""The release's git choreography (`inv git.*`, and the git steps of `inv prerelease` / `inv release`).

Runbook (release-README.md "Git Workflow") and original-behaviour.md §9:
  pre-release-vX.Y.Z from a commit that passed Models CI → PR into `dev`, merged with a merge commit →
  rc-vX.Y.Z from pre-release → PR into `main` (merge commit) → hot-fixes: `<user>/hot-fix-<desc>` from the RC
  branch, merged into `dev` with a merge commit, then put onto the RC branch → tag `vX.Y.Z` + GitHub release.

Observe → plan (pure) → apply, one module a part, each importing only the parts above it:
  names.py        pure: branch and tag names
  plan.py         pure: the plan's steps (`RunGit`, `Skip`, GitHub writes) and `GitPlan`
  facts.py        pure: what is known of the repository, and the checks every planner makes
  branching.py    pure: plans for the branches (pre-release, RC, hot-fix, cherry-pick) and the commit and push
  publishing.py   pure: plans for the PR and the published release
  observe.py      reads git into facts (`release.git.Git`)
  apply.py        runs a plan with git and GitHub (`release.github.GitHubClient`)
  files.py        the release files the PR body and the notes are made of
  flows.py        observe → plan → show → apply → plan again: `inv git.prerelease`, `git.rc`, `git.hotfix`, and the
                  composites' commit and push
  notes_flow.py   `inv git.pr` and `inv git.notes`

This package imports no I/O module: the clients come in as arguments (typed as the real clients).
"""

from release.gitflow.apply import ApplyResult, apply_git_plan
from release.gitflow.branching import plan_cherry_pick, plan_commit, plan_hotfix, plan_prerelease, plan_push, plan_rc
from release.gitflow.facts import (
    BranchFacts,
    CherryPickFacts,
    CommitFacts,
    MergeFacts,
    PickCommit,
    PublishFacts,
    RepoFacts,
)
from release.gitflow.files import ReleaseFiles
from release.gitflow.flows import (
    CommitOutcome,
    Flow,
    FlowOutcome,
    apply_hotfix_flow,
    commit_flow,
    hotfix_flow,
    prerelease_flow,
    push_flow,
    rc_flow,
)
from release.gitflow.names import hotfix_branch, newest_rc, prerelease_branch, rc_branch, release_tag, slug
from release.gitflow.notes_flow import NotesOutcome, notes_flow, pr_flow, render_notes
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
from release.gitflow.publishing import plan_publish, plan_pull_request

__all__ = [
    "ApplyResult",
    "BranchFacts",
    "CherryPickFacts",
    "CommitFacts",
    "CommitOutcome",
    "CreateRelease",
    "Flow",
    "FlowOutcome",
    "GitPlan",
    "MergeFacts",
    "NotesOutcome",
    "OpenPull",
    "PickCommit",
    "PublishFacts",
    "ReleaseFiles",
    "RepoFacts",
    "RunGit",
    "Skip",
    "Step",
    "UpdatePull",
    "UpdateRelease",
    "UploadAsset",
    "apply_git_plan",
    "apply_hotfix_flow",
    "commit_flow",
    "hotfix_branch",
    "hotfix_flow",
    "newest_rc",
    "notes_flow",
    "plan_cherry_pick",
    "plan_commit",
    "plan_hotfix",
    "plan_prerelease",
    "plan_publish",
    "plan_pull_request",
    "plan_push",
    "plan_rc",
    "pr_flow",
    "prerelease_branch",
    "prerelease_flow",
    "push_flow",
    "rc_branch",
    "rc_flow",
    "release_tag",
    "render_notes",
    "slug",
]
