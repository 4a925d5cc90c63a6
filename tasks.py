"""Release tasks (invoke): help text, and for each task its flags turned into a request, one call of the step's
command (`release.*`, the same function `inv prerelease` / `inv release` call for that step) and a display of
`release/display.py` that prints what the command reports.

`inv --list` shows them; `inv --help NAME` documents every flag. Errors from the kit print one line and exit
non-zero (see release/cli.py). A task imports the modules only it needs when it runs, so every `inv` starts fast.
"""

from __future__ import annotations

from pathlib import Path

from invoke import Collection

from release.cli import (
    OptionalPositionalTask,
    load_config,
    optional_positional,
    progress,
    release_task,
    route_parse_errors,
    say,
    shown,
    task,
    whole_number,
)

# Modules are imported inside the tasks that use them, so that `inv --list` and `inv TASK --help` load neither
# requests, docker, Jinja2 nor the git flow (tests/test_foundation.py checks it).

route_parse_errors()

# ------------------------------------------------------------------------------------------------ spec


@task(
    name="update",
    klass=optional_positional("last_good", unless="output_only"),
    positional=["last_good"],
    iterable=["only"],
    help={
        "last_good": "last-good JSON from `inv ci.read` (release_logs/models_ci_last_good_*.json)",
        "output_only": "only regenerate model_specs_output.json and the README Model Support table",
        "dry_run": "print the plan and write nothing",
        "allow_downgrade": "also write statuses lower than the catalogue's (listed as proposals otherwise)",
        "only": "restrict to model_ids matching this glob (repeatable)",
        "against": "render release_models_diff.md against the catalogue in this git ref (e.g. origin/main)",
        "output_json": "where the expanded catalogue goes (default model_specs_output.json)",
        "readme": "README whose Model Support table is regenerated (default README.md)",
        "diff_out": "where the diff markdown goes (default release_logs/release_models_diff.md; the JSON beside it)",
    },
)
@release_task
def spec_update_task(
    c,
    last_good=None,
    output_only=False,
    dry_run=False,
    allow_downgrade=False,
    only=None,
    against=None,
    output_json=None,
    readme=None,
    diff_out=None,
):
    """Apply last good CI results to the catalogue; regenerate model_specs_output.json and the README table."""
    from release import spec_update
    from release.display import SpecDisplay

    request = spec_update.SpecRequest(
        last_good=Path(last_good) if last_good else None, output_only=output_only, allow_downgrade=allow_downgrade,
        only=tuple(only or ()), against=against, diff_out=Path(diff_out) if diff_out else None, dry_run=dry_run,
    )  # fmt: skip
    cfg = load_config(output_json_path=output_json, readme_path=readme)
    spec_update.update_specs(cfg, request, on_event=SpecDisplay(cfg))


# ------------------------------------------------------------------------------------------------ images


@task(
    name="audit",
    help={
        "record": "check the images of this release record (release_logs/release_record_vX.Y.Z.json) and their digests",
        "dev": "audit the catalogue's -dev- images instead of the -release- ones",
        "concurrency": "registry requests in flight (default 8)",
        "json": "print the machine-readable result instead of the table",
    },
)
@release_task(read_only=True)
def images_audit_task(c, record=None, dev=False, concurrency=8, json=False):
    """Check that every image the catalogue (or a release record) points at exists, with its digest."""
    from release.display import AuditDisplay
    from release.images import audit

    request = audit.AuditRequest(record=Path(record) if record else None, dev=dev, concurrency=int(concurrency))
    audit.audit_images(load_config(), request, on_event=AuditDisplay(json=json, record=bool(record)))


