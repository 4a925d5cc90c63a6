"""`inv images.promote`, the command: request → config → plan → apply → check. The task and the images.promote step
of `inv prerelease` / `inv release` both call `promote_images`; it reports through `on_event` (`Reading`,
`Decided`, `Planned` on a dry run, the registry's copy events, `Promoted`) and leaves the printing to its caller.

The stages live in release/images/promotion_run.py (prepare: inputs and the version, no registry request;
plan_only; execute: copy, write the summaries, then VERSION), the plan in release/images/promotion.py, the
summaries in release/images/promotion_report.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release import fsio, wiring
from release.config import Config, at_least
from release.errors import ConfigError
from release.events import OnEvent, ignore
from release.images import promotion, promotion_report, promotion_run
from release.images.promotion import Mode, PromotionPlan, PromotionResult
from release.images.promotion_run import Prepared
from release.version import Increment, parse_increment

if TYPE_CHECKING:
    from release.registry import RegistryClient


@dataclass(frozen=True, kw_only=True)
class PromoteRequest:
    """What `inv images.promote` (or a composite step) asks for."""

    files: tuple[Path, ...]  # last-good files; later files win per model
    mode: Mode
    increment: Increment | None = None
    keep_existing: bool = False  # the decision on conflicts: keep every destination that holds another digest
    dry_run: bool = False
    estimate: bool = True  # a dry run estimates requests and bytes (registry reads)
    concurrency: int = 8

    @classmethod
    def from_flags(
        cls,
        last_good: str,
        *,
        dev: bool,
        release: bool,
        increment: str | None,
        keep_existing: bool,
        dry_run: bool,
        concurrency: int,
    ) -> PromoteRequest:
        """The task's flags, checked: exactly one of --dev/--release, a known increment, at least one file."""
        if dev == release:
            raise ConfigError("give exactly one of --dev or --release")
        at_least(int(concurrency), 1, "--concurrency")
        files = tuple(Path(p.strip()) for p in str(last_good).split(",") if p.strip())
        if not files:
            raise ConfigError("give at least one LAST_GOOD_JSON")
        mode: Mode = "dev" if dev else "release"
        return cls(
            files=files, mode=mode, increment=parse_increment(increment), keep_existing=keep_existing,
            dry_run=dry_run, concurrency=int(concurrency),
        )  # fmt: skip


@dataclass(frozen=True)
class Reading:
    files: int


@dataclass(frozen=True)
class Decided:
    """The inputs are read and the version decided (no registry request yet)."""

    prep: Prepared


@dataclass(frozen=True)
class Planned:
    plan: PromotionPlan
    estimates: Mapping[str, Any]


@dataclass(frozen=True)
class Copying:
    pass


@dataclass(frozen=True)
class Promoted:
    prep: Prepared
    result: PromotionResult


@dataclass(frozen=True)
class PromoteRun:
    prep: Prepared
    plan: PromotionPlan
    result: PromotionResult | None  # None on a dry run


def promote_images(
    cfg: Config,
    request: PromoteRequest,
    *,
    registry: RegistryClient | None = None,
    on_event: OnEvent = ignore,
) -> PromoteRun:
    """Plan; on a dry run stop there (with estimates); else promote, write the summaries and VERSION, and raise
    for undecided conflicts (exit 3), failed copies or a registry that did not converge."""
    registry = registry or wiring.registry_client(cfg, concurrency=request.concurrency)
    on_event(Reading(len(request.files)))
    prep = promotion_run.prepare(cfg, files=request.files, mode=request.mode, increment=request.increment)
    on_event(Decided(prep))
    if request.dry_run:
        plan = promotion_run.plan_only(
            prep, registry, keep_existing=request.keep_existing, concurrency=request.concurrency
        )
        estimates = promotion_run.estimate(plan, registry, concurrency=request.concurrency) if request.estimate else {}
        on_event(Planned(plan, estimates))
        return PromoteRun(prep, plan, None)
    on_event(Copying())
    result = promotion_run.execute(
        prep, registry, keep_existing=request.keep_existing, concurrency=request.concurrency, on_event=on_event,
        render=render_summary,
    )  # fmt: skip
    on_event(Promoted(prep, result))
    promotion.check_result(result)
    return PromoteRun(prep, result.plan, result)


def render_summary(result: PromotionResult) -> tuple[str, str]:
    """The promotion summary: its JSON text and its markdown."""
    return fsio.dump_json(promotion_report.summary_json(result)), promotion_report.summary_markdown(result)
