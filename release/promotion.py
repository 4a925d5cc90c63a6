"""`inv images.promote`: copy Models CI images to their dev/release names, registry to registry.

A pipeline of named steps:
1. `merge_last_good(docs)` (pure): one CI record per model from several last-good files; later files win.
2. `targets(specs)` (pure): each catalogue model's destination (VERSION after the bump; `-dev-` or
   `-release-`; explicit media/forge images as written) and the commits it must carry.
3. `observe(refs, registry)` (reads only): the digest of every destination and CI image.
4. `plan_promotion(targets, sources, observed)` (pure): one step per destination: Copy, Skip, Conflict or
   NeedsBuild. Models sharing a destination are grouped.
5. `apply_promotion(plan, registry)`: copies concurrently, never moving an existing tag.
6. Observe and plan again: an empty second plan (no Copy left) proves convergence.

`resolve_version(...)` (pure) decides the version a run bumps to, using a small state file so an interrupted
run, started again with the same arguments, finishes the same bump instead of bumping twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from release import catalogue, fsio
from release.config import Config
from release.errors import InputError, PartialFailure, RegistryError, ReleaseError, TagConflict
from release.imageref import ImageRef, ImageRefError, SourceAllowList
from release.imagetags import parse_commit_tag, same_commit
from release.redact import redact_text
from release.version import Version
from release.version import file_text as version_file_text

log = logging.getLogger(__name__)

Mode = Literal["dev", "release"]
PlanKind = Literal["dev", "release", "copy"]
OnEvent = Callable[[dict[str, Any]], None]
STATE_FILE = "promote_state.json"


# ----------------------------------------------------------------------------------------- inputs (pure)


@dataclass(frozen=True)
class CiSource:
    """One model's last-good CI record, reduced to what promotion needs."""

    model_id: str
    image: ImageRef | None
    file: str  # the last-good file it came from
    run_url: str | None = None
    run_number: int | None = None
    job_url: str | None = None
    problem: str | None = None  # why the record cannot be used (unparseable image...)

    def to_json(self) -> dict[str, Any]:
        return {
            "image": str(self.image) if self.image else None,
            "file": self.file,
            "ci_run_url": self.run_url,
            "ci_run_number": self.run_number,
            "ci_job_url": self.job_url,
        }


def merge_last_good(
    docs: Sequence[tuple[str, Mapping[str, Any]]], *, registry_map: Iterable[tuple[str, str]] = ()
) -> dict[str, CiSource]:
    """Several last-good JSON documents (name, content) → one CiSource per model; later documents win.

    An empty record (`{}`) does not override an earlier non-empty one: it means "no passing run in that file".
    """
    rewrite = tuple(registry_map)
    out: dict[str, CiSource] = {}
    for name, doc in docs:
        if not isinstance(doc, Mapping):
            raise InputError(f"{name}: expected a JSON object of model_id → last-good record")
        for model_id, record in doc.items():
            if not record:
                continue
            if not isinstance(record, Mapping):
                raise InputError(f"{name}: the record of {model_id} is not an object")
            raw = record.get("docker_image")
            image: ImageRef | None = None
            problem = None
            if not raw:
                problem = "the CI record has no docker_image"
            elif not isinstance(raw, str):
                problem = f"CI docker_image is not a string ({type(raw).__name__})"
            else:
                try:
                    image = ImageRef.parse(raw).rewrite(rewrite)
                except ImageRefError as e:
                    problem = f"CI docker_image is not an image reference ({e})"
            run_number = record.get("ci_run_number")
            out[model_id] = CiSource(
                model_id=model_id,
                image=image,
                file=name,
                run_url=record.get("ci_run_url"),
                run_number=int(run_number)
                if isinstance(run_number, (int, str)) and str(run_number).isdigit()
                else None,
                job_url=record.get("ci_job_url"),
                problem=problem,
            )
    return out


def refuse_outside_sources(records: Iterable[tuple[str, ImageRef]], allow: SourceAllowList) -> None:
    """Refuse records (label, source image) whose image is not covered by the allow-list: one line per record,
    raised before any request goes to their hosts (dry runs included)."""
    lines = [
        f"{label} names {image} on host {image.registry}, outside RELEASE_SOURCE_REGISTRIES ({allow}); refusing "
        "to contact it"
        for label, image in records
        if not allow.allows(image)
    ]
    if len(lines) == 1:
        raise InputError(lines[0])
    if lines:
        raise InputError(f"{len(lines)} records name images outside the allowed sources:\n  " + "\n  ".join(lines))