@task(
    name="promote",
    positional=["last_good"],
    help={
        "last_good": "last-good JSON from `inv ci.read`; several files separated by commas (later files win per model)",
        "dev": "promote to the -dev- images (pre-release step 3)",
        "release": "promote to the -release- images (release step 1)",
        "increment": "bump VERSION first: major|minor|patch (written only after every copy succeeded)",
        "keep_existing": "a decision on conflicts: keep every destination tag that holds another digest as it is "
        '(listed under conflicts with "decision": "kept"); the run then finishes',
        "dry_run": "plan with registry reads only and print it with estimated requests and bytes; write nothing",
        "version_file": "VERSION file (default VERSION)",
        "output_dir": "where the summaries, the plan and the state file go (default release_logs)",
        "concurrency": "images copied at once (default 8)",
        "json": "print the summary (or, with --dry-run, the plan) as JSON on stdout",
    },
)
@release_task
def images_promote(
    c,
    last_good,
    dev=False,
    release=False,
    increment=None,
    keep_existing=False,
    dry_run=False,
    version_file=None,
    output_dir=None,
    concurrency=8,
    json=False,
):
    """Copy Models CI images to their dev/release names, registry to registry; bump VERSION last."""
    from release.display import PromoteDisplay
    from release.images import promote

    request = promote.PromoteRequest.from_flags(
        last_good, dev=dev, release=release, increment=increment, keep_existing=keep_existing, dry_run=dry_run,
        concurrency=concurrency,
    )  # fmt: skip
    cfg = load_config(version_file=version_file, release_logs=output_dir)
    with PromoteDisplay(cfg, json=json) as display:
        promote.promote_images(cfg, request, on_event=display)


@task(
    name="copy",
    klass=type(
        "CopyTask", (OptionalPositionalTask,), {"optional_unless": {"src": "from_summary", "dst": "from_summary"}}
    ),
    positional=["src", "dst"],
    help={
        "src": "source image: [https://]REGISTRY/REPO:TAG or @sha256:DIGEST",
        "dst": "destination image (tag or digest); an existing tag with another digest is refused",
        "from_summary": "copy every (src, dst) pair of this file instead: a summary's copied_images {dst: src}, or "
        "a list of {src, dst}; writes release_logs/copy_artifacts_summary.{json,md}",
        "dry_run": "plan with registry reads only, print it with estimated requests and bytes; write nothing",
        "force_same_digest_only": "copy again even when DST already holds the source's digest (re-uploads missing "
        "blobs, re-puts the manifest); a tag is still never moved to another digest",
        "concurrency": "images copied at once (default 8)",
        "output_dir": "where --from-summary writes its summary (default release_logs)",
        "json": "print the result as JSON on stdout",
    },
)
@release_task
def images_copy_task(
    c,
    src=None,
    dst=None,
    from_summary=None,
    dry_run=False,
    force_same_digest_only=False,
    concurrency=8,
    output_dir=None,
    json=False,
):
    """Copy one image (or index) registry to registry, mount first, digest verified; or a list of pairs."""
    from release.display import CopyDisplay
    from release.images import copy

    cfg = load_config(release_logs=output_dir)
    request = copy.CopyImagesRequest(
        src=src, dst=dst, from_summary=Path(from_summary) if from_summary else None, dry_run=dry_run,
        force_same_digest=force_same_digest_only, concurrency=int(concurrency),
    )  # fmt: skip
    with CopyDisplay(cfg, json=json, listed=bool(from_summary)) as display:
        copy.copy_images(cfg, request, on_event=display)


@task(
    name="build",
    iterable=["docker_host"],
    help={
        "push": "push cloud, dev (and release) images that the registry lacks; never moves an existing tag",
        "release": "also build (and with --push, push) the -release- image of each unit",
        "dry_run": "print the decision table for every unit; no builds, no pushes, no files",
        "force_build": "rebuild every image of each chain, whatever exists",
        "only_missing_from": "build only the images this promotion summary lists under images_to_build "
        "(e.g. release_logs/dev_artifacts_summary.json)",
        "build_metal_commit": "only units whose tt_metal_commit is exactly this",
        "ubuntu_version": "20.04 or 22.04 (default 22.04, or [build] ubuntu_version in release.toml)",
        "docker_host": "a Docker engine to build on (repeatable; default RELEASE_DOCKER_HOSTS, else DOCKER_HOST)",
        "jobs": "chains built at the same time on each engine (default 1)",
        "json": "print the build summary (or, with --dry-run, the plan) as JSON on stdout",
        "recipe": "real (tt-metal and vLLM from the internet) or offline (tiny images for tests and rehearsals)",
    },
)
@release_task
def images_build_task(
    c,
    push=False,
    release=False,
    dry_run=False,
    force_build=False,
    only_missing_from=None,
    build_metal_commit=None,
    ubuntu_version=None,
    docker_host=None,
    jobs=1,
    json=False,
    recipe=None,
):
    """Build the missing vLLM images (base → cloud → dev → release) across Docker engines; push with --push."""
    from release import display
    from release.build import run as build  # the build package is loaded only when this task runs

    request = build.BuildRequest(
        force_build=force_build, release=release, push=push, dry_run=dry_run, build_metal_commit=build_metal_commit,
        only_missing_from=Path(only_missing_from) if only_missing_from else None,
        jobs=whole_number(jobs, "--jobs", minimum=1),
    )  # fmt: skip
    cfg = load_config(ubuntu_version=ubuntu_version, build_recipe=recipe, docker_hosts=tuple(docker_host or ()) or None)
    build.build_images(cfg, request, on_event=display.BuildDisplay(cfg, json=json))


