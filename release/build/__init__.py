"""`inv images.build`: the vLLM image chains base → cloud → dev (→ release), planned, then built across Docker
engines and pushed. The parts, in the order a run uses them:

- `units`: the catalogue's (tt-metal, vLLM) pairs as work units, and every image's name (pure);
- `plan`: the decision table per image and the BuildPlan (pure);
- `observe`: what engines and the registry hold, asked only as far as the table needs;
- `scheduler`: groups of units spread over engines (`--jobs`, an engine that goes down);
- `apply`: each unit's chain on its engine (pull, resolve, build with a log), then `push`;
- `push`: one verified push that never moves a tag that appeared since planning;
- `result`: the events and outcomes of a run (pure);
- `report`: the decision table, progress lines, the result table and the build summary (pure);
- `recipes` and `tt_metal`: where Dockerfiles and contexts come from, and tt-metal commits resolved to SHAs;
- `run`: the command the task and `inv prerelease`/`inv release` call: request → plan → apply → check.

This file imports nothing, so importing one pure part loads no I/O.
"""