def source_records(sources: Mapping[str, CiSource]) -> list[tuple[str, ImageRef]]:
    """(label, image) of every CI record that names an image, for `refuse_outside_sources`."""
    return [(f"{s.file}: the CI record of {s.model_id}", s.image) for s in sources.values() if s.image is not None]


class SpecLike(Protocol):
    """What promotion needs from a catalogue ModelSpec."""

    @property
    def model_id(self) -> str: ...
    @property
    def tt_metal_commit(self) -> str: ...
    @property
    def vllm_commit(self) -> str | None: ...
    @property
    def has_explicit_image(self) -> bool: ...
    def image_for(self, *, dev: bool) -> str: ...


@dataclass(frozen=True)
class Target:
    model_id: str
    dst: ImageRef
    tt_metal_commit: str
    vllm_commit: str | None


def targets(specs: Iterable[SpecLike], *, mode: Mode, registry_map: Iterable[tuple[str, str]] = ()) -> list[Target]:
    """Each model's destination, in catalogue order. The catalogue is loaded with the target VERSION, so the
    default images carry it already; explicit images (media, forge) are used as written (W-24)."""
    rewrite = tuple(registry_map)
    out = []
    for spec in specs:
        dst = ImageRef.parse(spec.image_for(dev=mode == "dev")).rewrite(rewrite)
        out.append(Target(spec.model_id, dst, spec.tt_metal_commit, spec.vllm_commit))
    return out


# ------------------------------------------------------------------------------------ tag commits (pure)


def commit_mismatch(target: Target, src: ImageRef) -> str | None:
    """Why the CI image's tag does not carry the catalogue's commits, or None if it does."""
    if src.tag is None:
        return f"CI image {src} has no tag to read commits from"
    parsed = parse_commit_tag(src.tag, has_vllm=target.vllm_commit is not None)
    if parsed is None:
        want = "VERSION-TTMETAL-VLLM[-ID]" if target.vllm_commit else "VERSION-TTMETAL[-ID]"
        return f"cannot read commits from CI tag {src.tag!r} (expected {want})"
    if not same_commit(target.tt_metal_commit, parsed.tt_metal):
        return f"tt-metal commit differs: catalogue {target.tt_metal_commit}, CI image {parsed.tt_metal}"
    if target.vllm_commit and not same_commit(target.vllm_commit, parsed.vllm or ""):
        return f"vLLM commit differs: catalogue {target.vllm_commit}, CI image {parsed.vllm}"
    return None


# -------------------------------------------------------------------------------------------- observe


class RegistryReader(Protocol):
    def digest(self, ref: ImageRef) -> str | None: ...


class RegistryWriter(RegistryReader, Protocol):
    def copy(
        self,
        src: ImageRef,
        dst: ImageRef,
        *,
        on_event: OnEvent | None = None,
        expect_digest: str | None = None,
        force: bool = False,
    ) -> Any: ...


@dataclass(frozen=True)
class Observed:
    """Digests seen in the registries (None: the tag does not exist)."""

    digests: Mapping[ImageRef, str | None]

    def digest(self, ref: ImageRef) -> str | None:
        return self.digests.get(ref)


def refs_to_observe(tgts: Sequence[Target], sources: Mapping[str, CiSource]) -> list[ImageRef]:
    seen: dict[ImageRef, None] = {}
    for t in tgts:
        seen[t.dst] = None
        src = sources.get(t.model_id)
        if src is not None and src.image is not None and src.problem is None:
            seen[src.image] = None
    return list(seen)


def observe(refs: Iterable[ImageRef], registry: RegistryReader, *, concurrency: int = 8) -> Observed:
    """HEAD every reference once, concurrently (reads only)."""
    unique = list(dict.fromkeys(refs))
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="observe") as pool:
        digests = list(pool.map(registry.digest, unique))
    return Observed(dict(zip(unique, digests, strict=True)))


# ----------------------------------------------------------------------------------------- plan (pure)


