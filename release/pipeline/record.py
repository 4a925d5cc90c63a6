"""The record step of `inv release`: release_logs/release_record_vX.Y.Z.json — what was released (the release
artifacts summary after the builds), where it came from, and how to check it (`inv images.audit --record`)."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from release import __version__, artifacts_summary, fsio, notes, record
from release.config import Config
from release.gitflow.files import ReleaseFiles
from release.gitflow.names import prerelease_branch, rc_branch, release_tag
from release.pipeline.run import Run, last_good_of, rel
from release.pipeline.runner import RunContext, Step, StepOutcome
from release.version import Version


def record_step(run: Run) -> Step:
    def go(ctx: RunContext, dry_run: bool) -> StepOutcome:
        cfg = run.cfg
        path = record_path(cfg, run.version)
        if dry_run:
            return StepOutcome(f"would write {rel(cfg, path)}")
        rec = build_record(run, ctx)
        fsio.write_json(path, rec.to_json())
        counts = Counter(i.how for i in rec.images)
        how = ", ".join(f"{n} {k}" for k, n in counts.items())
        return StepOutcome(f"{len(rec.images)} image(s) recorded ({how})", {"record": str(path)}, (rel(cfg, path),))

    return Step("record", "write the release record", lambda ctx: go(ctx, False), lambda ctx: go(ctx, True))


def record_path(cfg: Config, version: Version) -> Path:
    return cfg.release_logs / f"release_record_v{version}.json"


def build_record(run: Run, ctx: RunContext) -> record.ReleaseRecord:
    """The record of this release, from the checkout, the summaries and the earlier steps' outputs."""
    cfg = run.cfg
    git = run.clients.git
    pre, rc = prerelease_branch(run.version), rc_branch(run.version)
    summary = artifacts_summary.read_if_exists(cfg.release_logs / "release_artifacts_summary.json")
    files = ReleaseFiles.from_config(cfg, last_good=last_good_of(ctx))
    head = git.rev_parse("HEAD")
    return record.ReleaseRecord(
        version=str(run.version),
        created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool_version=__version__,
        tag=release_tag(run.version),
        commit=head,
        remote=cfg.git_remote,
        remote_url=without_credentials(git.remote_url(cfg.git_remote)),
        branches={
            pre: git.rev_parse(f"refs/remotes/{cfg.git_remote}/{pre}") or git.rev_parse(f"refs/heads/{pre}"),
            rc: head,
        },
        catalogue_path=rel(cfg, cfg.catalogue_path),
        catalogue_sha256=hashlib.sha256(cfg.catalogue_path.read_bytes()).hexdigest(),
        last_good=rel(cfg, last_good_of(ctx)),
        ci_runs=tuple(notes.ci_runs_used(files.last_good_records() or {})),
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


def without_credentials(url: str | None) -> str | None:
    """`https://user:token@host/path` → `https://host/path`: a record never carries a credential."""
    if not url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    host_and_path = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
    return f"{scheme}://{host_and_path}"
