"""The steps of `inv prerelease` and `inv release`: each calls the command its step task calls (release/ci_read.py,
release/gitflow/commands.py, release/spec_update.py, release/images/promote.py, release/build/run.py) and says in one
line what it did (`apply`) or would do (`plan`). A dry run plans every step; file-level steps run for real on
scratch copies (`Run.dry_cfg`), so each plan sees what the steps before it would have done.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from release import ci_read, fsio, notes, spec_update
from release.build import report as build_report
from release.build import run as build_run
from release.build.result import BuildEvent
from release.errors import InputError
from release.gitflow import commands as git
from release.gitflow.flows import FlowOutcome
from release.gitflow.names import prerelease_branch, rc_branch
from release.images import promote, promotion, promotion_report
from release.images.promotion import Mode
from release.pipeline.run import Run, last_good_of, rel
from release.pipeline.runner import RunContext, Step, StepOutcome
from release.undo import ledger
from release.version import Increment

Go = Callable[[RunContext, bool], StepOutcome]  # (context, dry_run) → outcome


def _step(name: str, description: str, go: Go) -> Step:
    """A step whose apply and plan are one function of `dry_run`."""
    return Step(name, description, lambda ctx: go(ctx, False), lambda ctx: go(ctx, True))


def ci_read_step(run: Run, *, max_runs: int, branch: str | None, event: str | None) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        root = run.files_cfg(dry_run).release_logs  # a dry run reads into the scratch folder
        request = ci_read.ReadRequest(max_runs=max_runs, branch=branch, event=event, out_root=root)
        done = ci_read.read(run.cfg, request, on_event=run.clients.ci_event)
        assert done is not None  # not a dry run: a planned ci.read reads into the scratch folder
        data = done.summary
        rng = data.get("run_range")
        span = f"runs {rng[0]}–{rng[1]}" if rng else "no runs"
        return StepOutcome(
            f"{data['models_with_last_good']}/{data['models_total']} models have a last good run ({span}, "
            f"{len(data['runs'])} read)",
            {
                "last_good": str(done.last_good),
                "all_results": str(done.all_results),
                "health_page": str(done.health_page.path),
                "without_last_good": data["without_last_good"],
            },
            () if dry_run else (rel(run.cfg, done.health_page.path),),  # no link to a dry run's scratch
        )

    return _step("ci.read", f"read the newest {max_runs} completed Models CI runs", go)


def _branch_made(run: Run, ctx: RunContext, branch: str, out: FlowOutcome, dry_run: bool) -> StepOutcome:
    if dry_run:
        return StepOutcome(f"would create {branch}: " + "; ".join(s.describe() for s in out.plan.actions))
    sha = run.clients.git.rev_parse(f"refs/heads/{branch}") or ""
    ledger.branch_cut(ctx, branch, out.plan.steps, sha)
    return StepOutcome(f"{branch} at {sha[:7]}, checked out and pushed", {"branch": branch, "sha": sha})


def git_prerelease_step(run: Run, *, source: str | None) -> Step:
    branch = prerelease_branch(run.version)

    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        ledger.checkout(ctx, run.clients.git.current_branch(), run_branch=branch)
        out = git.prerelease(
            run.cfg, run.version, source=source, last_good=last_good_of(ctx), dry_run=dry_run, show=ctx.on_event,
            on_event=run.clients.on_event,
        )  # fmt: skip
        return _branch_made(run, ctx, branch, out, dry_run)

    return _step("git.prerelease", f"cut {branch} from the commit that passed Models CI", go)


def git_rc_step(run: Run) -> Step:
    branch = rc_branch(run.version)

    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        ledger.checkout(ctx, run.clients.git.current_branch(), run_branch=branch)
        out = git.rc(run.cfg, run.version, dry_run=dry_run, show=ctx.on_event, on_event=run.clients.on_event)
        return _branch_made(run, ctx, branch, out, dry_run)

    return _step("git.rc", f"cut {branch} from {prerelease_branch(run.version)} (after its merge into dev)", go)


def spec_update_step(run: Run, *, against: str | None = None) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        request = spec_update.SpecRequest(last_good=last_good_of(ctx), against=against)
        done = spec_update.update_specs(run.files_cfg(dry_run), request)  # on scratch copies in a dry run
        plan = done.plan
        assert plan is not None  # not --output-only
        verb = "would write" if dry_run else "wrote"
        for change in done.changes:
            ctx.on_event(f"  {verb} {run.shown(change.path)}")
        written = f"{len(done.changes)} file(s)" if done.changes else "nothing"
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
    return _step(name, what, go)


def promote_step(run: Run, *, mode: Mode, increment: Increment | None, keep_existing: bool = False) -> Step:
    """`keep_existing` (--keep-existing) is a decision, not an argument of the run: a run stopped by conflicts
    resumes here when started again with it."""

    def request(ctx: RunContext, dry_run: bool) -> promote.PromoteRequest:
        return promote.PromoteRequest(
            files=(last_good_of(ctx),), mode=mode, increment=increment, keep_existing=keep_existing, dry_run=dry_run,
            estimate=False,
        )  # fmt: skip

    def apply(ctx: RunContext) -> StepOutcome:
        def note(event: object) -> None:
            if isinstance(event, promote.Decided):
                ctx.on_event(event.prep.decision.note)
            elif isinstance(event, promote.Promoted):  # before a failure is raised: the undo needs every copy
                ledger.promoted(ctx, event.result)

        done = promote.promote_images(run.cfg, request(ctx, False), registry=run.clients.registry, on_event=note)
        assert done.result is not None  # not a dry run
        summary = promotion_report.summary_of(done.result)
        counts, kept = summary.counts(), summary.kept()
        return StepOutcome(
            (f"{len(kept)} kept as they were (--keep-existing); " if kept else "")
            + f"{counts['total_copied']} copied, {counts['total_existing_with_ci']} already there, "
            f"{counts['total_to_build']} to build; VERSION {done.prep.decision.target}",
            {
                "summary": str(done.prep.output_dir / f"{mode}_artifacts_summary.json"),
                "to_build": list(summary.to_build),
                "version": str(done.prep.decision.target),
                "kept": kept,
            },
        )

    def plan(ctx: RunContext) -> StepOutcome:
        cfg = run.dry_cfg
        done = promote.promote_images(cfg, request(ctx, True), registry=run.clients.registry)
        decision = done.prep.decision
        fsio.atomic_write(cfg.version_file, f"{decision.target}\n")  # scratch copy: later plans see it
        counts = promotion.plan_summary_counts(done.plan)
        to_build = [str(s.dst) for s in done.plan.of(promotion.NeedsBuild)]
        conflicts = f"conflicts {len(done.plan.conflicts)}" + (" (kept)" if keep_existing else "")
        return StepOutcome(
            f"would copy {len(done.plan.copies)}, build {len(to_build)}, {conflicts}, "
            f"skip {counts.get('skip', 0)} (VERSION {decision.current} → {decision.target})",
            {"to_build": to_build},
        )

    return Step("images.promote", f"copy the Models CI images to their -{mode}- names", apply, plan)


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
            line = build_report.progress_line(event) if isinstance(event, BuildEvent) else None
            if line is not None:
                ctx.on_event(line)
            if isinstance(event, build_run.Built):  # before a failure is raised: the undo needs every push
                ledger.built(ctx, event.run.result)

        done = build_run.build_images(run.cfg, request, registry=run.clients.registry, on_event=on_event)
        assert done is not None  # not a dry run
        return StepOutcome(
            build_report.outcome_line(done.result),
            {"summary": str(done.summary_path), "built": done.summary.get("build_succeeded", {})},
            (rel(run.cfg, done.summary_path),),
        )

    def plan(ctx: RunContext) -> StepOutcome:
        to_build = list(ctx.output("images.promote", "to_build", []))
        if not to_build:
            return StepOutcome("nothing to build")
        return StepOutcome(f"would build and push {len(to_build)} image(s): " + ", ".join(to_build))

    kind = "release" if release else "dev"
    return Step("images.build", f"build and push the {kind} images promotion could not provide", apply, plan)


def outputs_step(run: Run) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        request = spec_update.SpecRequest(output_only=True, version=ctx.output("images.promote", "version"))
        done = spec_update.update_specs(run.files_cfg(dry_run), request)  # on scratch copies in a dry run
        verb = "would regenerate" if dry_run else "regenerated"
        for change in done.changes:
            ctx.on_event(f"  {verb} {run.shown(change.path)}")
        names = f"{len(done.changes)} file(s)" if done.changes else "nothing (up to date)"
        return StepOutcome(f"{verb} {names} for VERSION {done.version}")

    return _step("spec.outputs", "regenerate model_specs_output.json and the README table with the new VERSION", go)


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
        return [rel(cfg, p) for p in candidates if p.exists()]

    def apply(ctx: RunContext) -> StepOutcome:
        out = git.commit(
            run.cfg, branch, paths(), step=step_label, version=run.version, show=ctx.on_event,
            on_event=run.clients.on_event,
        )  # fmt: skip
        sha = run.clients.git.rev_parse("HEAD")
        if not out.files:
            return StepOutcome("nothing to commit", {"sha": sha})
        ledger.committed(ctx, branch, sha)
        return StepOutcome(
            f"committed {len(out.files)} file(s) as {(sha or '')[:7]}", {"sha": sha, "files": list(out.files)}
        )

    def plan(ctx: RunContext) -> StepOutcome:
        return StepOutcome(f"would commit on {branch}: " + ", ".join(paths()))

    return Step("commit", f"commit the release changes on {branch}", apply, plan)


def push_step(run: Run, *, branch: str) -> Step:
    remote = run.cfg.git_remote

    def apply(ctx: RunContext) -> StepOutcome:
        out = git.push(run.cfg, branch, show=ctx.on_event, on_event=run.clients.on_event)
        sha = run.clients.git.rev_parse("HEAD")
        ledger.branch_cut(ctx, branch, out.plan.steps, sha)
        ledger.pushed(ctx, branch, sha)
        return StepOutcome(f"pushed {branch} to {remote}", {"sha": sha})

    def plan(ctx: RunContext) -> StepOutcome:
        return StepOutcome(f"would push {branch} to {remote}")

    return Step("push", f"push {branch}", apply, plan)


def pr_step(run: Run, *, kind: str) -> Step:
    head = prerelease_branch(run.version) if kind == "prerelease" else rc_branch(run.version)
    base = run.cfg.dev_branch if kind == "prerelease" else run.cfg.main_branch

    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        if dry_run and not run.clients.git.ls_remote(run.cfg.git_remote, f"refs/heads/{head}"):
            return StepOutcome(f"would open the PR {head} → {base} once the branch is pushed")
        out = git.pr(
            run.cfg, kind, run.version, last_good=last_good_of(ctx), dry_run=dry_run, show=ctx.on_event,
            on_event=run.clients.on_event,
        )  # fmt: skip
        if dry_run:
            return StepOutcome("would " + ("; ".join(s.describe() for s in out.plan.actions) or "leave the PR as is"))
        urls = tuple(out.result.urls) if out.result else ()
        ledger.pulls_opened(ctx, out.plan.steps, urls)
        return StepOutcome("PR opened or updated" if urls else "PR up to date", {"urls": list(urls)}, urls)

    return _step("pr", f"open or update the PR {head} → {base}", go)


def notes_step(run: Run) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        out = git.notes(
            run.cfg, run.version, last_good=last_good_of(ctx), dry_run=dry_run, show=ctx.on_event,
            on_event=run.clients.on_event,
        )  # fmt: skip
        path = rel(run.cfg, out.path)
        if dry_run:
            return StepOutcome(f"would write {path}")
        todo = notes.unfinished(out.text)
        hint = f"; {todo}" if todo else ""
        return StepOutcome(f"draft written{hint}", {"notes": str(out.path)}, (path,))

    return _step("notes", "draft the release notes", go)


def inputs_step(last_good: Path) -> Step:
    def go(ctx: RunContext) -> StepOutcome:
        if not Path(last_good).exists():
            raise InputError(f"{last_good}: last-good JSON not found")
        return StepOutcome(f"last good results from {last_good.name}", {"last_good": str(last_good)})

    return Step("inputs", "find the last-good JSON of the pre-release", go, go)