# ------------------------------------------------------------------------------------------------ git


@task(
    name="prerelease",
    help={
        "version": "the release being made, X.Y.Z; the branch is pre-release-vX.Y.Z",
        "from": "commit to branch from (default: the tt-inference-server commit the newest Models CI run in the "
        "last-good file tested, as its job log shows)",
        "last_good": "last-good JSON for the default --from (default: newest release_logs/models_ci_last_good_*)",
        "dry_run": "fetch and print the plan; change nothing",
    },
)
@release_task
def git_prerelease(c, version=None, from_=None, last_good=None, dry_run=False):
    """Create pre-release-vX.Y.Z from the commit that passed Models CI, check it out and push it."""
    from release import display
    from release.gitflow import commands as git

    v, good = git.required_version(version), Path(last_good) if last_good else None
    out = git.prerelease(load_config(), v, source=from_, last_good=good, dry_run=dry_run, show=say, on_event=progress)
    display.git_done(out, dry_run)


@task(
    name="rc",
    help={
        "version": "the release being made, X.Y.Z; the branch is rc-vX.Y.Z",
        "dry_run": "fetch and print the plan; change nothing",
    },
)
@release_task
def git_rc(c, version=None, dry_run=False):
    """Create rc-vX.Y.Z from pre-release-vX.Y.Z once its PR was merged into dev with a merge commit."""
    from release import display
    from release.gitflow import commands as git

    out = git.rc(load_config(), git.required_version(version), dry_run=dry_run, show=say, on_event=progress)
    display.git_done(out, dry_run)


@task(
    name="hotfix",
    help={
        "name": "short description of the fix; the branch is <user>/hot-fix-<name>",
        "user": "branch prefix (default: the local part of git config user.email)",
        "apply": "PR number (#12) or commit merged into dev: put it onto the RC branch (fast-forward or -x)",
        "version": "which rc-vX.Y.Z (default: the newest rc branch on the remote)",
        "dry_run": "fetch and print the plan; change nothing",
    },
)
@release_task
def git_hotfix(c, name=None, user=None, apply=None, version=None, dry_run=False):
    """Start a hot-fix branch from the RC branch, or (--apply) put a fix merged into dev onto the RC branch."""
    from release import display
    from release.gitflow import commands as git

    v = git.required_version(version) if version else None
    out = git.hotfix(load_config(), name=name, user=user, apply=apply, version=v, dry_run=dry_run, show=say,
                     on_event=progress)  # fmt: skip
    display.git_done(out, dry_run)


@task(
    name="pr",
    help={
        "prerelease": "the pre-release PR: pre-release-vX.Y.Z → dev",
        "rc": "the release PR: rc-vX.Y.Z → main",
        "version": "the release being made, X.Y.Z",
        "draft": "open the PR as a draft (an existing PR keeps its state)",
        "last_good": "last-good JSON for the CI runs listed (default: newest in release_logs/)",
        "dry_run": "print the plan and the PR body; change nothing",
    },
)
@release_task
def git_pr(c, prerelease=False, rc=False, version=None, draft=False, last_good=None, dry_run=False):
    """Open (or update) the pre-release or release PR with the diff, artifacts, manual changes and waivers."""
    from release import display
    from release.gitflow import commands as git

    kind, v = git.pr_kind(prerelease=prerelease, rc=rc), git.required_version(version)
    good = Path(last_good) if last_good else None
    out = git.pr(load_config(), kind, v, draft=draft, last_good=good, dry_run=dry_run, show=say, on_event=progress)
    display.pr_done(out, dry_run)


