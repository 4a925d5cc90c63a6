"""Composite runs: state file, resume after failure or kill -9, lock, dry run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from release import pipeline, run_state
from release.errors import ConfigError, InputError, LockHeld, ReleaseError

ROOT = Path(__file__).resolve().parent.parent


def make_steps(calls: list[str], *, fail_at: str | None = None) -> list[pipeline.Step]:
    def make(name: str) -> pipeline.Step:
        def apply(ctx: pipeline.RunContext) -> pipeline.StepOutcome:
            calls.append(name)
            if name == fail_at:
                raise ReleaseError(f"{name} broke")
            previous = [ctx.output(s, "n") for s in ("a", "b") if s != name]
            return pipeline.StepOutcome(f"{name} ok", {"n": len(calls), "seen": previous}, (f"https://x/{name}",))

        def plan(ctx: pipeline.RunContext) -> pipeline.StepOutcome:
            calls.append(f"plan {name}")
            return pipeline.StepOutcome(f"would {name}")

        return pipeline.Step(name, f"step {name}", apply, plan)

    return [make(n) for n in ("a", "b", "c")]


def run(tmp_path: Path, steps, *, args=None, dry_run=False):
    return pipeline.run_steps(
        steps, release_logs=tmp_path, command="prerelease", version="0.6.0",
        arguments=args or {"increment": "minor"}, dry_run=dry_run,
    )  # fmt: skip


def test_runs_in_order_and_a_second_run_repeats_nothing(tmp_path):
    calls: list[str] = []
    reports = run(tmp_path, make_steps(calls))
    assert calls == ["a", "b", "c"]
    assert [r.status for r in reports] == ["done"] * 3
    state = json.loads((tmp_path / "release_state_v0.6.0.json").read_text())
    run_state = state["runs"]["prerelease"]
    assert run_state["finished"] and run_state["steps"]["b"]["outputs"] == {"n": 2, "seen": [1]}
    assert pipeline.read_outputs(tmp_path, "0.6.0", "prerelease")["c"] == {"n": 3, "seen": [1, 2]}
    again = run(tmp_path, make_steps(calls))
    assert calls == ["a", "b", "c"]
    assert [r.status for r in again] == ["done earlier"] * 3
    assert (tmp_path / ".release.lock").read_text() == ""  # released: no holder shown


def test_failure_saves_state_and_the_rerun_resumes_at_the_failed_step(tmp_path):
    calls: list[str] = []
    with pytest.raises(pipeline.StepFailed) as err:
        run(tmp_path, make_steps(calls, fail_at="b"))
    assert "step b failed: b broke" in str(err.value)
    assert [r.status for r in err.value.reports] == ["done", "failed", "not reached"]
    assert pipeline.find_resumable(tmp_path, "prerelease", {"increment": "minor"}) == "0.6.0"
    calls.clear()
    reports = run(tmp_path, make_steps(calls))
    assert calls == ["b", "c"]
    assert [r.status for r in reports] == ["done earlier", "done", "done"]
    assert pipeline.find_resumable(tmp_path, "prerelease", {"increment": "minor"}) is None


def test_other_arguments_do_not_hijack_a_state_file(tmp_path):
    with pytest.raises(pipeline.StepFailed):
        run(tmp_path, make_steps([], fail_at="a"))
    with pytest.raises(ConfigError, match="with those to resume it, or move the file away"):
        run(tmp_path, make_steps([]), args={"increment": "major"})


def test_dry_run_plans_and_writes_nothing(tmp_path):
    calls: list[str] = []
    reports = run(tmp_path, make_steps(calls), dry_run=True)
    assert calls == ["plan a", "plan b", "plan c"]
    assert [r.status for r in reports] == ["planned"] * 3
    assert list(tmp_path.iterdir()) == []


def test_dry_run_reads_the_state_and_shows_finished_steps_as_done(tmp_path):
    calls: list[str] = []
    with pytest.raises(pipeline.StepFailed):
        run(tmp_path, make_steps(calls, fail_at="b"))
    state = tmp_path / "release_state_v0.6.0.json"
    before = state.read_bytes()
    calls.clear()
    seen: list[dict] = []

    def spy(name):
        step = next(s for s in make_steps(calls) if s.name == name)
        return pipeline.Step(
            name, step.description, step.apply, lambda ctx: (seen.append(dict(ctx.outputs)), step.plan(ctx))[1]
        )

    reports = run(tmp_path, [spy(n) for n in ("a", "b", "c")], dry_run=True)
    assert calls == ["plan b", "plan c"]  # a finished step is neither planned nor asked anything
    assert [r.status for r in reports] == ["done earlier", "planned", "planned"]
    assert reports[0].result == "a ok" and seen[0] == {"a": {"n": 1, "seen": [None]}}  # its outputs reach the plans
    assert state.read_bytes() == before
    run(tmp_path, make_steps([]))
    assert [r.status for r in run(tmp_path, make_steps(calls), dry_run=True)] == ["done earlier"] * 3
    with pytest.raises(ConfigError, match="with those to resume it"):
        run(tmp_path, make_steps([]), args={"increment": "major"}, dry_run=True)


def test_lock_held_by_another_process(tmp_path):
    from tests.test_runlock import holder

    with holder(tmp_path / ".release.lock"), pytest.raises(LockHeld, match="another release run holds"):
        run(tmp_path, make_steps([]))


SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from release import pipeline
    logs, slow = Path(sys.argv[1]), sys.argv[2]
    def make(name):
        def apply(ctx):
            with open(logs / "calls.txt", "a") as fh:
                fh.write(name + "\\n")
            if name == slow:
                (logs / "in-slow").write_text("x")
                time.sleep(60)
            return pipeline.StepOutcome(name + " ok")
        return pipeline.Step(name, name, apply, apply)
    pipeline.run_steps([make(n) for n in ("a", "b", "c")], release_logs=logs, command="release",
                       version="1.0.0", arguments={}, dry_run=False)
    """
)


