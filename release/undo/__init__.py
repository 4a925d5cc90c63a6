"""`inv prerelease --undo` / `inv release --undo`: take back a run that went wrong, from what it recorded.

ledger.py    what a composite run records for its undo (the `ledger` of its section in the state file)
evidence.py  pure: the state file (and the release record) → what the run provably created
plan.py      pure: plan_undo(evidence, observed) → UndoPlan, in reverse order of creation, and its rendering
observe.py   reads only: git, the remote, GitHub and the registries → Observed
apply.py     the executor: each step re-checked right before it acts, its own state file, the archive
run.py       the command: evidence → observe → plan → (apply → observe → plan again: nothing may be left)

The package's `__init__` imports nothing, so the composite steps (release/pipeline/steps.py) record into the
ledger cheaply.
"""
