"""Release tasks (invoke). Each task parses its flags and calls one function in `release.*`.

`inv --list` shows them; `inv --help NAME` documents every flag. Errors from the kit print one line and exit
non-zero (see release/cli.py).
"""

from __future__ import annotations

from invoke import Collection, task

from release import catalogue, spec_update
from release.cli import load_config, release_task, say, shown

# ------------------------------------------------------------------------------------------------ spec


@task(
    name="update",
    help={
        "output_only": "only regenerate model_specs_output.json and the README Model Support table",
        "dry_run": "print what would change and write nothing",
        "output_json": "where the expanded catalogue goes (default model_specs_output.json)",
        "readme": "README whose Model Support table is regenerated (default README.md)",
    },
)
@release_task
def spec_update_task(c, output_only=False, dry_run=False, output_json=None, readme=None):
    """Apply last good CI results to the catalogue; regenerate model_specs_output.json and the README table."""
    cfg = load_config(output_json_path=output_json, readme_path=readme)
    if not output_only:
        from release.errors import ConfigError

        raise ConfigError("give --output-only (updating from a last-good JSON is not available yet)")
    cat = catalogue.load(cfg)
    changes = spec_update.plan_outputs_for(cfg, cat)
    if not changes:
        say(f"outputs are up to date with {cfg.catalogue_path.name} (VERSION {cat.version}, {len(cat.specs)} specs)")
        return
    for change in changes:
        say(f"{'would ' if dry_run else ''}{change.label} {shown(cfg, change.path)}")
    if not dry_run:
        spec_update.apply_file_changes(changes)


ci = Collection("ci")
spec = Collection("spec", spec_update_task)
images = Collection("images")
git = Collection("git")

ns = Collection(ci, spec, images, git)
