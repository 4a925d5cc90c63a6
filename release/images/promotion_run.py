"""`inv images.promote`, the run: the executor of release/images/promotion.py's pure plan.

1. `prepare(cfg, ...)`: read the last-good files, decide the version (promote_state.json), load the catalogue with
   it: the targets and the CI records. No registry request.
2. `execute(prep, registry, ...)`: a pipeline, every destination at once. Each reads what its own plan needs
   (`promotion.reads_needed`: HEAD the destination and GET the newest usable CI image together, more only when
   they differ), is planned (`promotion.plan_group`, pure), and a Copy starts at once, while other destinations
   are still being read. The CI manifest read for the plan is the one copied (the client keeps it).
3. Verification without reading again: the registry's answers (the digest of every manifest PUT, checked
   against the plan by the client) stand for the destinations; a second plan over them must have no Copy left.
   `inv images.audit` reads the destinations again.
4. The summaries, the plan, then VERSION last and only when nothing is left undecided or failed.

`observe_and_plan` (dry run, `inv prerelease --dry-run`) reads the same way and plans without copying.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from release import catalogue, fsio, last_good_file
from release.config import Config
from release.errors import InputError, ReleaseError
from release.imageref import ImageRef
from release.images.promotion import (
    STATE_FILE,
    BumpState,
    CiSource,
    Copy,
    Group,
    Mode,
    Observed,
    OnEvent,
    Promotion,
    PromotionPlan,
    PromotionResult,
    Step,
    StepOutcome,
    Target,
    VersionDecision,
    group_targets,
    inputs_fingerprint,
    merge_last_good,
    plan_group,
    reads_needed,
    refuse_outside_sources,
    resolve_version,
    source_records,
    targets,
    usable_images,
)
from release.last_good_file import LastGoodRecords
from release.redact import redact_text
from release.version import Increment
from release.version import file_text as version_file_text

if TYPE_CHECKING:
    from release.registry import RegistryClient
    from release.registry_copy import CopyEstimate

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- reads


class Reads:
    """Reads only, each reference once per run, whichever destination asks first.

    A destination is read with HEAD, a CI image with GET (the client keeps the manifest for the copy). With
    `writing`, a read uses the token of the copy that may follow (push on the destination, pull on the source).
    """

    def __init__(self, registry: RegistryClient, pool: ThreadPoolExecutor, *, writing: bool) -> None:
        self._registry = registry
        self._pool = pool
        self._writing = writing
        self._lock = threading.Lock()
        self._futures: dict[tuple[bool, ImageRef], Future[str | None]] = {}

    def for_group(self, group: Group, sources: Mapping[str, CiSource]) -> Observed:
        """Read what `group` needs, round by round, → what was read for it."""
        mine: dict[ImageRef, Future[str | None]] = {}
        newest = next(iter(usable_images(group, sources)), None)
        while True:
            observed = Observed({ref: fut.result() for ref, fut in mine.items()})
            needed = reads_needed(group, sources, observed)
            if not needed:
                return observed
            for ref in needed:
                mine[ref] = self._start(ref, group.dst, newest)

    def _start(self, ref: ImageRef, dst: ImageRef, src: ImageRef | None) -> Future[str | None]:
        is_dst = ref == dst
        with self._lock:
            fut = self._futures.get((is_dst, ref))
            if fut is None:
                fut = self._pool.submit(self._read, ref, is_dst, src if is_dst else dst)
                self._futures[(is_dst, ref)] = fut
            return fut

    def _read(self, ref: ImageRef, is_dst: bool, partner: ImageRef | None) -> str | None:
        partner = partner if self._writing else None
        if is_dst:
            return self._registry.digest(ref, copy_from=partner)
        return self._registry.manifest_digest(ref, copy_to=partner)

    def everything(self) -> Observed:
        """Every reference read so far (after the run: all of them are done)."""
        with self._lock:
            items = list(self._futures.items())
        return Observed({ref: fut.result() for (_, ref), fut in items if fut.done() and not fut.exception()})


def _pools(concurrency: int) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """Destinations planned (and copied) at once, and the reads they start."""
    n = max(1, concurrency)
    return (
        ThreadPoolExecutor(max_workers=n, thread_name_prefix="promote"),
        ThreadPoolExecutor(max_workers=2 * n, thread_name_prefix="read"),
    )


def observe_and_plan(job: Promotion, registry: RegistryClient, *, concurrency: int = 8) -> PromotionPlan:
    """Reads only: read what every destination needs, then plan (dry run)."""
    groups, reads_pool = _pools(concurrency)
    with groups, reads_pool:
        reads = Reads(registry, reads_pool, writing=False)
        seen = list(groups.map(lambda g: reads.for_group(g, job.sources), group_targets(job.targets)))
    return job.plan(Observed({ref: d for o in seen for ref, d in o.digests.items()}))


# ---------------------------------------------------------------------------------------------- copies


def copy_step(step: Copy, registry: RegistryClient, emit: OnEvent) -> StepOutcome:
    """One planned copy; a kit error becomes a failed outcome (reported, not raised)."""
    emit({"event": "start", "dst": str(step.dst)})
    try:
        r = registry.copy_planned(step.src.with_digest(step.digest), step.dst, on_event=emit)
    except ReleaseError as e:
        message = redact_text(str(e))
        emit({"event": "failed", "dst": str(step.dst), "error": message})
        return StepOutcome(step, False, error=message)
    emit({"event": "done", "dst": str(step.dst), "digest": r.digest})
    return StepOutcome(
        step, True, r.digest, blobs_mounted=r.blobs_mounted, blobs_uploaded=r.blobs_uploaded,
        bytes_uploaded=r.bytes_uploaded,
    )  # fmt: skip


def apply_promotion(
    plan: PromotionPlan, registry: RegistryClient, *, concurrency: int = 8, on_event: OnEvent | None = None
) -> PromotionResult:
    """Copy every planned image (pinned to the planned digest), concurrently. Failures are collected, not
    raised: the caller writes the summary, then turns them into an exit code."""
    emit = on_event or (lambda e: None)
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="copy") as pool:
        outcomes = list(pool.map(lambda step: copy_step(step, registry, emit), plan.copies))
    return PromotionResult(plan, tuple(outcomes))


def promote(
    job: Promotion, registry: RegistryClient, *, concurrency: int = 8, on_event: OnEvent | None = None
) -> PromotionResult:
    """The pipeline: per destination, read → plan → copy, every destination at once; then verify."""
    emit = on_event or (lambda e: None)

    def one(group: Group) -> tuple[Step, StepOutcome | None]:
        step = plan_group(group, job.sources, reads.for_group(group, job.sources), keep_existing=job.keep_existing)
        emit({"event": "planned", "action": step.kind, "dst": str(step.dst)})
        return step, copy_step(step, registry, emit) if isinstance(step, Copy) else None

    groups, reads_pool = _pools(concurrency)
    with groups, reads_pool:
        reads = Reads(registry, reads_pool, writing=True)
        done = list(groups.map(one, group_targets(job.targets)))
    plan = PromotionPlan(job.mode, job.version, tuple(step for step, _ in done))
    result = PromotionResult(plan, tuple(o for _, o in done if o is not None))
    return result.with_check(job.plan(reads.everything().with_digests(result.answered())))


def estimate(plan: PromotionPlan, registry: RegistryClient, *, concurrency: int = 8) -> dict[str, CopyEstimate]:
    """Reads only: per Copy destination, what the copy would cost (for `--dry-run`)."""
    copies = plan.copies
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="estimate") as pool:
        found = list(pool.map(lambda c: registry.estimate_copy(c.src.with_digest(c.digest), c.dst), copies))
    return {str(c.dst): e for c, e in zip(copies, found, strict=True)}


# ------------------------------------------------------------------------ the run (files at the edges)


@dataclass(frozen=True)
class Prepared:
    """Everything a promote run decided before any registry request."""

    targets: tuple[Target, ...]
    sources: Mapping[str, CiSource]
    decision: VersionDecision
    unknown_models: tuple[str, ...]  # in the last-good files but not in the catalogue
    output_dir: Path
    version_file: Path
    mode: Mode

    @property
    def prefix(self) -> str:
        return self.mode

    @property
    def version(self) -> str:
        return str(self.decision.target)

    @property
    def state_path(self) -> Path:
        return self.output_dir / STATE_FILE

    def promotion(self, *, keep_existing: bool) -> Promotion:
        return Promotion(self.targets, self.sources, self.mode, self.version, keep_existing)


def read_last_good(paths: Sequence[Path]) -> tuple[list[tuple[str, LastGoodRecords]], list[tuple[str, bytes]]]:
    """Read the last-good files (names as given, for the summary) → (parsed records, raw bytes)."""
    parsed: list[tuple[str, LastGoodRecords]] = []
    raw: list[tuple[str, bytes]] = []
    for path in paths:
        data = last_good_file.read_bytes(path)
        parsed.append((Path(path).name, last_good_file.load_last_good(data, source=str(path))))
        raw.append((Path(path).name, data))
    return parsed, raw


def prepare(cfg: Config, *, files: Sequence[Path], mode: Mode, increment: Increment | None) -> Prepared:
    """Read inputs, decide the version and load the catalogue with it (no registry request)."""
    docs, raw = read_last_good(files)
    current = catalogue.read_version(cfg.version_file)
    state = read_bump_state(cfg.release_logs / STATE_FILE)
    decision = resolve_version(
        current, increment=increment, mode=mode, fingerprint=inputs_fingerprint(mode, increment, raw), state=state
    )
    cat = catalogue.load(cfg, version=decision.target)
    tgts = targets(cat.specs.values(), mode=mode, registry_map=cfg.registry_rewrite)
    sources = merge_last_good(docs, registry_map=cfg.registry_rewrite)
    refuse_outside_sources(source_records(sources), cfg.source_allow_list())
    unknown = tuple(m for m in sources if m not in cat.specs)
    return Prepared(tuple(tgts), sources, decision, unknown, cfg.release_logs, cfg.version_file, mode)


def read_bump_state(path: Path) -> BumpState | None:
    """promote_state.json, its one reader: None when it is not there or unreadable (logged; a bump then goes on as
    if there were none)."""
    if not path.exists():
        return None
    try:
        state = BumpState.parse(fsio.read_json(path))
    except InputError:
        state = None
    if state is None:
        log.warning("%s is unreadable; ignoring it", path)
    return state


def plan_only(
    prep: Prepared, registry: RegistryClient, *, keep_existing: bool = False, concurrency: int = 8
) -> PromotionPlan:
    """The dry run: read and plan, write nothing."""
    return observe_and_plan(prep.promotion(keep_existing=keep_existing), registry, concurrency=concurrency)


def execute(
    prep: Prepared,
    registry: RegistryClient,
    *,
    keep_existing: bool = False,
    concurrency: int = 8,
    on_event: OnEvent | None = None,
    render: Callable[[PromotionResult], tuple[str, str]],
) -> PromotionResult:
    """Promote (pipeline and verification), write the summaries, then (only if all went well) VERSION.

    `keep_existing`: every conflicting destination is accepted as it is (a decision recorded in the summary).
    `render(result) → (json text, markdown text)` comes from promotion_report (kept out of this module).
    """
    if prep.decision.state is not None:
        fsio.write_json(prep.state_path, prep.decision.state.to_json())
    result = promote(prep.promotion(keep_existing=keep_existing), registry, concurrency=concurrency, on_event=on_event)
    json_text, md_text = render(result)
    fsio.write_if_changed(prep.output_dir / f"{prep.prefix}_artifacts_summary.json", json_text)
    fsio.write_if_changed(prep.output_dir / f"{prep.prefix}_artifacts_summary.md", md_text)
    fsio.write_json(prep.output_dir / f"{prep.prefix}_promotion_plan.json", result.plan.to_json())
    if not result.ok:
        return result
    if prep.decision.target != prep.decision.current:
        fsio.write_if_changed(prep.version_file, version_file_text(prep.decision.target))
    if prep.decision.state is not None:
        fsio.write_json(prep.state_path, replace(prep.decision.state, status="done").to_json())
    return PromotionResult(result.plan, result.outcomes, result.unconverged, version_written=True)