@task(
    name="notes",
    help={
        "version": "the release being made, X.Y.Z",
        "publish": "tag vX.Y.Z on main and create the GitHub release (refused while the placeholder is there)",
        "draft": "create the GitHub release as a draft (default; --no-draft publishes it)",
        "last_good": "last-good JSON for the CI runs listed (default: newest in release_logs/)",
        "dry_run": "print the notes (and the publish plan); write nothing",
    },
)
@release_task
def git_notes(c, version=None, publish=False, draft=True, last_good=None, dry_run=False):
    """Write release_logs/release_notes_vX.Y.Z.md; --publish tags vX.Y.Z and creates the GitHub release."""
    from release import display
    from release.gitflow import commands as git

    cfg, v = load_config(), git.required_version(version)
    out = git.notes(cfg, v, publish=publish, draft=draft, last_good=Path(last_good) if last_good else None,
                    dry_run=dry_run, show=say, on_event=progress)  # fmt: skip
    display.notes_done(cfg, out, v, publish=publish, dry_run=dry_run)


# ------------------------------------------------------------------------------------------------ ci


@task(
    name="read",
    help={
        "max_runs": "read the newest N completed runs of the workflow (after --branch/--event; default 30)",
        "run_id": "read exactly this run (must belong to the workflow) instead of the newest runs",
        "out_root": "folder for the cache and the two output JSONs (default release_logs/)",
        "no_download": "use only what is cached under --out-root; no GitHub requests, no token needed",
        "full_history": "download every run's artifacts, not only until each model's last good run is known",
        "owner": "owner of the CI repository (default tenstorrent, or [ci] owner in release.toml)",
        "repo": "CI repository (default tt-shield, or [ci] repo in release.toml)",
        "workflow_file": "workflow file name (default on-nightly.yml)",
        "branch": "only runs on this branch (server-side filter), e.g. dev",
        "event": "only runs triggered by this event (server-side filter), e.g. schedule",
        "concurrency": "parallel downloads over one pooled connection set (default 8)",
        "json": "print the machine-readable summary instead of the tables",
        "dry_run": "list the runs it would read and which are cached; download and write nothing",
    },
)
@release_task
def ci_read_task(
    c,
    max_runs=30,
    run_id=None,
    out_root=None,
    no_download=False,
    full_history=False,
    owner=None,
    repo=None,
    workflow_file=None,
    branch=None,
    event=None,
    concurrency=8,
    json=False,
    dry_run=False,
):
    """Read the nightly Models CI (GitHub API) into models_ci_{all_results,last_good}_*.json and the CI health page."""
    from release import ci_read
    from release.display import CiReadDisplay

    request = ci_read.ReadRequest(
        max_runs=int(max_runs), run_id=whole_number(run_id, "--run-id", minimum=1) if run_id is not None else None,
        branch=branch, event=event, full_history=full_history, download=not no_download, concurrency=int(concurrency),
        out_root=Path(out_root).resolve() if out_root else None, dry_run=dry_run,
    )  # fmt: skip
    cfg = load_config(ci_owner=owner, ci_repo=repo, ci_workflow_file=workflow_file)
    with CiReadDisplay(cfg, json=json) as display:
        ci_read.read(cfg, request, on_event=display)


@task(
    name="health",
    positional=["all_results"],
    help={
        "all_results": "all-results JSON of `inv ci.read` (release_logs/models_ci_all_results_*.json)",
        "out": "where the page goes (default: models_ci_health_{min}_to_{max}.html next to ALL_RESULTS)",
        "last_good": "last-good JSON for the ★ marks (default: the models_ci_last_good_* of the same runs next to "
        "ALL_RESULTS, else computed with ci.read's rule)",
        "dry_run": "render the page and say where it would go; write nothing",
    },
)
@release_task
def ci_health_task(c, all_results, out=None, last_good=None, dry_run=False):
    """Render the Models CI health page (model × run grid, one HTML file) from an all-results JSON, offline."""
    from release import catalogue, ci_health, ci_health_page

    cfg = load_config()
    source = Path(all_results)
    good = Path(last_good) if last_good else ci_health_page.sibling_last_good(source)
    rows = ci_health.rows_from_specs(catalogue.load(cfg).specs.values())
    page = ci_health_page.write_page(source, rows=rows, last_good=good, out=Path(out) if out else None, dry_run=dry_run)
    say(ci_health_page.summary_line(page))
    say(f"{'would write' if dry_run else 'wrote'} {shown(cfg, page.path)}")


