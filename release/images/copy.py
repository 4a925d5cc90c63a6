"""`inv images.copy`: copy images named by hand (SRC DST, or the pairs of a summary), with the promotion's plan
steps (Copy, Skip, Conflict; a missing source is listed as NeedsBuild) and executor.

`copy_images` is the command (request → config → plan → apply → check); it reports through `on_event` (`Planned`,
the registry's copy events, `Copied`) and leaves the printing to the task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release import artifacts_summary, events, fsio, wiring
from release.config import Config, at_least
from release.errors import ConfigError, InputError
from release.imageref import ImageRef, ImageRefError
from release.images import promotion_report, promotion_run
from release.images.promotion import (
    CiSource,
    Conflict,
    Copy,
    NeedsBuild,
    Observed,
    OnEvent,
    PromotionPlan,
    PromotionResult,
    Skip,
    Step,
    check_result,
    refuse_outside_sources,
)
from release.images.promotion_run import apply_promotion

if TYPE_CHECKING:
    from release.registry import RegistryClient


@dataclass(frozen=True)
class CopyRequest:
    """One `images.copy` pair (pure)."""

    src: ImageRef
    dst: ImageRef
    label: str = ""


def plan_copies(pairs: Sequence[CopyRequest], observed: Observed, *, force_same_digest: bool = False) -> PromotionPlan:
    """The `images.copy` plan: Copy when DST is missing, Skip when it has the source's digest, Conflict when it
    has another; a missing source is an error listed as NeedsBuild (nothing to copy from)."""
    steps: list[Step] = []
    for p in pairs:
        label = (p.label or "-",)
        src_digest = observed.digest(p.src)
        have = observed.digest(p.dst)
        source = CiSource(model_id=p.label, image=p.src, file="")
        if src_digest is None:
            steps.append(NeedsBuild(p.dst, label, ((label[0], f"source {p.src} not found"),)))
        elif have is None or (have == src_digest and force_same_digest):
            steps.append(Copy(p.dst, p.src, src_digest, label, source))
        elif have == src_digest:
            steps.append(Skip(p.dst, have, label, src=p.src, source=source))
        else:
            steps.append(Conflict(p.dst, have, p.src, src_digest, label, source))
    return PromotionPlan("copy", "", tuple(steps))


def pairs_from_document(doc: Any, *, source: str, registry_map: Iterable[tuple[str, str]] = ()) -> list[CopyRequest]:
    """(src, dst) pairs from a hand-edited file: a promotion summary (`copied_images: {dst: src}`), an object
    with `pairs: [{"src", "dst"}]`, or a list of `{"src", "dst"}` objects or `[src, dst]` pairs."""
    rewrite = tuple(registry_map)
    raw: list[tuple[Any, Any]] = []
    if isinstance(doc, Mapping) and "copied_images" in doc:
        raw = [(src, dst) for dst, src in artifacts_summary.parse(doc, source=source).copied.items()]
    else:
        items = doc.get("pairs") if isinstance(doc, Mapping) else doc
        if not isinstance(items, list):
            raise InputError(
                f"{source}: expected a summary with copied_images {{dst: src}}, or a list of {{src, dst}} pairs"
            )
        for n, item in enumerate(items, 1):
            if isinstance(item, Mapping) and "src" in item and "dst" in item:
                raw.append((item["src"], item["dst"]))
            elif isinstance(item, list) and len(item) == 2:
                raw.append((item[0], item[1]))
            else:
                raise InputError(f"{source}: pair {n} is not {{src, dst}} or [src, dst]")
    out = []
    for n, (src, dst) in enumerate(raw, 1):
        if not isinstance(src, str) or not isinstance(dst, str):
            raise InputError(f"{source}: pair {n}: src and dst must be image names (strings)")
        try:
            out.append(
                CopyRequest(ImageRef.parse(src).rewrite(rewrite), ImageRef.parse(dst).rewrite(rewrite), f"pair {n}")
            )
        except ImageRefError as e:
            raise InputError(f"{source}: pair {n}: {e}") from None
    if not out:
        raise InputError(f"{source}: no (src, dst) pairs to copy")
    return out


def plan_copy_requests(
    pairs: Sequence[CopyRequest],
    registry: RegistryClient,
    *,
    concurrency: int = 8,
    force_same_digest: bool = False,
    writing: bool = False,
) -> PromotionPlan:
    """Reads only: GET every source (kept for the copy) and HEAD every destination, then plan. `writing`: a copy
    follows, so the reads use its token."""

    def read(p: CopyRequest) -> dict[ImageRef, str | None]:
        src = registry.manifest_digest(p.src, copy_to=p.dst if writing else None)
        return {p.src: src, p.dst: registry.digest(p.dst, copy_from=p.src if writing else None)}

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="observe") as pool:
        seen = list(pool.map(read, pairs))
    observed = Observed({ref: d for pair in seen for ref, d in pair.items()})
    return plan_copies(pairs, observed, force_same_digest=force_same_digest)


def apply_copies(
    plan: PromotionPlan,
    pairs: Sequence[CopyRequest],
    registry: RegistryClient,
    *,
    concurrency: int = 8,
    on_event: OnEvent | None = None,
) -> PromotionResult:
    """Copy, then plan again over what the registry answered: nothing may be left to copy."""
    result = apply_promotion(plan, registry, concurrency=concurrency, on_event=on_event)
    after = _seen_by(plan, pairs).with_digests(result.answered())
    return result.with_check(plan_copies(pairs, after))


def _seen_by(plan: PromotionPlan, pairs: Sequence[CopyRequest]) -> Observed:
    """The digests the plan was made from (one step per pair, in order)."""
    seen: dict[ImageRef, str | None] = {}
    for p, step in zip(pairs, plan.steps, strict=True):
        if isinstance(step, Copy):
            seen.update({p.src: step.digest, p.dst: None})
        elif isinstance(step, Skip):
            seen.update({p.src: step.digest, p.dst: step.digest})
        elif isinstance(step, Conflict):
            seen.update({p.src: step.src_digest, p.dst: step.dst_digest})
        else:
            seen[p.src] = None
    return Observed(seen)


# ------------------------------------------------------------------------------------------------ the command


@dataclass(frozen=True, kw_only=True)
class CopyImagesRequest:
    src: str | None = None
    dst: str | None = None
    from_summary: Path | None = None  # every (src, dst) pair of this file instead
    dry_run: bool = False
    force_same_digest: bool = False
    concurrency: int = 8

    def __post_init__(self) -> None:
        at_least(self.concurrency, 1, "--concurrency")
        if self.from_summary is not None and (self.src or self.dst):
            raise ConfigError("give SRC DST or --from-summary FILE, not both")
        if self.from_summary is None and (not self.src or not self.dst):
            raise ConfigError("give SRC and DST (e.g. inv images.copy ghcr.io/a/b:1 ghcr.io/c/d:1), or --from-summary")

    def pairs(self, cfg: Config) -> list[CopyRequest]:
        """The pairs to copy, after the registry rewrite; a summary's sources must be on allowed registries."""
        if self.from_summary is None:
            src, dst = ImageRef.parse(self.src or ""), ImageRef.parse(self.dst or "")
            return [CopyRequest(src.rewrite(cfg.registry_rewrite), dst.rewrite(cfg.registry_rewrite))]
        name = str(self.from_summary)
        pairs = pairs_from_document(fsio.read_json(self.from_summary), source=name, registry_map=cfg.registry_rewrite)
        refuse_outside_sources([(f"{name}: {p.label}", p.src) for p in pairs], cfg.source_allow_list())
        return pairs


