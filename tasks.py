"""Release tasks (invoke). Each task parses its flags and calls one function in `release.*`.

`inv --list` shows them; `inv --help NAME` documents every flag. Errors from the kit print one line and exit
non-zero (see release/cli.py). A task imports the modules only it needs when it runs, so every `inv` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Collection

from release.cli import (
    BuildDisplay,
    CopyProgress,
    OptionalPositionalTask,
    ProgressLine,
    RunLog,
    load_config,
    optional_positional,
    print_json,
    progress,
    release_task,
    route_parse_errors,
    say,
    shown,
    task,
    terminal_width,
    whole_number,
    write_step_summary,
)
from release.errors import ConfigError, InputError, PartialFailure

if TYPE_CHECKING:
    from release import gitflow, promotion
    from release.config import Config
    from release.version import Version

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
    from release import catalogue, spec_report, spec_update, wiring

    cfg = load_config(output_json_path=output_json, readme_path=readme)
    if output_only:
        cat = catalogue.load(cfg)
        changes = spec_update.plan_outputs_for(cfg, cat)
        if not changes:
            say(
                f"outputs are up to date with {cfg.catalogue_path.name} (VERSION {cat.version}, {len(cat.specs)} specs)"
            )
    else:
        if not last_good:
            raise ConfigError("give LAST_GOOD_JSON (from `inv ci.read`), or --output-only")
        files = spec_update.update_from_last_good(
            cfg,
            Path(last_good),
            allow_downgrade=allow_downgrade,
            only=tuple(only or ()),
            against=against,
            show_file=wiring.git_client(cfg).show_file if against else None,
            diff_out=Path(diff_out) if diff_out else cfg.release_logs / "release_models_diff.md",
        )
        say(spec_report.plan_table(files.plan))
        warnings = spec_report.disagreement_table(files.plan)
        if warnings:
            say("\nwarning: CI records of one template disagree on commits (the newest run was chosen):")
            say(warnings)
        for rejected in files.plan.rejected:
            say(f"warning: {rejected.template_label}: {rejected.model_id} not applied: {rejected.reason}")
        changes = files.changes
        if not files.plan.changed:
            say("\nno change to the catalogue" + (": regenerating stale outputs" if changes else ""))
    for change in changes:
        say(f"{'would ' if dry_run else ''}{change.label} {shown(cfg, change.path)}")
    if not dry_run:
        spec_update.apply_file_changes(changes)


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
    from release import audit, catalogue, fsio, wiring

    cfg = load_config()
    if record:
        items = audit.plan_audit_from_record(
            fsio.read_json(Path(record)), source=record, registry_map=cfg.registry_rewrite
        )
    else:
        items = audit.plan_audit_from_catalogue(catalogue.load(cfg), dev=dev, registry_map=cfg.registry_rewrite)
    progress(f"auditing {len(items)} image(s)...")
    registry = wiring.registry_client(cfg, concurrency=int(concurrency))
    findings = audit.run_audit(items, registry, concurrency=int(concurrency))
    if json:
        print_json(audit.audit_json(findings))
    else:
        say(audit.audit_table(findings))
    problems = audit.failures(findings)
    if problems:
        raise PartialFailure.from_items("image check(s)", problems)
    if not json:
        say(f"\nall {len(findings)} image(s) exist" + (" with their recorded digests" if record else ""))


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
    from release import promotion, promotion_report, promotion_run, wiring

    if dev == release:
        raise ConfigError("give exactly one of --dev or --release")
    if int(concurrency) < 1:
        raise ConfigError("--concurrency must be at least 1")
    files = [Path(p.strip()) for p in str(last_good).split(",") if p.strip()]
    if not files:
        raise ConfigError("give at least one LAST_GOOD_JSON")
    cfg = load_config(version_file=version_file, release_logs=output_dir)
    registry = wiring.registry_client(cfg, concurrency=int(concurrency))
    mode: promotion.Mode = "dev" if dev else "release"
    progress(f"reading {len(files)} last-good file(s) ...")
    prep = promotion_run.prepare(cfg, files=files, mode=mode, increment=increment)
    progress(prep.decision.note)
    if prep.unknown_models:
        progress(f"note: {len(prep.unknown_models)} model(s) in the last-good files are not in the catalogue")
    if dry_run:
        plan = promotion_run.plan_only(prep, registry, keep_existing=keep_existing, concurrency=int(concurrency))
        estimates = promotion_run.estimate(plan, registry, concurrency=int(concurrency))
        if json:
            print_json({**plan.to_json(), "estimates": {k: vars(v) for k, v in estimates.items()}})
        else:
            say(promotion_report.plan_table(plan, estimates))
            say("\ndry run: nothing was written (registry, VERSION, summaries)")
        return
    progress("checking the registries and copying what each destination needs ...")
    bar = CopyProgress(None)
    try:
        result = promotion_run.execute(
            prep, registry, keep_existing=keep_existing, concurrency=int(concurrency), on_event=bar,
            render=_render_summary,
        )  # fmt: skip
    finally:
        bar.close()
    if json:
        print_json(promotion_report.summary_json(result))
    else:
        say(promotion_report.plan_table(result.plan))
        if result.outcomes:
            say("\n" + promotion_report.result_table(result))
        say(f"\nwrote {shown(cfg, prep.output_dir / f'{mode}_artifacts_summary.md')} and .json")
        if result.version_written and prep.decision.target != prep.decision.current:
            say(
                f"VERSION {prep.decision.current} → {prep.decision.target}; regenerate the outputs with "
                "`inv spec.update --output-only`"
            )
    promotion.check_result(result)


def _render_summary(result: promotion.PromotionResult) -> tuple[str, str]:
    from release import promotion_report
    from release.fsio import dump_json

    return dump_json(promotion_report.summary_json(result)), promotion_report.summary_markdown(result)


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
    from release import fsio, images_copy, promotion, promotion_report, promotion_run, wiring
    from release.fsio import dump_json
    from release.imageref import ImageRef

    cfg = load_config(release_logs=output_dir)
    if int(concurrency) < 1:
        raise ConfigError("--concurrency must be at least 1")
    if from_summary:
        if src or dst:
            raise ConfigError("give SRC DST or --from-summary FILE, not both")
        pairs = images_copy.pairs_from_document(
            fsio.read_json(Path(from_summary)), source=from_summary, registry_map=cfg.registry_rewrite
        )
        promotion.refuse_outside_sources(
            [(f"{from_summary}: {p.label}", p.src) for p in pairs], cfg.source_allow_list()
        )
    else:
        if not src or not dst:
            raise ConfigError("give SRC and DST (e.g. inv images.copy ghcr.io/a/b:1 ghcr.io/c/d:1), or --from-summary")
        pairs = [
            images_copy.CopyRequest(
                ImageRef.parse(src).rewrite(cfg.registry_rewrite), ImageRef.parse(dst).rewrite(cfg.registry_rewrite)
            )
        ]
    registry = wiring.registry_client(cfg, concurrency=int(concurrency))
    plan = images_copy.plan_copy_requests(
        pairs, registry, concurrency=int(concurrency), force_same_digest=force_same_digest_only, writing=not dry_run
    )
    if dry_run:
        estimates = promotion_run.estimate(plan, registry, concurrency=int(concurrency))
        if json:
            print_json({**plan.to_json(), "estimates": {k: vars(v) for k, v in estimates.items()}})
        else:
            say(promotion_report.plan_table(plan, estimates))
            say("\ndry run: nothing was written")
        return
    bar = CopyProgress(len(plan.copies)) if from_summary else None
    try:
        result = images_copy.apply_copies(plan, pairs, registry, concurrency=int(concurrency), on_event=bar)
    finally:
        if bar is not None:
            bar.close()
    if from_summary:
        fsio.write_if_changed(
            cfg.release_logs / "copy_artifacts_summary.json", dump_json(promotion_report.summary_json(result))
        )
        fsio.write_if_changed(
            cfg.release_logs / "copy_artifacts_summary.md", promotion_report.copy_summary_markdown(result)
        )
    if json:
        print_json(promotion_report.copy_json(result))
    elif from_summary:
        say(promotion_report.plan_table(plan))
        if result.outcomes:
            say("\n" + promotion_report.result_table(result))
        say(f"\nwrote {shown(cfg, cfg.release_logs / 'copy_artifacts_summary.md')} and .json")
    else:
        for line in promotion_report.copy_lines(result):
            say(line)
    missing = plan.of(promotion.NeedsBuild)
    if missing:
        raise InputError("; ".join(reason for b in missing for _, reason in b.reasons) + ": check SRC")
    promotion.check_result(result, decision_flag=None)


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
    from release.build import run as build  # the build package is loaded only when this task runs

    request = build.BuildRequest(
        force_build=force_build, release=release, push=push, dry_run=dry_run, build_metal_commit=build_metal_commit,
        only_missing_from=Path(only_missing_from) if only_missing_from else None,
        jobs=whole_number(jobs, "--jobs", minimum=1),
    )  # fmt: skip
    cfg = load_config(ubuntu_version=ubuntu_version, build_recipe=recipe, docker_hosts=tuple(docker_host or ()) or None)
    build.build_images(cfg, request, on_event=BuildDisplay(cfg, json=json))


# ------------------------------------------------------------------------------------------------ git


def _version(version: str | None) -> Version:
    from release.version import Version

    if not version:
        raise ConfigError("--version X.Y.Z is required (the release being made, e.g. 0.6.0)")
    return Version.parse(version, source="--version")


def _git_context(dry_run: bool, last_good: str | None) -> tuple[Config, gitflow.Flow, gitflow.ReleaseFiles]:
    """Settings, the git flow's clients and where the earlier steps' outputs are."""
    from release import gitflow, wiring

    cfg = load_config()
    flow = wiring.git_flow(cfg, dry_run=dry_run, on_event=progress)
    return cfg, flow, gitflow.ReleaseFiles.from_config(cfg, last_good=Path(last_good) if last_good else None)


def _git_done(outcome: gitflow.FlowOutcome, dry_run: bool) -> None:
    if dry_run:
        say("\ndry run: nothing was changed")
    elif outcome.result is None:
        say("\nnothing to do")
    else:
        say(f"\ndone: {len(outcome.result.done)} step(s)")
        for url in outcome.result.urls:
            say(url)


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
    from release import gitflow

    _, flow, files = _git_context(dry_run, last_good)
    out = gitflow.prerelease_flow(flow, _version(version), files, source=from_, show=say)
    _git_done(out, dry_run)


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
    from release import gitflow, wiring

    cfg = load_config()
    out = gitflow.rc_flow(wiring.git_flow(cfg, dry_run=dry_run, on_event=progress), _version(version), show=say)
    _git_done(out, dry_run)


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
    from release import gitflow, wiring

    cfg = load_config()
    flow = wiring.git_flow(cfg, dry_run=dry_run, on_event=progress)
    v = _version(version) if version else None
    if bool(name) == bool(apply):
        raise ConfigError("give either --name DESC (start a hot-fix) or --apply PR_OR_SHA (put it on the RC)")
    if apply:
        out = gitflow.apply_hotfix_flow(flow, str(apply), v, show=say)
    else:
        out = gitflow.hotfix_flow(flow, str(name), user, v, show=say)
    _git_done(out, dry_run)


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
    from release import gitflow

    if prerelease == rc:
        raise ConfigError("give exactly one of --prerelease (pre-release → dev) or --rc (rc → main)")
    _, flow, files = _git_context(dry_run, last_good)
    kind = "prerelease" if prerelease else "rc"
    out = gitflow.pr_flow(flow, kind, _version(version), files, draft=draft, show=say)
    if dry_run:
        for step in out.plan.actions:
            if isinstance(step, gitflow.OpenPull | gitflow.UpdatePull):
                say("\n" + step.body)
    _git_done(out, dry_run)


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
    from release import gitflow, notes

    cfg, flow, files = _git_context(dry_run, last_good)
    v = _version(version)
    out = gitflow.notes_flow(flow, v, files, publish=publish, draft=draft, show=say)
    if dry_run:
        say(out.text)
    else:
        say(f"{'wrote' if out.written else 'up to date:'} {shown(cfg, out.path)}")
        problem = notes.unfinished(out.text)
        if problem and not publish:
            say(f"before `inv git.notes --version {v} --publish`: {problem}")
            say(f"  (edit {shown(cfg, out.path)})")
    if out.publish is not None:
        _git_done(out.publish, dry_run)


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
    from release import catalogue, ci_health, ci_health_page, ci_read, ci_report, wiring
    from release.github_types import RateLimitWait, RepoRef

    cfg = load_config(ci_owner=owner, ci_repo=repo, ci_workflow_file=workflow_file)
    root = Path(out_root).resolve() if out_root else cfg.release_logs
    specs = list(catalogue.load(cfg).specs.values())
    models = ci_read.models_from_specs(specs)
    opts = ci_read.ReadOptions(
        repo=RepoRef(cfg.ci_owner, cfg.ci_repo),
        workflow_file=cfg.ci_workflow_file,
        max_runs=int(max_runs),
        run_id=whole_number(run_id, "--run-id", minimum=1) if run_id is not None else None,
        branch=branch,
        event=event,
        full_history=full_history,
        download=not no_download,
        concurrency=int(concurrency),
    )
    if dry_run:
        github = None
        if opts.download:
            cfg.require_ci_token(f"Actions: read and Metadata: read on {opts.repo} (classic token: repo scope)")
            github = wiring.ci_github_client(cfg, cache_root=root, read_only_cache=True)
        read_plan = ci_read.plan_read(opts, github=github, out_root=root)
        if json:
            print_json({"runs": [r.to_json() for r in read_plan.runs], "cached": sorted(read_plan.cached)})
        else:
            say(ci_report.read_plan_table(read_plan))
            say("\ndry run: nothing was downloaded or written")
        return
    line = ProgressLine()

    def on_event(ev: object) -> None:
        stage = getattr(ev, "stage", None)
        line.update(ci_report.progress_text(ev), important=isinstance(ev, RateLimitWait), stage=stage)

    github = None
    if opts.download:
        cfg.require_ci_token(f"Actions: read and Metadata: read on {opts.repo} (classic token: repo scope)")
        github = wiring.ci_github_client(cfg, cache_root=root, on_event=on_event, pool_size=max(16, opts.concurrency))
    try:
        result = ci_read.read_ci(opts, github=github, models=models, out_root=root, on_event=on_event)
    finally:
        line.done()
    paths = ci_read.write_outputs(result, root)
    page = ci_health_page.write_page(paths[0], rows=ci_health.rows_from_specs(specs), last_good=paths[1])
    data = ci_report.summary(result)
    data["outputs"] = [str(p) for p in paths]
    data["health_page"] = str(page.path)
    if github is not None:
        data["requests"] = {
            "api": github.stats.api,
            "not_modified": github.stats.not_modified,
            "blob": github.stats.blob,
        }
    if json:
        print_json(data)
        return
    say(ci_report.summary_table(data))
    say()
    for path in (*paths, page.path):
        say(f"wrote {shown(cfg, path)}")


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


def _run_composite(cfg, title: str, run, steps, *, log, command: str, arguments: dict, dry_run: bool) -> None:
    from release import pipeline

    def table(reports) -> str:
        log.write(pipeline.report_table(reports))  # every result whole, in the run log
        return pipeline.report_table(reports, width=terminal_width())

    with log:
        log(f"{title}{' (dry run: plans only, nothing is written)' if dry_run else ''}")
        try:
            reports = pipeline.run_steps(
                steps,
                release_logs=cfg.release_logs,
                command=command,
                version=str(run.version),
                arguments=arguments,
                dry_run=dry_run,
                on_event=log,
            )
        except pipeline.StepFailed as e:
            say(table(e.reports))
            write_step_summary(pipeline.report_markdown(f"{title}: failed", e.reports))
            if log.path is not None:
                say(f"\nlog: {shown(cfg, log.path)}")
            raise
        finally:
            run.close()
        say(table(reports))
    write_step_summary(pipeline.report_markdown(title, reports))
    if not dry_run:
        say(f"\nstate: {shown(cfg, pipeline.state_path(cfg.release_logs, str(run.version)))}")
        say(f"log: {shown(cfg, log.path)}")


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
    },
)
@release_task
def prerelease(c, increment=None, max_runs=90, from_=None, branch=None, event=None, keep_existing=False, dry_run=False):
    """The pre-release in one command: CI → branch → catalogue → dev images → builds → commit → PR to dev."""
    from release import catalogue, composite, pipeline
    from release.version import INCREMENTS, Version

    if increment not in INCREMENTS:
        raise ConfigError("--increment must be one of major, minor, patch")
    max_runs = whole_number(max_runs, "--max-runs", minimum=1)
    cfg = load_config()
    arguments = {"increment": increment, "max_runs": int(max_runs), "from": from_, "branch": branch, "event": event}
    current = catalogue.read_version(cfg.version_file)
    resumable = pipeline.find_resumable(cfg.release_logs, "prerelease", arguments)
    finished = pipeline.find_finished(cfg.release_logs, "prerelease", arguments, version=str(current))
    version = Version.parse(resumable or finished or str(current.bump(increment)), source="release state")
    if resumable:
        progress(f"resuming the unfinished pre-release of v{version}")
    log = RunLog(None if dry_run else RunLog.path_for(cfg.release_logs, "prerelease", str(version)))
    run = composite.Run(cfg, composite.Clients(cfg, log), version)
    opts = composite.PrereleaseOptions(increment, int(max_runs), from_, branch, event, keep_existing=keep_existing)
    title = f"pre-release v{version}"
    steps = composite.prerelease_steps(run, opts)
    _run_composite(cfg, title, run, steps, log=log, command="prerelease", arguments=arguments, dry_run=dry_run)


@task(
    name="release",
    help={
        "version": "the release, X.Y.Z (default: VERSION, as the merged pre-release left it)",
        "last_good": "last-good JSON the pre-release used (default: from its state file, else the newest)",
        "keep_existing": "images.promote's decision on conflicts: keep the destination tags that hold another "
        "digest as they are (recorded in the release record); a run stopped by conflicts resumes with it",
        "dry_run": "plan every step and write nothing anywhere (git, registry, GitHub, files)",
    },
)
@release_task
def release(c, version=None, last_good=None, keep_existing=False, dry_run=False):
    """The release in one command: rc branch → release images → builds → diff vs main → PR to main → record → notes."""
    from release import catalogue, composite, pipeline
    from release.version import Version

    cfg = load_config()
    v = Version.parse(version, source="--version") if version else catalogue.read_version(cfg.version_file)
    pre_outputs = pipeline.read_outputs(cfg.release_logs, str(v), "prerelease")
    given = Path(last_good) if last_good else None
    log = RunLog(None if dry_run else RunLog.path_for(cfg.release_logs, "release", str(v)))
    run = composite.Run(cfg, composite.Clients(cfg, log), v, prerelease_outputs=pre_outputs)
    last = composite.release_last_good(cfg, v, given, pre_outputs)
    steps = composite.release_steps(run, last_good=last, keep_existing=keep_existing)
    arguments = {"version": str(v), "last_good": last_good}
    _run_composite(cfg, f"release v{v}", run, steps, log=log, command="release", arguments=arguments, dry_run=dry_run)


ci = Collection("ci", ci_read_task, ci_health_task)
spec = Collection("spec", spec_update_task)
images = Collection("images", images_audit_task, images_promote, images_copy_task, images_build_task)
git = Collection("git", git_prerelease, git_rc, git_hotfix, git_pr, git_notes)

ns = Collection(ci, spec, images, git, prerelease, release)