@pytest.mark.parametrize("killed_in", ["a", "b", "c"])
def test_kill_9_in_any_step_then_rerun_converges(tmp_path, killed_in):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path), killed_in], env=env)
    deadline = time.monotonic() + 30
    while not (tmp_path / "in-slow").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / ".release.lock").exists()  # left behind by the dead run, but no longer locked
    subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), "none"], env=env, check=True)
    calls = (tmp_path / "calls.txt").read_text().split()
    order = ["a", "b", "c"]
    done_before = order[: order.index(killed_in)]
    assert calls == [*done_before, killed_in, *order[order.index(killed_in) :]]
    state = json.loads((tmp_path / "release_state_v1.0.0.json").read_text())
    run_state = state["runs"]["release"]
    assert run_state["finished"] and all(s["status"] == "done" for s in run_state["steps"].values())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x-access-token:ghs_secret@github.com/t/r.git", "https://github.com/t/r.git"),
        ("https://github.com/t/r.git", "https://github.com/t/r.git"),
        ("/tmp/origin.git", "/tmp/origin.git"),
        ("git@github.com:t/r.git", "git@github.com:t/r.git"),
    ],
)
def test_release_record_never_carries_remote_credentials(url, expected):
    from release.pipeline.record import without_credentials as _without_credentials

    assert _without_credentials(url) == expected


def test_report_table_and_step_summary_golden(golden, tmp_path, monkeypatch):
    from release.cli import write_step_summary

    reports = [
        pipeline.StepReport("ci.read", "done earlier", "4/4 models have a last good run (runs 100–105, 6 read)", None),
        pipeline.StepReport("images.promote", "done", "2 copied, 0 already there, 1 to build | VERSION 0.6.0", 1.25),
        pipeline.StepReport("pr", "failed", "GitHub answered 422", 0.5, ("https://github.com/t/r/pull/1",)),
        pipeline.StepReport("notes", "not reached", "", None),
    ]
    golden.check("pipeline/report_table.txt", pipeline.report_table(reports) + "\n")
    failed = pipeline.StepReport("images.build", "failed", "step images.build failed: " + "x" * 300 + "\nmore", 2.5)
    narrow = pipeline.report_table([*reports, failed], width=80)
    assert all(len(line) <= 80 for line in narrow.splitlines()), narrow
    assert "images.build    failed        2.5s    step images.build failed: xxx" in narrow and "…" in narrow
    markdown = pipeline.report_markdown("pre-release v0.6.0", reports)
    golden.check("pipeline/step_summary.md", markdown)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_step_summary(markdown)
    write_step_summary(markdown)
    assert summary.read_text() == (markdown + "\n") * 2  # GitHub's file is appended to, step after step


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "the file: expected an object, got a list"),
        ({"runs": []}, "runs: expected an object, got a list"),
        (
            {"runs": {"prerelease": {"steps": {"a": {"status": 1}}}}},
            "runs.prerelease.steps.a.status: expected a string",
        ),
        ({"runs": {"prerelease": {"steps": {"a": {"outputs": []}}}}}, "runs.prerelease.steps.a.outputs: expected an"),
        ({"runs": {"prerelease": {"finished": "yes"}}}, "runs.prerelease.finished: expected true or false"),
    ],
)
def test_a_state_file_of_another_shape_is_refused_by_key(tmp_path, data, message):
    path = tmp_path / "release_state_v0.6.0.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message) as err:
        run(tmp_path, make_steps([]))
    assert "not a release state file?); move it away to start over" in str(err.value)


def test_the_state_file_reads_back_as_written(tmp_path):
    with pytest.raises(pipeline.StepFailed):
        run(tmp_path, make_steps([], fail_at="b"))
    path = tmp_path / "release_state_v0.6.0.json"
    data = json.loads(path.read_text())
    assert run_state.parse(data, source=str(path)).to_json() == data
    assert data["runs"]["prerelease"]["steps"]["b"]["status"] == "failed"
