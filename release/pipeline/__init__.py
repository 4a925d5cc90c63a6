"""`inv prerelease` and `inv release`: the runbook as one command each, resumable.

  runner.py      named steps, the state file (release/run_state.py), the lock, resume; the end table (knows no
                 step)
  run.py         one invocation: its settings, clients and dry-run scratch copies; `execute` runs the steps
  steps.py       each step calls the command its step task calls (ci.read, git.*, spec.update, images.*)
  record.py      the release record step
  prerelease.py  `inv prerelease`: the request, the steps, `run_prerelease`
  release.py     `inv release`: the request, the steps, `run_release`

Every step has an `apply` and a `plan`; a dry run plans every step and writes nothing anywhere (a dry-run ci.read
reads into a temporary folder that is deleted afterwards).
"""

from release.pipeline.runner import (
    RunContext,
    Step,
    StepFailed,
    StepOutcome,
    StepReport,
    find_finished,
    find_resumable,
    finished_steps,
    lock_path,
    read_outputs,
    report_markdown,
    report_table,
    run_steps,
    state_path,
)

__all__ = [
    "RunContext",
    "Step",
    "StepFailed",
    "StepOutcome",
    "StepReport",
    "find_finished",
    "find_resumable",
    "finished_steps",
    "lock_path",
    "read_outputs",
    "report_markdown",
    "report_table",
    "run_steps",
    "state_path",
]