@dataclass(frozen=True)
class Candidate:
    model_id: str
    source: CiSource
    digest: str | None


@dataclass(frozen=True)
class Copy:
    dst: ImageRef
    src: ImageRef
    digest: str
    models: tuple[str, ...]
    source: CiSource
    alternatives: tuple[str, ...] = ()  # other CI images for this destination that were not chosen
    kind: Literal["copy"] = "copy"


@dataclass(frozen=True)
class Skip:
    dst: ImageRef
    digest: str
    models: tuple[str, ...]
    src: ImageRef | None = None  # set when the destination already holds this CI image
    source: CiSource | None = None
    reasons: tuple[tuple[str, str], ...] = ()  # why no CI image applies (without CI reference)
    kind: Literal["skip"] = "skip"


@dataclass(frozen=True)
class Conflict:
    dst: ImageRef
    dst_digest: str
    src: ImageRef
    src_digest: str
    models: tuple[str, ...]
    source: CiSource
    kind: Literal["conflict"] = "conflict"


@dataclass(frozen=True)
class NeedsBuild:
    dst: ImageRef
    models: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...]  # (model_id, reason)
    kind: Literal["build"] = "build"


Step = Copy | Skip | Conflict | NeedsBuild


@dataclass(frozen=True)
class PromotionPlan:
    mode: PlanKind
    version: str
    steps: tuple[Step, ...]

    def of(self, kind: type[Any]) -> list[Any]:
        return [s for s in self.steps if isinstance(s, kind)]

    @property
    def copies(self) -> list[Copy]:
        return self.of(Copy)

    @property
    def conflicts(self) -> list[Conflict]:
        return self.of(Conflict)

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "version": self.version, "steps": [step_json(s) for s in self.steps]}


def step_json(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"action": step.kind, "dst": str(step.dst), "models": list(step.models)}
    if isinstance(step, Copy):
        out.update(src=str(step.src), digest=step.digest, source=step.source.to_json())
        if step.alternatives:
            out["alternatives"] = list(step.alternatives)
    elif isinstance(step, Skip):
        out.update(digest=step.digest, src=str(step.src) if step.src else None)
        if step.reasons:
            out["reasons"] = dict(step.reasons)
    elif isinstance(step, Conflict):
        out.update(dst_digest=step.dst_digest, src=str(step.src), src_digest=step.src_digest)
    else:
        out["reasons"] = dict(step.reasons)
    return out


def _why_not(target: Target, source: CiSource | None, observed: Observed) -> str | None:
    if source is None:
        return "no Models CI record"
    if source.problem or source.image is None:
        return source.problem or "the CI record has no docker_image"
    if observed.digest(source.image) is None:
        return f"CI image {source.image} not found"
    return commit_mismatch(target, source.image)


def plan_promotion(
    tgts: Sequence[Target], sources: Mapping[str, CiSource], observed: Observed, *, mode: Mode, version: str
) -> PromotionPlan:
    """Decide, per destination, what to do. Pure: everything it needs is in its arguments."""
    groups: dict[ImageRef, list[Target]] = {}
    for t in tgts:
        groups.setdefault(t.dst, []).append(t)
    steps: list[Step] = []
    for dst, members in groups.items():
        models = tuple(t.model_id for t in members)
        valid: list[Candidate] = []
        reasons: list[tuple[str, str]] = []
        for t in members:
            src = sources.get(t.model_id)
            why = _why_not(t, src, observed)
            if why is None and src is not None and src.image is not None:
                valid.append(Candidate(t.model_id, src, observed.digest(src.image)))
            else:
                reasons.append((t.model_id, why or "unknown"))
        have = observed.digest(dst)
        if have is not None:
            if not valid:
                steps.append(Skip(dst, have, models, reasons=tuple(reasons)))
                continue
            same = next((c for c in valid if c.digest == have), None)
            if same is not None:
                steps.append(Skip(dst, have, models, src=same.source.image, source=same.source))
            else:
                first = valid[0]
                assert first.source.image is not None and first.digest is not None
                steps.append(Conflict(dst, have, first.source.image, first.digest, models, first.source))
            continue
        if not valid:
            steps.append(NeedsBuild(dst, models, tuple(reasons)))
            continue
        # The newest CI run wins (all candidates carry the catalogue's commits); ties keep catalogue order.
        chosen = max(valid, key=lambda c: c.source.run_number if c.source.run_number is not None else -1)
        assert chosen.source.image is not None and chosen.digest is not None
        others = tuple(
            dict.fromkeys(str(c.source.image) for c in valid if c.digest != chosen.digest and c.source.image)
        )
        steps.append(Copy(dst, chosen.source.image, chosen.digest, models, chosen.source, others))
    return PromotionPlan(mode, version, tuple(steps))


