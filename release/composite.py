"""`inv prerelease` and `inv release`: the runbook as one command each, resumable (see release/pipeline.py).

prerelease: ci.read → git.prerelease → spec.update → images.promote --dev --increment → images.build --push (what
promotion could not provide) → spec.update --output-only → commit → push → PR pre-release → dev.
(ci.read runs first: the pre-release branch starts from the commit of the newest CI run that supplied a last good
record, so the run must be read before the branch can be cut.)

release: git.rc → images.promote --release → images.build --push --release → spec diff against main → commit →
push → PR rc → main → release record → release notes draft (rendered from the record: one source of truth).

Every step has an `apply` and a `plan`; a dry run plans every step and writes nothing anywhere (a dry-run ci.read
reads into a temporary folder that is deleted afterwards).
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from release import (
    __version__,
    artifacts_summary,
    catalogue,
    ci_health,
    ci_health_page,
    ci_read,
    ci_report,
    fsio,
    gitflow,
    notes,
    promotion,
    promotion_report,
    promotion_run,
    record,
    release_inputs,
    spec_update,
    wiring,
)
from release.build import report as build_report
from release.build import run as build_run
from release.build.result import BuildEvent
from release.config import Config
from release.errors import ConfigError, InputError
from release.github_types import RateLimitWait, RepoRef
from release.pipeline import RunContext, Step, StepOutcome
from release.version import Version

Say = Callable[[str], None]


class Clients:
    """The clients a composite run needs, built on first use through release/wiring.py."""

    def __init__(self, cfg: Config, on_event: Say) -> None:
        self.cfg = cfg
        self.on_event = on_event

    @cached_property
    def registry(self) -> Any:
        return wiring.registry_client(self.cfg)

    @cached_property
    def git(self) -> Any:
        return wiring.git_client(self.cfg)

    def flow(self, *, dry_run: bool) -> gitflow.Flow:
        return wiring.git_flow(self.cfg, dry_run=dry_run, on_event=self.on_event)

    def github_for_ci(self, cache_root: Path) -> Any:
        repo = RepoRef(self.cfg.ci_owner, self.cfg.ci_repo)
        self.cfg.require_ci_token(f"Actions: read and Metadata: read on {repo} (classic token: repo scope)")
        return wiring.ci_github_client(self.cfg, cache_root=cache_root, on_event=self._ci_event)

    def _ci_event(self, event: object) -> None:
        if isinstance(event, RateLimitWait):
            self.on_event(ci_report.progress_text(event) or "waiting for the GitHub rate limit")


@dataclass
class Run:
    """One composite invocation: settings, clients, and scratch space for a dry run."""

    cfg: Config
    clients: Clients
    version: Version
    prerelease_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def scratch_dir(self) -> Path:
        if self.scratch is None:
            self.scratch = tempfile.TemporaryDirectory(prefix="release-dry-run-")
        return Path(self.scratch.name)

    @cached_property
    def dry_cfg(self) -> Config:
        """For a dry run: the same settings over scratch copies of the files the steps edit.

        File-level steps (spec.update, the VERSION bump, spec.outputs) run for real on these copies, so each
        planned step sees what the steps before it would have done; git, registries and GitHub are only read.
        """
        root = self.scratch_dir() / "checkout"
        cfg = self.cfg
        files = (cfg.catalogue_path, cfg.version_file, cfg.readme_path, cfg.output_json_path)
        copies = {}
        for path in files:
            target = root / _rel(cfg, path).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                target.write_bytes(path.read_bytes())
            copies[path] = target
        return dataclasses.replace(
            cfg,
            catalogue_path=copies[cfg.catalogue_path],
            version_file=copies[cfg.version_file],
            readme_path=copies[cfg.readme_path],
            output_json_path=copies[cfg.output_json_path],
            release_logs=root / "release_logs",
            workflow_logs=root / "workflow_logs",
        )

    def files_cfg(self, dry_run: bool) -> Config:
        return self.dry_cfg if dry_run else self.cfg

    def shown(self, path: Path) -> str:
        """A path relative to the checkout (scratch copies of a dry run are shown as the files they stand for)."""
        if self.scratch is not None:
            try:
                return str(Path(path).relative_to(Path(self.scratch.name) / "checkout"))
            except ValueError:
                pass
        return _rel(self.cfg, path)

    def close(self) -> None:
        if self.scratch is not None:
            self.scratch.cleanup()


# --------------------------------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class PrereleaseOptions:
    increment: str
    max_runs: int = 90
    source: str | None = None  # --from
    branch: str | None = None  # CI run filters
    event: str | None = None
    keep_existing: bool = False  # the decision on promotion conflicts (not part of the run's arguments)


def _rel(cfg: Config, path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(cfg.repo_root))
    except ValueError:
        return str(path)


def ci_read_step(run: Run, opts: PrereleaseOptions) -> Step:
    def read(root: Path) -> StepOutcome:
        cfg = run.cfg
        specs = list(catalogue.load(cfg).specs.values())
        models = ci_read.models_from_specs(specs)
        read_opts = ci_read.ReadOptions(
            repo=RepoRef(cfg.ci_owner, cfg.ci_repo),
            workflow_file=cfg.ci_workflow_file,
            max_runs=opts.max_runs,
            branch=opts.branch,
            event=opts.event,
        )
        github = run.clients.github_for_ci(root)
        result = ci_read.read_ci(read_opts, github=github, models=models, out_root=root)
        all_path, good_path = ci_read.write_outputs(result, root)
        page = ci_health_page.write_page(all_path, rows=ci_health.rows_from_specs(specs), last_good=good_path)
        data = ci_report.summary(result)
        rng = data.get("run_range")
        span = f"runs {rng[0]}–{rng[1]}" if rng else "no runs"
        return StepOutcome(
            f"{data['models_with_last_good']}/{data['models_total']} models have a last good run ({span}, "
            f"{len(data['runs'])} read)",
            {
                "last_good": str(good_path),
                "all_results": str(all_path),
                "health_page": str(page.path),
                "without_last_good": data["without_last_good"],
            },
            () if root != run.cfg.release_logs else (_rel(cfg, page.path),),  # no link to a dry run's scratch
        )

    return Step(
        "ci.read",
        f"read the newest {opts.max_runs} completed Models CI runs",
        apply=lambda ctx: read(run.cfg.release_logs),
        plan=lambda ctx: read(run.dry_cfg.release_logs),
    )


def _last_good(ctx: RunContext) -> Path:
    path = ctx.output("ci.read", "last_good") or ctx.output("inputs", "last_good")
    if not path:
        raise InputError("no last-good JSON from ci.read: run `inv ci.read` or give --last-good")
    return Path(path)


def _files(run: Run, ctx: RunContext) -> gitflow.ReleaseFiles:
    return gitflow.ReleaseFiles.from_config(run.cfg, last_good=_last_good(ctx))


def git_prerelease_step(run: Run, opts: PrereleaseOptions) -> Step:
    branch = gitflow.prerelease_branch(run.version)

    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        flow = run.clients.flow(dry_run=dry_run)
        out = gitflow.prerelease_flow(flow, run.version, _files(run, ctx), source=opts.source, show=ctx.on_event)
        if dry_run:
            return StepOutcome(f"would create {branch}: " + "; ".join(s.describe() for s in out.plan.actions))
        sha = run.clients.git.rev_parse(f"refs/heads/{branch}") or ""
        return StepOutcome(f"{branch} at {sha[:7]}, checked out and pushed", {"branch": branch, "sha": sha})

    return Step(
        "git.prerelease",
        f"cut {branch} from the commit that passed Models CI",
        lambda ctx: go(ctx, False),
        lambda ctx: go(ctx, True),
    )


def spec_update_step(run: Run, *, against: str | None = None) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        cfg = run.files_cfg(dry_run)
        show_file = run.clients.git.show_file if against else None
        files = spec_update.update_from_last_good(
            cfg,
            _last_good(ctx),
            allow_downgrade=False,
            only=(),
            against=against,
            show_file=show_file,
            diff_out=cfg.release_logs / "release_models_diff.md",
        )
        spec_update.apply_file_changes(files.changes)  # on scratch copies in a dry run
        plan = files.plan
        verb = "would write" if dry_run else "wrote"
        for change in files.changes:
            ctx.on_event(f"  {verb} {run.shown(change.path)}")
        written = f"{len(files.changes)} file(s)" if files.changes else "nothing"
        extra = []
        if plan.rejected:
            extra.append(f"{len(plan.rejected)} record(s) not applied")
        if any(u.proposed_status for u in plan.updates):
            extra.append("downgrades proposed")
        tail = f" ({'; '.join(extra)})" if extra else ""
        if against:  # one file: the diff
            text = f"diff against {against} {'to write' if dry_run else 'written'}{tail}"
        else:
            text = f"{len(plan.changed)} template(s) updated; {verb} {written}{tail}"
        return StepOutcome(text, {"changed_templates": len(plan.changed)})

    name = "spec.diff" if against else "spec.update"
    what = f"render release_models_diff.md against {against}" if against else "apply the last good CI results"
    return Step(name, what, lambda ctx: go(ctx, False), lambda ctx: go(ctx, True))


def promote_step(run: Run, *, mode: promotion.Mode, increment: str | None, keep_existing: bool = False) -> Step:
    """`keep_existing` (--keep-existing) is a decision, not an argument of the run: a run stopped by conflicts
    resumes here when started again with it."""

    def files(ctx: RunContext) -> list[Path]:
        return [_last_good(ctx)]

    def apply(ctx: RunContext) -> StepOutcome:
        registry = run.clients.registry
        prep = promotion_run.prepare(run.cfg, files=files(ctx), mode=mode, increment=increment)
        ctx.on_event(prep.decision.note)
        result = promotion_run.execute(prep, registry, keep_existing=keep_existing, render=_render_promotion)
        promotion.check_result(result)
        summary = prep.output_dir / f"{mode}_artifacts_summary.json"
        done = promotion_report.summary_of(result)
        counts, kept = done.counts(), done.kept()
        return StepOutcome(
            (f"{len(kept)} kept as they were (--keep-existing); " if kept else "")
            + f"{counts['total_copied']} copied, {counts['total_existing_with_ci']} already there, "
            f"{counts['total_to_build']} to build; VERSION {prep.decision.target}",
            {
                "summary": str(summary),
                "to_build": list(done.to_build),
                "version": str(prep.decision.target),
                "kept": kept,
            },
        )

    def plan(ctx: RunContext) -> StepOutcome:
        registry = run.clients.registry
        cfg = run.dry_cfg
        prep = promotion_run.prepare(cfg, files=files(ctx), mode=mode, increment=increment)
        promotion_plan = promotion_run.plan_only(prep, registry, keep_existing=keep_existing)
        fsio.atomic_write(cfg.version_file, f"{prep.decision.target}\n")  # scratch copy: later plans see it
        counts = promotion.plan_summary_counts(promotion_plan)
        to_build = [str(s.dst) for s in promotion_plan.of(promotion.NeedsBuild)]
        conflicts = f"conflicts {len(promotion_plan.conflicts)}" + (" (kept)" if keep_existing else "")
        return StepOutcome(
            f"would copy {len(promotion_plan.copies)}, build {len(to_build)}, {conflicts}, "
            f"skip {counts.get('skip', 0)} (VERSION {prep.decision.current} → {prep.decision.target})",
            {"to_build": to_build},
        )

    return Step(
        "images.promote",
        f"copy the Models CI images to their -{mode}- names",
        apply,
        plan,
    )


def _render_promotion(result: promotion.PromotionResult) -> tuple[str, str]:
    return fsio.dump_json(promotion_report.summary_json(result)), promotion_report.summary_markdown(result)


def build_step(run: Run, *, release: bool) -> Step:
    def apply(ctx: RunContext) -> StepOutcome:
        to_build = list(ctx.output("images.promote", "to_build", []))
        if not to_build:
            return StepOutcome("nothing to build: promotion provided every image")
        summary = ctx.output("images.promote", "summary")  # its built images leave "requiring new builds"
        request = build_run.BuildRequest(
            release=release, push=True, only=tuple(to_build), only_missing_from=Path(summary) if summary else None
        )

        def on_event(event: object) -> None:
            if isinstance(event, BuildEvent):
                _say_some(ctx, build_report.progress_line(event))

        done = build_run.build_images(run.cfg, request, registry=run.clients.registry, on_event=on_event)
        assert done is not None  # not a dry run
        return StepOutcome(
            build_report.outcome_line(done.result),
            {"summary": str(done.summary_path), "built": done.summary.get("build_succeeded", {})},
            (_rel(run.cfg, done.summary_path),),
        )

    def plan(ctx: RunContext) -> StepOutcome:
        to_build = list(ctx.output("images.promote", "to_build", []))
        if not to_build:
            return StepOutcome("nothing to build")
        return StepOutcome(f"would build and push {len(to_build)} image(s): " + ", ".join(to_build))

    kind = "release" if release else "dev"
    return Step("images.build", f"build and push the {kind} images promotion could not provide", apply, plan)


def _say_some(ctx: RunContext, line: str | None) -> None:
    if line is not None:
        ctx.on_event(line)


def outputs_step(run: Run) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        cfg = run.files_cfg(dry_run)
        version = ctx.output("images.promote", "version") or str(catalogue.read_version(cfg.version_file))
        cat = catalogue.load(cfg, version=version)
        changes = spec_update.plan_outputs_for(cfg, cat)
        spec_update.apply_file_changes(changes)  # on scratch copies in a dry run
        for change in changes:
            ctx.on_event(f"  {'would regenerate' if dry_run else 'regenerated'} {run.shown(change.path)}")
        names = f"{len(changes)} file(s)" if changes else "nothing (up to date)"
        return StepOutcome(f"{'would regenerate' if dry_run else 'regenerated'} {names} for VERSION {version}")

    return Step(
        "spec.outputs",
        "regenerate model_specs_output.json and the README table with the new VERSION",
        lambda ctx: go(ctx, False),
        lambda ctx: go(ctx, True),
    )


def commit_step(run: Run, *, branch: str, step_label: str, summary_prefix: str) -> Step:
    def paths() -> list[str]:
        cfg = run.cfg
        candidates = [
            cfg.catalogue_path,
            cfg.output_json_path,
            cfg.readme_path,
            cfg.version_file,
            cfg.release_logs / "release_models_diff.md",
            cfg.release_logs / "release_models_diff.json",
            cfg.release_logs / f"{summary_prefix}_artifacts_summary.md",
            cfg.release_logs / f"{summary_prefix}_artifacts_summary.json",
        ]
        return [_rel(cfg, p) for p in candidates if p.exists()]

    def apply(ctx: RunContext) -> StepOutcome:
        flow = run.clients.flow(dry_run=False)
        out = gitflow.commit_flow(flow, branch, paths(), step=step_label, version=run.version, show=ctx.on_event)
        sha = flow.git.rev_parse("HEAD")
        if not out.files:
            return StepOutcome("nothing to commit", {"sha": sha})
        return StepOutcome(
            f"committed {len(out.files)} file(s) as {(sha or '')[:7]}", {"sha": sha, "files": list(out.files)}
        )

    def plan(ctx: RunContext) -> StepOutcome:
        return StepOutcome(f"would commit on {branch}: " + ", ".join(paths()))

    return Step("commit", f"commit the release changes on {branch}", apply, plan)


def push_step(run: Run, *, branch: str) -> Step:
    remote = run.cfg.git_remote

    def apply(ctx: RunContext) -> StepOutcome:
        flow = run.clients.flow(dry_run=False)
        gitflow.push_flow(flow, branch, show=ctx.on_event)
        return StepOutcome(f"pushed {branch} to {remote}", {"sha": flow.git.rev_parse("HEAD")})

    def plan(ctx: RunContext) -> StepOutcome:
        return StepOutcome(f"would push {branch} to {remote}")

    return Step("push", f"push {branch}", apply, plan)


def pr_step(run: Run, *, kind: str) -> Step:
    head = gitflow.prerelease_branch(run.version) if kind == "prerelease" else gitflow.rc_branch(run.version)
    base = run.cfg.dev_branch if kind == "prerelease" else run.cfg.main_branch

    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        flow = run.clients.flow(dry_run=dry_run)
        if dry_run and not flow.git.ls_remote(run.cfg.git_remote, f"refs/heads/{head}"):
            return StepOutcome(f"would open the PR {head} → {base} once the branch is pushed")
        out = gitflow.pr_flow(flow, kind, run.version, _files(run, ctx), draft=False, show=ctx.on_event)
        if dry_run:
            return StepOutcome("would " + ("; ".join(s.describe() for s in out.plan.actions) or "leave the PR as is"))
        urls = tuple(out.result.urls) if out.result else ()
        return StepOutcome("PR opened or updated" if urls else "PR up to date", {"urls": list(urls)}, urls)

    return Step("pr", f"open or update the PR {head} → {base}", lambda ctx: go(ctx, False), lambda ctx: go(ctx, True))


def notes_step(run: Run) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        flow = run.clients.flow(dry_run=dry_run)
        out = gitflow.notes_flow(flow, run.version, _files(run, ctx), publish=False, draft=True, show=ctx.on_event)
        path = _rel(run.cfg, out.path)
        if dry_run:
            return StepOutcome(f"would write {path}")
        todo = notes.unfinished(out.text)
        hint = f"; {todo}" if todo else ""
        return StepOutcome(f"draft written{hint}", {"notes": str(out.path)}, (path,))

    return Step("notes", "draft the release notes", lambda ctx: go(ctx, False), lambda ctx: go(ctx, True))


def record_step(run: Run) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        cfg = run.cfg
        path = record_path(cfg, run.version)
        if dry_run:
            return StepOutcome(f"would write {_rel(cfg, path)}")
        rec = build_record(run, ctx)
        fsio.write_json(path, rec.to_json())
        counts = Counter(i.how for i in rec.images)
        how = ", ".join(f"{n} {k}" for k, n in counts.items())
        return StepOutcome(f"{len(rec.images)} image(s) recorded ({how})", {"record": str(path)}, (_rel(cfg, path),))

    return Step("record", "write the release record", lambda ctx: go(ctx, False), lambda ctx: go(ctx, True))


def record_path(cfg: Config, version: Version) -> Path:
    return cfg.release_logs / f"release_record_v{version}.json"


# --------------------------------------------------------------------------------------------------------- record


def build_record(run: Run, ctx: RunContext) -> record.ReleaseRecord:
    """release_record_vX.Y.Z.json: what was released (the release artifacts summary after the builds), where it
    came from, and how to check it."""
    cfg = run.cfg
    git = run.clients.git
    pre, rc = gitflow.prerelease_branch(run.version), gitflow.rc_branch(run.version)
    summary = artifacts_summary.read_if_exists(cfg.release_logs / "release_artifacts_summary.json")
    head = git.rev_parse("HEAD")
    return record.ReleaseRecord(
        version=str(run.version),
        created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool_version=__version__,
        tag=gitflow.release_tag(run.version),
        commit=head,
        remote=cfg.git_remote,
        remote_url=_without_credentials(git.remote_url(cfg.git_remote)),
        branches={
            pre: git.rev_parse(f"refs/remotes/{cfg.git_remote}/{pre}") or git.rev_parse(f"refs/heads/{pre}"),
            rc: head,
        },
        catalogue_path=_rel(cfg, cfg.catalogue_path),
        catalogue_sha256=hashlib.sha256(cfg.catalogue_path.read_bytes()).hexdigest(),
        last_good=_rel(cfg, _last_good(ctx)),
        ci_runs=tuple(notes.ci_runs_used(_files(run, ctx).last_good_records() or {})),
        images=record.images_from_summary(summary or artifacts_summary.ArtifactsSummary()),
        pull_requests={
            "prerelease": (run.prerelease_outputs.get("pr") or {}).get("urls"),
            "rc": ctx.output("pr", "urls"),
        },
        decisions=_decisions(cfg.release_logs, str(run.version)),
    )


def _decisions(release_logs: Path, version: str) -> tuple[record.RecordDecision, ...]:
    """The conflicts decided (--keep-existing) while promoting this version, to dev and release images."""
    out: list[record.RecordDecision] = []
    for mode in ("dev", "release"):
        summary = artifacts_summary.read_if_exists(release_logs / f"{mode}_artifacts_summary.json")
        if summary is not None and summary.version == version:
            out.extend(record.decisions_from_summary(summary, step=f"images.promote --{mode}"))
    return tuple(out)


def _without_credentials(url: str | None) -> str | None:
    """`https://user:token@host/path` → `https://host/path`: a record never carries a credential."""
    if not url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    host_and_path = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
    return f"{scheme}://{host_and_path}"


# --------------------------------------------------------------------------------------------------------- plans


def prerelease_steps(run: Run, opts: PrereleaseOptions) -> list[Step]:
    branch = gitflow.prerelease_branch(run.version)
    return [
        ci_read_step(run, opts),
        git_prerelease_step(run, opts),
        spec_update_step(run),
        promote_step(run, mode="dev", increment=opts.increment, keep_existing=opts.keep_existing),
        build_step(run, release=False),
        outputs_step(run),
        commit_step(run, branch=branch, step_label="prerelease", summary_prefix="dev"),
        push_step(run, branch=branch),
        pr_step(run, kind="prerelease"),
    ]


def inputs_step(last_good: Path) -> Step:
    def go(ctx: RunContext) -> StepOutcome:
        if not Path(last_good).exists():
            raise InputError(f"{last_good}: last-good JSON not found")
        return StepOutcome(f"last good results from {last_good.name}", {"last_good": str(last_good)})

    return Step("inputs", "find the last-good JSON of the pre-release", go, go)


def release_steps(run: Run, *, last_good: Path, keep_existing: bool = False) -> list[Step]:
    branch = gitflow.rc_branch(run.version)
    against = f"{run.cfg.git_remote}/{run.cfg.main_branch}"
    return [
        inputs_step(last_good),
        Step(
            "git.rc",
            f"cut {branch} from {gitflow.prerelease_branch(run.version)} (after its merge into dev)",
            lambda ctx: _rc(run, ctx, False),
            lambda ctx: _rc(run, ctx, True),
        ),
        promote_step(run, mode="release", increment=None, keep_existing=keep_existing),
        build_step(run, release=True),
        spec_update_step(run, against=against),
        commit_step(run, branch=branch, step_label="release", summary_prefix="release"),
        push_step(run, branch=branch),
        pr_step(run, kind="rc"),
        record_step(run),
        notes_step(run),
    ]


def _rc(run: Run, ctx: RunContext, dry_run: bool) -> StepOutcome:
    branch = gitflow.rc_branch(run.version)
    out = gitflow.rc_flow(run.clients.flow(dry_run=dry_run), run.version, show=ctx.on_event)
    if dry_run:
        return StepOutcome(f"would create {branch}: " + "; ".join(s.describe() for s in out.plan.actions))
    sha = run.clients.git.rev_parse(f"refs/heads/{branch}") or ""
    return StepOutcome(f"{branch} at {sha[:7]}, checked out and pushed", {"branch": branch, "sha": sha})


def release_last_good(cfg: Config, version: Version, given: Path | None, prerelease_outputs: Mapping[str, Any]) -> Path:
    """--last-good, else the pre-release run's ci.read output, else the newest models_ci_last_good_*.json."""
    if given is not None:
        return given
    recorded = (prerelease_outputs.get("ci.read") or {}).get("last_good")
    if recorded and Path(recorded).exists():
        return Path(recorded)
    newest = release_inputs.newest_ci_file(cfg.release_logs, "last_good")
    if newest is None:
        raise ConfigError(
            f"no last-good JSON for v{version}: give --last-good release_logs/models_ci_last_good_*.json "
            "(the one the pre-release used)"
        )
    return newest
