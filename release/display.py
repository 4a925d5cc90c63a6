"""What the tasks show: one display a command, which turns the command's events (`on_event`) and result into
tables, lines and JSON, with progress on stderr from release/progress.py. Nothing below `tasks.py` imports this module;
the kit's modules are imported where a display first needs them, so `inv --list` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from release.cli import print_json, progress, say, shown, terminal_width, write_step_summary
from release.progress import BuildProgress, CopyProgress, Exc, ProgressLine, RunLog

if TYPE_CHECKING:
    from release.ci_model import ReadPlan
    from release.ci_read import CiRead
    from release.config import Config
    from release.gitflow import FlowOutcome, NotesOutcome
    from release.version import Version


class BuildDisplay:
    """What `inv images.build` shows of `release.build.run.build_images`' events: the decision table (with --json:
    the plan on a dry run, else nothing until the summary), build progress on stderr, then the result table or the
    build summary as JSON."""

    def __init__(self, cfg: Config, *, json: bool) -> None:
        self._cfg = cfg
        self._json = json
        self._progress: BuildProgress | None = None

    def __call__(self, event: Any) -> None:
        from release.build import report, run

        if isinstance(event, run.Planned):
            if event.dry_run and self._json:
                print_json(report.plan_json(event.plan))
            elif not self._json:
                say(report.decision_table(event.plan))
            self._progress = BuildProgress(list(event.engines))
        elif isinstance(event, run.Built):
            if self._json:
                print_json(event.run.summary)
            else:
                say(report.result_table(event.run.result))
                say(report.outcome_line(event.run.result))
                say(f"summary: {shown(self._cfg, event.run.summary_path)}")
        elif isinstance(event, run.SummaryUpdated):
            if event.moved and not self._json:
                say(f"updated {event.path}: {event.moved} image(s) moved to its built section")
        elif self._progress is not None:
            self._progress(event)


# ------------------------------------------------------------------------------------------ one display a command


class SpecDisplay:
    """`inv spec.update`: the plan table, disagreements and records not applied, then each file it writes."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg

    def __call__(self, event: object) -> None:
        from release import spec_report
        from release.spec_update import Planned

        if not isinstance(event, Planned):
            return
        plan = event.plan
        if plan is None:  # --output-only
            if not event.changes:
                say(f"outputs are up to date with {self._cfg.catalogue_path.name} (VERSION {event.version}, "
                    f"{event.specs} specs)")  # fmt: skip
        else:
            say(spec_report.plan_table(plan))
            warnings = spec_report.disagreement_table(plan)
            if warnings:
                say("\nwarning: CI records of one template disagree on commits (the newest run was chosen):")
                say(warnings)
            for rejected in plan.rejected:
                say(f"warning: {rejected.template_label}: {rejected.model_id} not applied: {rejected.reason}")
            if not plan.changed:
                say("\nno change to the catalogue" + (": regenerating stale outputs" if event.changes else ""))
        for change in event.changes:
            say(f"{'would ' if event.dry_run else ''}{change.label} {shown(self._cfg, change.path)}")


def _estimates_json(plan: Any, estimates: Any) -> dict[str, Any]:
    return {**plan.to_json(), "estimates": {k: vars(v) for k, v in estimates.items()}}


class _CopyBar:
    """A display that shows a copy progress bar while copies run; the bar is closed before results are printed
    (and when the command fails: use the display as a context manager)."""

    _bar: CopyProgress | None = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Exc) -> None:
        self._close_bar()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _copy_event(self, event: object) -> bool:
        """Forward a registry copy event (a dict) to the bar; False for any other event."""
        if not isinstance(event, dict):
            return False
        if self._bar is not None:
            self._bar(event)
        return True


