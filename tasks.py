"""Release tasks (invoke). Each task parses its flags and calls one function in `release.*`.

`inv --list` shows them; `inv --help NAME` documents every flag. Errors from the kit print one line and exit
non-zero (see release/cli.py).
"""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, task

from release import catalogue, spec_report, spec_update
from release.cli import load_config, optional_positional, print_json, progress, release_task, say, shown
from release.errors import ConfigError, PartialFailure

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
        "diff_out": "where the diff markdown goes (default release_logs/release_models_diff.md)",
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
@release_task
def images_audit_task(c, record=None, dev=False, concurrency=8, json=False):
    """Check that every image the catalogue (or a release record) points at exists, with its digest."""
    from release import audit, fsio, wiring

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


ci = Collection("ci")
spec = Collection("spec", spec_update_task)
images = Collection("images", images_audit_task)
git = Collection("git")

ns = Collection(ci, spec, images, git)