# ------------------------------------------------------------------------------------------------ composites


UNDO_HELP = {
    "undo": "plan the undo of the run of --version from its state file (its PRs closed, its branch and the image "
    "tags it created deleted, the checkout restored); nothing changes without --apply; exit 3 if anything is left",
    "apply": "with --undo: do it",
}


def _undo(command: str, *, undo: bool, apply: bool, version: str | None, dry_run: bool) -> None:
    """`--undo [--apply] --version X.Y.Z` of `inv prerelease` and `inv release` (release/undo/)."""
    from release.display import UndoDisplay
    from release.undo import run as command_

    request = command_.UndoRequest.from_flags(command, undo=undo, apply=apply, version=version, dry_run=dry_run)
    command_.run_undo(load_config(), request, on_event=UndoDisplay())


@task(
    name="prerelease",
    help={
        "increment": "VERSION increment: major|minor|patch (patch: only server code changed)",
        "max_runs": "Models CI runs to read (default 90)",
        "from": "commit to cut the pre-release branch from (default: the tt-inference-server commit the newest CI run "
        "with a last good tested)",
        "branch": "only CI runs on this branch (e.g. dev)",
        "event": "only CI runs of this event (e.g. schedule)",
        "keep_existing": "images.promote's decision on conflicts: keep the destination tags that hold another "
        "digest as they are; a run stopped by conflicts resumes with it",
        "dry_run": "plan every step and write nothing anywhere (git, registry, GitHub, files)",
        **UNDO_HELP,
        "version": "with --undo: the version whose pre-release run to undo, X.Y.Z",
    },
)
@release_task
def prerelease(
    c, increment=None, max_runs=90, from_=None, branch=None, event=None, keep_existing=False, dry_run=False,
    undo=False, apply=False, version=None,
):  # fmt: skip
    """The pre-release in one command: CI → branch → catalogue → dev images → builds → commit → PR to dev."""
    from release.display import CompositeDisplay
    from release.pipeline import prerelease as command

    if undo or apply or version:
        return _undo("prerelease", undo=undo, apply=apply, version=version, dry_run=dry_run)
    request = command.PrereleaseRequest.from_flags(
        increment=increment, max_runs=max_runs, source=from_, branch=branch, event=event, keep_existing=keep_existing,
        dry_run=dry_run,
    )  # fmt: skip
    cfg = load_config()
    with CompositeDisplay(cfg) as display:
        command.run_prerelease(cfg, request, on_event=display)


@task(
    name="release",
    help={
        "version": "the release, X.Y.Z (default: VERSION, as the merged pre-release left it)",
        "last_good": "last-good JSON the pre-release used (default: from its state file, else the newest)",
        "keep_existing": "images.promote's decision on conflicts: keep the destination tags that hold another "
        "digest as they are (recorded in the release record); a run stopped by conflicts resumes with it",
        "dry_run": "plan every step and write nothing anywhere (git, registry, GitHub, files)",
        **UNDO_HELP,
    },
)
@release_task
def release(c, version=None, last_good=None, keep_existing=False, dry_run=False, undo=False, apply=False):
    """The release in one command: rc branch → release images → builds → diff vs main → PR to main → record → notes."""
    from release.display import CompositeDisplay
    from release.pipeline import release as command

    if undo or apply:
        return _undo("release", undo=undo, apply=apply, version=version, dry_run=dry_run)
    request = command.ReleaseRequest.from_flags(
        version=version, last_good=last_good, keep_existing=keep_existing, dry_run=dry_run
    )
    cfg = load_config()
    with CompositeDisplay(cfg) as display:
        command.run_release(cfg, request, on_event=display)


ci = Collection("ci", ci_read_task, ci_health_task)
spec = Collection("spec", spec_update_task)
images = Collection("images", images_audit_task, images_promote, images_copy_task, images_build_task)
git = Collection("git", git_prerelease, git_rc, git_hotfix, git_pr, git_notes)

ns = Collection(ci, spec, images, git, prerelease, release)