@dataclass(frozen=True)
class Planned:
    plan: PromotionPlan
    estimates: Mapping[str, Any]  # on a dry run
    dry_run: bool


@dataclass(frozen=True)
class Copied:
    plan: PromotionPlan
    result: PromotionResult
    summary: Path | None  # copy_artifacts_summary.md (with --from-summary)


def copy_images(
    cfg: Config,
    request: CopyImagesRequest,
    *,
    registry: RegistryClient | None = None,
    on_event: events.OnEvent = events.ignore,
) -> PromotionResult | None:
    """Plan (registry reads only); on a dry run stop there, with estimates. Else copy, write the summary of a
    --from-summary copy, and raise for a missing source, a conflict or a failed copy. None on a dry run."""
    pairs = request.pairs(cfg)
    registry = registry or wiring.registry_client(cfg, concurrency=request.concurrency)
    plan = plan_copy_requests(
        pairs, registry, concurrency=request.concurrency, force_same_digest=request.force_same_digest,
        writing=not request.dry_run,
    )  # fmt: skip
    if request.dry_run:
        on_event(Planned(plan, promotion_run.estimate(plan, registry, concurrency=request.concurrency), True))
        return None
    on_event(Planned(plan, {}, False))
    result = apply_copies(plan, pairs, registry, concurrency=request.concurrency, on_event=on_event)
    summary = None
    if request.from_summary is not None:
        summary = cfg.release_logs / "copy_artifacts_summary.md"
        fsio.write_if_changed(summary.with_suffix(".json"), fsio.dump_json(promotion_report.summary_json(result)))
        fsio.write_if_changed(summary, promotion_report.copy_summary_markdown(result))
    on_event(Copied(plan, result, summary))
    missing = plan.of(NeedsBuild)
    if missing:
        raise InputError("; ".join(reason for b in missing for _, reason in b.reasons) + ": check SRC")
    check_result(result, decision_flag=None)
    return result