# ------------------------------------------------------------------------------------------------ apply


@dataclass(frozen=True)
class StepOutcome:
    step: Step
    ok: bool
    digest: str | None = None
    error: str | None = None
    blobs_mounted: int = 0
    blobs_uploaded: int = 0
    bytes_uploaded: int = 0


@dataclass(frozen=True)
class PromotionResult:
    plan: PromotionPlan
    outcomes: tuple[StepOutcome, ...]
    unconverged: tuple[str, ...] = ()  # destinations a second plan still wants to copy
    version_written: bool = False

    @property
    def failures(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.plan.conflicts and not self.unconverged

    def outcome(self, step: Step) -> StepOutcome | None:
        return next((o for o in self.outcomes if o.step is step), None)

    def with_check(self, second: PromotionPlan) -> PromotionResult:
        return PromotionResult(self.plan, self.outcomes, tuple(str(c.dst) for c in second.copies), self.version_written)


def apply_promotion(
    plan: PromotionPlan,
    registry: RegistryWriter,
    *,
    concurrency: int = 8,
    on_event: OnEvent | None = None,
    force: bool = False,
) -> PromotionResult:
    """Copy every planned image (pinned to the planned digest), concurrently. Failures are collected, not
    raised: the caller writes the summary, then turns them into an exit code."""
    emit = on_event or (lambda e: None)
    copies = plan.copies

    def one(step: Copy) -> StepOutcome:
        emit({"event": "start", "dst": str(step.dst)})
        try:
            r = registry.copy(
                step.src.with_digest(step.digest), step.dst, on_event=emit, expect_digest=step.digest, force=force
            )
        except ReleaseError as e:
            message = redact_text(str(e))
            emit({"event": "failed", "dst": str(step.dst), "error": message})
            return StepOutcome(step, False, error=message)
        emit({"event": "done", "dst": str(step.dst), "digest": r.digest})
        return StepOutcome(
            step, True, r.digest, blobs_mounted=r.blobs_mounted, blobs_uploaded=r.blobs_uploaded,
            bytes_uploaded=r.bytes_uploaded,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="copy") as pool:
        outcomes = list(pool.map(one, copies))
    return PromotionResult(plan, tuple(outcomes))


# ------------------------------------------------------------------------------------- version (pure)


@dataclass(frozen=True)
class VersionDecision:
    current: Version
    target: Version
    note: str
    state: dict[str, Any] | None  # the state to record while applying (None: nothing to record)


def inputs_fingerprint(mode: Mode, increment: str | None, docs: Sequence[tuple[str, bytes]]) -> str:
    """Identifies "the same arguments": mode, increment and the bytes of every last-good file, in order."""
    h = hashlib.sha256(f"{mode}\0{increment}\0".encode())
    for name, data in docs:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def resolve_version(
    current: Version, *, increment: str | None, mode: Mode, fingerprint: str, state: Mapping[str, Any] | None
) -> VersionDecision:
    """The version this run promotes to.

    Without `--increment` it is VERSION. With it, a state file left by a run with the same arguments that
    was bumping from or to the current VERSION decides (resume, or nothing left to bump); otherwise VERSION
    is bumped once.
    """
    if increment is None:
        return VersionDecision(current, current, f"VERSION {current} (no --increment)", None)
    previous = _previous_bump(state, fingerprint)
    if previous is not None:
        frm, to = previous
        if current == frm:
            record = {**dict(state or {}), "status": "applying"}
            return VersionDecision(current, to, f"resuming the bump {frm} → {to} of an interrupted run", record)
        if current == to:
            record = {**dict(state or {}), "status": "applying"}
            note = f"VERSION is already {to} from a run with the same arguments; not bumping again"
            return VersionDecision(current, to, note, record)
    target = current.bump(increment)
    record = {
        "mode": mode,
        "increment": increment,
        "from_version": str(current),
        "to_version": str(target),
        "fingerprint": fingerprint,
        "status": "applying",
    }
    return VersionDecision(current, target, f"VERSION {current} → {target} ({increment})", record)


def _previous_bump(state: Mapping[str, Any] | None, fingerprint: str) -> tuple[Version, Version] | None:
    if not state or state.get("fingerprint") != fingerprint:
        return None
    try:
        return Version.parse(str(state["from_version"])), Version.parse(str(state["to_version"]))
    except (KeyError, InputError):
        return None


def state_text(state: Mapping[str, Any]) -> str:
    return json.dumps(dict(state), indent=2) + "\n"


# ------------------------------------------------------------------------------------- copy requests


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
    if isinstance(doc, Mapping) and isinstance(doc.get("copied_images"), Mapping):
        raw = [(src, dst) for dst, src in doc["copied_images"].items()]
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


def plan_summary_counts(plan: PromotionPlan) -> dict[str, int]:
    return {
        "copy": len(plan.copies),
        "skip": len(plan.of(Skip)),
        "conflict": len(plan.conflicts),
        "build": len(plan.of(NeedsBuild)),
    }


# ------------------------------------------------------------------------ the run (files at the edges)


class RegistryEstimator(RegistryReader, Protocol):
    def estimate_copy(self, src: ImageRef, dst: ImageRef) -> Any: ...


@dataclass(frozen=True)
class Prepared:
    """Everything a promote run decided before writing anything."""

    plan: PromotionPlan
    targets: tuple[Target, ...]
    sources: Mapping[str, CiSource]
    decision: VersionDecision
    unknown_models: tuple[str, ...]  # in the last-good files but not in the catalogue
    output_dir: Path
    version_file: Path
    mode: Mode

    @property
    def prefix(self) -> str:
        return self.plan.mode

    @property
    def state_path(self) -> Path:
        return self.output_dir / STATE_FILE


def read_last_good(paths: Sequence[Path]) -> tuple[list[tuple[str, Mapping[str, Any]]], list[tuple[str, bytes]]]:
    """Read the last-good files (names as given, for the summary) → (parsed, raw bytes)."""
    parsed: list[tuple[str, Mapping[str, Any]]] = []
    raw: list[tuple[str, bytes]] = []
    for path in paths:
        if not Path(path).exists():
            raise InputError(f"{path}: last-good file not found (write it with `inv ci.read`)")
        data = fsio.read_bytes(path, what="last-good file")
        try:
            doc = json.loads(fsio.decode(data, source=str(path), what="last-good file"))
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
        parsed.append((Path(path).name, doc))
        raw.append((Path(path).name, data))
    return parsed, raw


def prepare(
    cfg: Config,
    *,
    files: Sequence[Path],
    mode: Mode,
    increment: str | None,
    registry: RegistryReader,
    concurrency: int = 8,
) -> Prepared:
    """Read inputs, decide the version, load the catalogue with it, observe the registries and plan."""
    if increment is not None and increment not in ("major", "minor", "patch"):
        raise InputError(f"--increment must be major, minor or patch (got {increment!r})")
    docs, raw = read_last_good(files)
    current = catalogue.read_version(cfg.version_file)
    state_path = cfg.release_logs / STATE_FILE
    state = _read_state(state_path)
    decision = resolve_version(
        current, increment=increment, mode=mode, fingerprint=inputs_fingerprint(mode, increment, raw), state=state
    )
    cat = catalogue.load(cfg, version=decision.target)
    tgts = targets(cat.specs.values(), mode=mode, registry_map=cfg.registry_rewrite)
    sources = merge_last_good(docs, registry_map=cfg.registry_rewrite)
    refuse_outside_sources(source_records(sources), cfg.source_allow_list())
    unknown = tuple(m for m in sources if m not in cat.specs)
    observed = observe(refs_to_observe(tgts, sources), registry, concurrency=concurrency)
    plan = plan_promotion(tgts, sources, observed, mode=mode, version=str(decision.target))
    return Prepared(plan, tuple(tgts), sources, decision, unknown, cfg.release_logs, cfg.version_file, mode)


def _read_state(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = fsio.read_json(path)
    except InputError:
        log.warning("%s is unreadable; ignoring it", path)
        return None
    return data if isinstance(data, dict) else None


def estimate(plan: PromotionPlan, registry: RegistryEstimator, *, concurrency: int = 8) -> dict[str, Any]:
    """Reads only: per Copy destination, what the copy would cost (for `--dry-run`)."""
    copies = plan.copies
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="estimate") as pool:
        found = list(pool.map(lambda c: registry.estimate_copy(c.src.with_digest(c.digest), c.dst), copies))
    return {str(c.dst): e for c, e in zip(copies, found, strict=True)}


def execute(
    prep: Prepared,
    registry: RegistryWriter,
    *,
    concurrency: int = 8,
    on_event: OnEvent | None = None,
    render: Callable[[PromotionResult], tuple[str, str]],
) -> PromotionResult:
    """Apply the plan, check convergence, write the summaries, then (only if all went well) VERSION.

    `render(result) → (json text, markdown text)` comes from promotion_report (kept out of this module).
    """
    if prep.decision.state is not None:
        fsio.write_json(prep.state_path, prep.decision.state)
    result = apply_promotion(prep.plan, registry, concurrency=concurrency, on_event=on_event)
    again = observe(refs_to_observe(prep.targets, prep.sources), registry, concurrency=concurrency)
    second = plan_promotion(prep.targets, prep.sources, again, mode=prep.mode, version=prep.plan.version)
    result = result.with_check(second)
    json_text, md_text = render(result)
    fsio.write_if_changed(prep.output_dir / f"{prep.prefix}_artifacts_summary.json", json_text)
    fsio.write_if_changed(prep.output_dir / f"{prep.prefix}_artifacts_summary.md", md_text)
    fsio.write_json(prep.output_dir / f"{prep.prefix}_promotion_plan.json", prep.plan.to_json())
    if not result.ok:
        return result
    if prep.decision.target != prep.decision.current:
        fsio.write_if_changed(prep.version_file, version_file_text(prep.decision.target))
    if prep.decision.state is not None:
        fsio.write_json(prep.state_path, {**prep.decision.state, "status": "done"})
    return PromotionResult(result.plan, result.outcomes, result.unconverged, version_written=True)


def plan_copy_requests(
    pairs: Sequence[CopyRequest], registry: RegistryReader, *, concurrency: int = 8, force_same_digest: bool = False
) -> PromotionPlan:
    """`images.copy`: observe both ends of every pair (reads only), then plan."""
    refs = [r for p in pairs for r in (p.src, p.dst)]
    observed = observe(refs, registry, concurrency=concurrency)
    return plan_copies(pairs, observed, force_same_digest=force_same_digest)


def apply_copies(
    plan: PromotionPlan,
    pairs: Sequence[CopyRequest],
    registry: RegistryWriter,
    *,
    concurrency: int = 8,
    force_same_digest: bool = False,
    on_event: OnEvent | None = None,
) -> PromotionResult:
    """Copy, then plan again: nothing may be left to copy."""
    result = apply_promotion(plan, registry, concurrency=concurrency, on_event=on_event, force=force_same_digest)
    refs = [r for p in pairs for r in (p.src, p.dst)]
    return result.with_check(plan_copies(pairs, observe(refs, registry, concurrency=concurrency)))


def check_result(result: PromotionResult) -> None:
    """Conflicts (exit 3) first, then failed copies (exit 1), then a registry that did not converge."""
    if result.plan.conflicts:
        lines = [f"{c.dst} has {c.dst_digest}, CI image {c.src} is {c.src_digest}" for c in result.plan.conflicts]
        raise TagConflict(
            f"{len(lines)} destination tag(s) exist with another digest; the kit never moves a tag. Bump VERSION "
            "or delete the tag, then run again:\n  " + "\n  ".join(lines)
        )
    if result.failures:
        raise PartialFailure.from_items("copies", [f"{o.step.dst}: {o.error}" for o in result.failures])
    if result.unconverged:
        raise RegistryError(
            "after copying, these destinations still do not hold the planned digest: "
            + ", ".join(result.unconverged)
            + "; run again"
        )
