"""The pull request and release-notes flows: documents rendered from the release files (`ReleaseFiles`), then
sent to GitHub — the PR opened once and kept up to date; the notes written, then (`--publish`) the tag on main and
the GitHub release with the notes and the release record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from release import artifacts_summary, fsio, notes, record, release_inputs
from release.errors import GitStateError
from release.gitflow.facts import MergeFacts, PublishFacts, RepoFacts, remote_sha
from release.gitflow.files import ReleaseFiles, waivers_for
from release.gitflow.flows import Flow, FlowOutcome, Show, converge, merged_pr_head, observe
from release.gitflow.names import prerelease_branch, rc_branch, release_tag
from release.gitflow.observe import observe_merge
from release.gitflow.plan import GitPlan
from release.gitflow.publishing import plan_publish, plan_pull_request
from release.version import Version


def pr_flow(flow: Flow, kind: str, version: Version, files: ReleaseFiles, *, draft: bool, show: Show) -> FlowOutcome:
    gh = flow.need_github("opening a PR")
    head = prerelease_branch(version) if kind == "prerelease" else rc_branch(version)
    base = flow.dev if kind == "prerelease" else flow.main
    summary = "dev_artifacts_summary.md" if kind == "prerelease" else "release_artifacts_summary.md"
    producer = "prerelease" if kind == "prerelease" else "rc"
    title = notes.pr_title(kind, str(version))

    def make() -> GitPlan:
        repo = observe(flow)
        head_sha = remote_sha(repo, head, hint=f"run `inv git.{producer} --version {version}` first (it pushes it)")
        remote_sha(repo, base, hint=f"check [git] {'dev' if kind == 'prerelease' else 'main'}_branch in release.toml")
        dev_sha = remote_sha(repo, flow.dev, hint="check [git] dev_branch in release.toml")
        last_good = files.last_good_records() or {}
        body = notes.render_pr_body(
            notes.PrBodyInput(
                kind=kind,
                version=str(version),
                head=head,
                base=base,
                models_diff=files.read_models_diff(flow.git, head_sha),
                artifacts_summary_md=files.text(flow.git, head_sha, files.release_logs / summary),
                artifacts_summary_name=summary,
                manual_changes=notes.manual_changes(flow.git.commits("--reverse", f"{dev_sha}..{head_sha}")),
                waivers=waivers_for(files, flow.git, head_sha),
                ci_runs=notes.ci_runs_used(last_good),
                ci_health_page=page.name if (page := files.health_page()) else None,
            )
        )
        existing = gh.list_pulls(flow.project, head=f"{flow.project.owner}:{head}", base=base, state="all")
        return plan_pull_request(head=head, base=base, title=title, body=body, draft=draft, existing=existing)

    return converge(flow, make, show=show)


def _rc_merge(flow: Flow, repo: RepoFacts, version: Version) -> MergeFacts | None:
    rc = rc_branch(version)
    rc_sha = repo.remote_heads.get(rc) or flow.git.rev_parse(f"refs/heads/{rc}") or merged_pr_head(flow, rc, flow.main)
    main_sha = repo.remote_heads.get(flow.main)
    if rc_sha is None or main_sha is None or not flow.git.has_commit(rc_sha):
        return None
    return observe_merge(flow.git, rc, rc_sha, flow.main, main_sha)


def notes_path(files: ReleaseFiles, version: Version) -> Path:
    return files.release_logs / f"release_notes_v{version}.md"


def record_path(files: ReleaseFiles, version: Version) -> Path:
    return files.release_logs / f"release_record_v{version}.json"


def read_record(files: ReleaseFiles, version: Version) -> record.ReleaseRecord | None:
    return record.read_if_exists(record_path(files, version))


def render_notes(flow: Flow, version: Version, files: ReleaseFiles, repo: RepoFacts) -> str:
    """The notes for `version`, keeping what a person wrote in the vLLM section of an existing notes file.

    With a release record (`inv release` writes it before the notes), its images, commit and CI runs are the notes';
    without one, the release artifacts summary's images (built ones included) and the last-good file's runs."""
    merged = _rc_merge(flow, repo, version)
    rec = read_record(files, version)
    last_good = files.last_good_records()
    diff = files.read_models_diff(flow.git, None)
    fw, kmd = notes.hardware_versions(last_good or {})
    images: list[notes.ReleasedImage] | None
    if rec is not None:
        images = record.released_images(rec.images)
        ci_runs = list(rec.ci_runs)
    else:
        summary = artifacts_summary.read_if_exists(files.release_logs / "release_artifacts_summary.json")
        images = record.released_images(record.images_from_summary(summary)) if summary is not None else None
        ci_runs = notes.ci_runs_used(last_good or {})
    commit, commit_note = None, ""
    if merged is not None and merged.merge_commit:
        commit = merged.merge_commit
    elif rec is not None and rec.commit:
        commit = rec.commit
        commit_note = f"head of {rc_branch(version)}; the tag goes on its merge commit into {flow.main}"
    inp = notes.NotesInput(
        version=str(version),
        tag=release_tag(version),
        commit=commit,
        commit_note=commit_note,
        ci_runs=ci_runs,
        firmware=fw,
        kmd=kmd,
        changes=diff.rows if diff is not None else None,
        waivers=waivers_for(files, flow.git, None),
        images=images,
    )
    old = release_inputs.read_text(notes_path(files, version))
    return notes.render_release_notes(inp, human=notes.human_section(old) if old else None)


@dataclass(frozen=True)
class NotesOutcome:
    path: Path
    text: str
    written: bool
    publish: FlowOutcome | None


def notes_flow(
    flow: Flow,
    version: Version,
    files: ReleaseFiles,
    *,
    publish: bool,
    draft: bool,
    show: Show,
) -> NotesOutcome:
    gh = flow.need_github("publishing the release") if publish else None  # before anything is fetched or written
    path = notes_path(files, version)
    repo = observe(flow)
    text = render_notes(flow, version, files, repo)
    written = False
    if not flow.dry_run:
        written = fsio.write_if_changed(path, text)
    if gh is None:
        return NotesOutcome(path, text, written, None)
    tag = release_tag(version)

    def make() -> GitPlan:
        repo = observe(flow)
        current = text if flow.dry_run else (release_inputs.read_text(path) or text)
        merged = _rc_merge(flow, repo, version)
        if merged is None:
            raise GitStateError(
                f"{rc_branch(version)} was found neither on {flow.remote}, locally nor as a merged PR, or "
                f"{flow.remote}/{flow.main} is missing: run `inv git.rc` and merge the release PR first"
            )
        remote_tag = repo.remote_tags.get(tag)
        if remote_tag is not None and gh.get_ref(flow.project, f"tags/{tag}") is None:
            raise GitStateError(
                f"{flow.remote} has tag {tag} but GitHub's {flow.project} does not: check that [project] owner/repo "
                f"in release.toml is the repository behind {flow.remote}"
            )
        record_file = record_path(files, version)
        assets = ((record_file.name, record_file.read_bytes(), "application/json"),) if record_file.exists() else ()
        facts = PublishFacts(
            version=version,
            tag=tag,
            target=merged.merge_commit or "",
            merged=merged,
            local_tag=flow.git.tag_target(tag),
            remote_tag=remote_tag,
            release=gh.find_release(flow.project, tag),
            assets=assets,
        )
        return plan_publish(repo, facts, notes=current, problem=notes.unfinished(current), draft=draft)

    return NotesOutcome(path, text, written, converge(flow, make, show=show))