class PromoteDisplay(_CopyBar):
    """`inv images.promote`: notes on stderr, the plan (a dry run: with estimates), a progress bar while copying,
    then the result table and where the summaries went (with --json: the plan or the summary as JSON)."""

    def __init__(self, cfg: Config, *, json: bool) -> None:
        self._cfg = cfg
        self._json = json

    def __call__(self, event: object) -> None:
        from release.images import promote
        from release.images import promotion_report as report

        if self._copy_event(event):
            return
        if isinstance(event, promote.Reading):
            progress(f"reading {event.files} last-good file(s) ...")
        elif isinstance(event, promote.Decided):
            progress(event.prep.decision.note)
            if event.prep.unknown_models:
                progress(
                    f"note: {len(event.prep.unknown_models)} model(s) in the last-good files are not in the catalogue"
                )
        elif isinstance(event, promote.Planned):
            if self._json:
                print_json(_estimates_json(event.plan, event.estimates))
            else:
                say(report.plan_table(event.plan, event.estimates))
                say("\ndry run: nothing was written (registry, VERSION, summaries)")
        elif isinstance(event, promote.Copying):
            progress("checking the registries and copying what each destination needs ...")
            self._bar = CopyProgress(None)
        elif isinstance(event, promote.Promoted):
            self._close_bar()
            self._promoted(event)

    def _promoted(self, event: Any) -> None:
        from release.images import promotion_report as report

        result, decision = event.result, event.prep.decision
        if self._json:
            print_json(report.summary_json(result))
            return
        say(report.plan_table(result.plan))
        if result.outcomes:
            say("\n" + report.result_table(result))
        say(f"\nwrote {shown(self._cfg, event.prep.output_dir / f'{event.prep.mode}_artifacts_summary.md')} and .json")
        if result.version_written and decision.target != decision.current:
            say(f"VERSION {decision.current} → {decision.target}; regenerate the outputs with "
                "`inv spec.update --output-only`")  # fmt: skip


class CopyDisplay(_CopyBar):
    """`inv images.copy`: the plan of a dry run with estimates; a progress bar for a list of pairs; then one line a
    copy (or, for a list, the tables and where the summary went; with --json the result as JSON)."""

    def __init__(self, cfg: Config, *, json: bool, listed: bool) -> None:
        self._cfg = cfg
        self._json = json
        self._listed = listed  # --from-summary

    def __call__(self, event: object) -> None:
        from release.images import copy
        from release.images import promotion_report as report

        if self._copy_event(event):
            return
        if isinstance(event, copy.Planned):
            if event.dry_run and self._json:
                print_json(_estimates_json(event.plan, event.estimates))
            elif event.dry_run:
                say(report.plan_table(event.plan, event.estimates))
                say("\ndry run: nothing was written")
            elif self._listed:
                self._bar = CopyProgress(len(event.plan.copies))
        elif isinstance(event, copy.Copied):
            self._close_bar()
            if self._json:
                print_json(report.copy_json(event.result))
            elif event.summary is not None:
                say(report.plan_table(event.plan))
                if event.result.outcomes:
                    say("\n" + report.result_table(event.result))
                say(f"\nwrote {shown(self._cfg, event.summary)} and .json")
            else:
                for line in report.copy_lines(event.result):
                    say(line)


class AuditDisplay:
    """`inv images.audit`: the findings as a table (or JSON), and a last line when every image is there."""

    def __init__(self, *, json: bool, record: bool) -> None:
        self._json = json
        self._record = record

    def __call__(self, event: object) -> None:
        from release.images import audit

        if isinstance(event, audit.Auditing):
            progress(f"auditing {event.images} image(s)...")
        elif isinstance(event, audit.Audited):
            findings = event.findings
            if self._json:
                print_json(audit.audit_json(findings))
                return
            say(audit.audit_table(findings))
            if not audit.failures(findings):
                say(f"\nall {len(findings)} image(s) exist" + (" with their recorded digests" if self._record else ""))


class CiReadDisplay:
    """`inv ci.read`: a progress line while reading (use as a context manager around the read), then the summary
    table and the files written; a dry run's plan. With --json: the summary (or the plan) as JSON."""

    def __init__(self, cfg: Config, *, json: bool) -> None:
        self._cfg = cfg
        self._json = json
        self._line = ProgressLine()

    def __enter__(self) -> CiReadDisplay:
        return self

    def __exit__(self, *exc: Exc) -> None:
        self._line.done()

    def __call__(self, event: object) -> None:
        from release import ci_read, ci_report
        from release.github_types import RateLimitWait

        if isinstance(event, ci_read.Planned):
            self._planned(event.plan)
        elif isinstance(event, ci_read.CiRead):
            self._line.done()
            self._read(event)
        else:
            stage = getattr(event, "stage", None)
            self._line.update(ci_report.progress_text(event), important=isinstance(event, RateLimitWait), stage=stage)

    def _planned(self, plan: ReadPlan) -> None:
        from release import ci_report

        if self._json:
            print_json({"runs": [r.to_json() for r in plan.runs], "cached": sorted(plan.cached)})
        else:
            say(ci_report.read_plan_table(plan))
            say("\ndry run: nothing was downloaded or written")

    def _read(self, done: CiRead) -> None:
        from release import ci_report

        if self._json:
            print_json(done.summary)
            return
        say(ci_report.summary_table(done.summary))
        say()
        for path in (done.all_results, done.last_good, done.health_page.path):
            say(f"wrote {shown(self._cfg, path)}")


class CompositeDisplay:
    """`inv prerelease` / `inv release`: every progress line in the run log (release_logs/run_logs/, none for a
    dry run) and, fitted, on stderr; then the end table, $GITHUB_STEP_SUMMARY, and where the state and log are."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self._log = RunLog(None)

    def __enter__(self) -> CompositeDisplay:
        return self

    def __exit__(self, *exc: Exc) -> None:
        self._log.__exit__()

    def __call__(self, event: object) -> None:
        from release.pipeline import report_markdown, report_table
        from release.pipeline.run import Ended, Started

        if isinstance(event, Started):
            path = None if event.dry_run else RunLog.path_for(self._cfg.release_logs, event.command, event.version)
            self._log = RunLog(path).__enter__()
            self._log(f"{event.title}{' (dry run: plans only, nothing is written)' if event.dry_run else ''}")
        elif isinstance(event, Ended):
            self._log.write(report_table(event.reports))  # every result whole, in the run log
            say(report_table(event.reports, width=terminal_width()))
            title = f"{event.title}: failed" if event.failed else event.title
            write_step_summary(report_markdown(title, event.reports))
            if event.failed and self._log.path is not None:
                say(f"\nlog: {shown(self._cfg, self._log.path)}")
            elif not event.failed and event.state is not None and self._log.path is not None:
                say(f"\nstate: {shown(self._cfg, event.state)}")
                say(f"log: {shown(self._cfg, self._log.path)}")
        elif isinstance(event, str):
            self._log(event)


class UndoDisplay:
    """`inv prerelease --undo` / `inv release --undo`: each step on stderr as it runs, then the plan and what was
    done."""

    def __call__(self, event: object) -> None:
        from release.undo.run import Undone

        if isinstance(event, Undone):
            say(event.outcome.text)
        elif isinstance(event, str):
            progress(event)


def git_done(outcome: FlowOutcome, dry_run: bool) -> None:
    """The last lines of a git task: nothing changed, nothing to do, or the steps done and the URLs."""
    if dry_run:
        say("\ndry run: nothing was changed")
    elif outcome.result is None:
        say("\nnothing to do")
    else:
        say(f"\ndone: {len(outcome.result.done)} step(s)")
        for url in outcome.result.urls:
            say(url)


def pr_done(outcome: FlowOutcome, dry_run: bool) -> None:
    """`inv git.pr`: a dry run shows the body of the PR it would open or update."""
    from release.gitflow import OpenPull, UpdatePull

    if dry_run:
        for step in outcome.plan.actions:
            if isinstance(step, OpenPull | UpdatePull):
                say("\n" + step.body)
    git_done(outcome, dry_run)


def notes_done(cfg: Config, out: NotesOutcome, version: Version, *, publish: bool, dry_run: bool) -> None:
    """`inv git.notes`: the notes (dry run) or where they went and what is left to write; then the publish plan."""
    from release import notes

    if dry_run:
        say(out.text)
    else:
        say(f"{'wrote' if out.written else 'up to date:'} {shown(cfg, out.path)}")
        problem = notes.unfinished(out.text)
        if problem and not publish:
            say(f"before `inv git.notes --version {version} --publish`: {problem}")
            say(f"  (edit {shown(cfg, out.path)})")
    if out.publish is not None:
        git_done(out.publish, dry_run)
