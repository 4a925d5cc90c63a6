"""`inv images.promote`: copy Models CI images to their dev/release names, registry to registry. Pure: the
values and decisions; release/images/promotion_run.py reads the registries and applies them.

A pipeline of named steps:
1. `merge_last_good(docs)` (pure): one CI record per model from several parsed last-good files; later files win.
2. `targets(specs)` (pure): each catalogue model's destination (VERSION after the bump; `-dev-` or
   `-release-`; explicit media/forge images as written) and the commits it must carry. Models sharing a
   destination form a `Group`.
3. `reads_needed(group, sources, observed)` (pure): what to read before the group can be planned: HEAD the
   destination and GET the newest usable CI image together; more only when they differ.
4. `plan_group(group, sources, observed)` (pure): Copy, Skip, Conflict (with `decision="kept"` under
   --keep-existing) or NeedsBuild; `plan_promotion` is every group's step in catalogue order.
5. The executor copies each group as soon as its step is known, then plans again over what the registry
   answered: an empty second plan (no Copy left) proves convergence.

`resolve_version(...)` (pure) decides the version a run bumps to, using a small state file so an interrupted
run, started again with the same arguments, finishes the same bump instead of bumping twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from release.errors import InputError, PartialFailure, RegistryError, TagConflict
from release.imageref import ImageRef, ImageRefError, SourceAllowList
from release.imagetags import commits_disagree, parse_commit_tag
from release.last_good_file import LastGoodRecords
from release.version import Increment, Version

if TYPE_CHECKING:
    from release.catalogue import SpecLike

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
    docs: Sequence[tuple[str, LastGoodRecords]], *, registry_map: Iterable[tuple[str, str]] = ()
) -> dict[str, CiSource]:
    """Several parsed last-good files (name, records) → one CiSource per model; later files win.

    A model without a record (`{}` in the file) does not override an earlier record: it means "no passing run in
    that file".
    """
    rewrite = tuple(registry_map)
    out: dict[str, CiSource] = {}
    for name, records in docs:
        for model_id, record in records.items():
            if record is None:
                continue
            image: ImageRef | None = None
            problem = None
            if not record.docker_image:
                problem = "the CI record has no docker_image"
            else:
                try:
                    image = ImageRef.parse(record.docker_image).rewrite(rewrite)
                except ImageRefError as e:
                    problem = f"CI docker_image is not an image reference ({e})"
            out[model_id] = CiSource(
                model_id, image, name, record.ci_run_url, record.ci_run_number, record.ci_job_url, problem
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
    differs = commits_disagree(parsed, tt_metal=target.tt_metal_commit, vllm=target.vllm_commit or None)
    if differs is None:
        return None
    which, catalogue, found = differs
    return f"{which} commit differs: catalogue {catalogue}, CI image {found}"


# ------------------------------------------------------------------------------------ observed (values)


@dataclass(frozen=True)
class Observed:
    """Digests seen in the registries (None: the tag does not exist; a reference not read counts as missing)."""

    digests: Mapping[ImageRef, str | None]

    def digest(self, ref: ImageRef) -> str | None:
        return self.digests.get(ref)

    def read(self, ref: ImageRef) -> bool:
        return ref in self.digests

    def with_digests(self, more: Mapping[ImageRef, str | None]) -> Observed:
        return Observed({**self.digests, **more})


@dataclass(frozen=True)
class Group:
    """The models sharing one destination, in catalogue order."""

    dst: ImageRef
    members: tuple[Target, ...]

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(t.model_id for t in self.members)


def group_targets(tgts: Iterable[Target]) -> list[Group]:
    groups: dict[ImageRef, list[Target]] = {}
    for t in tgts:
        groups.setdefault(t.dst, []).append(t)
    return [Group(dst, tuple(members)) for dst, members in groups.items()]


def _why_not(target: Target, source: CiSource | None) -> str | None:
    """Why a model's CI record cannot provide its destination, before reading any registry."""
    if source is None:
        return "no Models CI record"
    if source.problem or source.image is None:
        return source.problem or "the CI record has no docker_image"
    return commit_mismatch(target, source.image)


def _usable(group: Group, sources: Mapping[str, CiSource]) -> list[CiSource]:
    """The CI records that could provide the destination, newest CI run first (ties keep catalogue order)."""
    usable = [s for t in group.members if (s := sources.get(t.model_id)) is not None and _why_not(t, s) is None]
    return sorted(usable, key=lambda s: -(s.run_number if s.run_number is not None else -1))


def usable_images(group: Group, sources: Mapping[str, CiSource]) -> list[ImageRef]:
    """The CI images that could provide the destination, newest CI run first, each once."""
    return list(dict.fromkeys(s.image for s in _usable(group, sources) if s.image is not None))


def reads_needed(group: Group, sources: Mapping[str, CiSource], observed: Observed) -> list[ImageRef]:
    """The references still to read before `group` can be planned (pure; called until it returns nothing).

    First the destination (HEAD) and the newest usable CI image (GET), together. When the destination already
    holds that image, nothing more is read; otherwise the other usable CI images (for the choice, the conflict
    or the list of alternatives). A destination without usable CI records needs its HEAD only.
    """
    images = usable_images(group, sources)
    if not observed.read(group.dst):
        return [group.dst, *[i for i in images[:1] if not observed.read(i)]]
    have = observed.digest(group.dst)
    if have is not None and any(observed.read(i) and observed.digest(i) == have for i in images):
        return []
    return [i for i in images if not observed.read(i)]


# ----------------------------------------------------------------------------------------- plan (pure)


@dataclass(frozen=True)
class Candidate:
    model_id: str
    source: CiSource
    digest: str


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


Decision = Literal["kept"]
KEEP_EXISTING_FLAG = "--keep-existing"


@dataclass(frozen=True)
class Conflict:
    """The destination tag holds another digest than the CI image. Without a decision the run cannot finish;
    `decision="kept"` (from --keep-existing) accepts the destination as it is."""

    dst: ImageRef
    dst_digest: str
    src: ImageRef
    src_digest: str
    models: tuple[str, ...]
    source: CiSource
    decision: Decision | None = None
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

    @property
    def undecided(self) -> list[Conflict]:
        """Conflicts nobody decided about: they stop the run (exit 3)."""
        return [c for c in self.conflicts if c.decision is None]

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
        out.update(dst_digest=step.dst_digest, src=str(step.src), src_digest=step.src_digest, decision=step.decision)
    else:
        out["reasons"] = dict(step.reasons)
    return out


def plan_group(
    group: Group, sources: Mapping[str, CiSource], observed: Observed, *, keep_existing: bool = False
) -> Step:
    """Decide what to do with one destination. Pure: everything it needs is in its arguments."""
    valid: list[Candidate] = []
    reasons: list[tuple[str, str]] = []
    for t in group.members:
        src = sources.get(t.model_id)
        why = _why_not(t, src)
        if why is None and src is not None and src.image is not None:
            digest = observed.digest(src.image)
            if digest is not None:
                valid.append(Candidate(t.model_id, src, digest))
                continue
            why = f"CI image {src.image} not found"
        reasons.append((t.model_id, why or "unknown"))
    # The newest CI run wins (all candidates carry the catalogue's commits); ties keep catalogue order.
    valid.sort(key=lambda c: -(c.source.run_number if c.source.run_number is not None else -1))
    dst, models = group.dst, group.models
    have = observed.digest(dst)
    if have is not None:
        if not valid:
            return Skip(dst, have, models, reasons=tuple(reasons))
        same = next((c for c in valid if c.digest == have), None)
        if same is not None:
            return Skip(dst, have, models, src=same.source.image, source=same.source)
        first = valid[0]
        assert first.source.image is not None
        decision: Decision | None = "kept" if keep_existing else None
        return Conflict(dst, have, first.source.image, first.digest, models, first.source, decision)
    if not valid:
        return NeedsBuild(dst, models, tuple(reasons))
    chosen = valid[0]
    assert chosen.source.image is not None
    others = tuple(dict.fromkeys(str(c.source.image) for c in valid if c.digest != chosen.digest and c.source.image))
    return Copy(dst, chosen.source.image, chosen.digest, models, chosen.source, others)


def plan_promotion(
    tgts: Sequence[Target],
    sources: Mapping[str, CiSource],
    observed: Observed,
    *,
    mode: Mode,
    version: str,
    keep_existing: bool = False,
) -> PromotionPlan:
    """One step per destination, in catalogue order. Pure."""
    steps = tuple(plan_group(g, sources, observed, keep_existing=keep_existing) for g in group_targets(tgts))
    return PromotionPlan(mode, version, steps)


@dataclass(frozen=True)
class Promotion:
    """What a promotion is planned from: every destination, the CI record of each model, the mode and version, and
    the decision on conflicts (`keep_existing`)."""

    targets: tuple[Target, ...]
    sources: Mapping[str, CiSource]
    mode: Mode
    version: str
    keep_existing: bool = False

    def plan(self, observed: Observed) -> PromotionPlan:
        return plan_promotion(
            self.targets, self.sources, observed, mode=self.mode, version=self.version, keep_existing=self.keep_existing
        )


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class StepOutcome:
    step: Step
    ok: bool
    digest: str | None = None  # the digest the registry answered for the manifest PUT
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
        return not self.failures and not self.plan.undecided and not self.unconverged

    def outcome(self, step: Step) -> StepOutcome | None:
        return next((o for o in self.outcomes if o.step is step), None)

    def answered(self) -> dict[ImageRef, str | None]:
        """What the registry answered for each copy: the destination's digest now (None: the copy failed)."""
        return {o.step.dst: o.digest if o.ok else None for o in self.outcomes}

    def with_check(self, second: PromotionPlan) -> PromotionResult:
        return PromotionResult(self.plan, self.outcomes, tuple(str(c.dst) for c in second.copies), self.version_written)


def check_result(result: PromotionResult, *, decision_flag: str | None = KEEP_EXISTING_FLAG) -> None:
    """Undecided conflicts (exit 3) first, then failed copies (exit 1), then a registry that did not converge.

    `decision_flag`: the flag that decides conflicts, named in the message (None: the task has none)."""
    undecided = result.plan.undecided
    if undecided:
        lines = [f"{c.dst} has {c.dst_digest}, CI image {c.src} is {c.src_digest}" for c in undecided]
        way = (
            f"run the same command with {decision_flag} to keep them as they are (recorded as a decision), or "
            if decision_flag
            else ""
        )
        raise TagConflict(
            f"{len(lines)} destination tag(s) exist with another digest; the kit never moves a tag: {way}bump "
            "VERSION or delete the tag(s), then run again:\n  " + "\n  ".join(lines)
        )
    if result.failures:
        raise PartialFailure.from_items("copies", [f"{o.step.dst}: {o.error}" for o in result.failures])
    if result.unconverged:
        raise RegistryError(
            "after copying, these destinations still do not hold the planned digest: "
            + ", ".join(result.unconverged)
            + "; run again"
        )


# ------------------------------------------------------------------------------------- version (pure)


@dataclass(frozen=True)
class BumpState:
    """`promote_state.json`: the bump a run with these inputs (`fingerprint`) is applying, or has done."""

    mode: str
    increment: str
    from_version: Version
    to_version: Version
    fingerprint: str
    status: str = "applying"  # applying | done

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "increment": self.increment, "from_version": str(self.from_version),
            "to_version": str(self.to_version), "fingerprint": self.fingerprint, "status": self.status,
        }  # fmt: skip

    @classmethod
    def parse(cls, data: Any) -> BumpState | None:
        """The state, or None for anything else (an unreadable state only means: bump as if there were none)."""
        if not isinstance(data, Mapping) or not all(isinstance(data.get(k), str) for k in BUMP_KEYS):
            return None
        try:
            versions = Version.parse(data["from_version"]), Version.parse(data["to_version"])
        except InputError:
            return None
        return cls(data["mode"], data["increment"], *versions, data["fingerprint"], data["status"])


BUMP_KEYS = ("mode", "increment", "from_version", "to_version", "fingerprint", "status")


@dataclass(frozen=True)
class VersionDecision:
    current: Version
    target: Version
    note: str
    state: BumpState | None  # the state to record while applying (None: nothing to record)


def inputs_fingerprint(mode: Mode, increment: str | None, docs: Sequence[tuple[str, bytes]]) -> str:
    """Identifies "the same arguments": mode, increment and the bytes of every last-good file, in order."""
    h = hashlib.sha256(f"{mode}\0{increment}\0".encode())
    for name, data in docs:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def resolve_version(
    current: Version, *, increment: Increment | None, mode: Mode, fingerprint: str, state: BumpState | None
) -> VersionDecision:
    """The version this run promotes to.

    Without `--increment` it is VERSION. With it, a state file left by a run with the same arguments that
    was bumping from or to the current VERSION decides (resume, or nothing left to bump); otherwise VERSION
    is bumped once.
    """
    if increment is None:
        return VersionDecision(current, current, f"VERSION {current} (no --increment)", None)
    if state is not None and state.fingerprint == fingerprint:
        frm, to, applying = state.from_version, state.to_version, replace(state, status="applying")
        if current == frm:
            return VersionDecision(current, to, f"resuming the bump {frm} → {to} of an interrupted run", applying)
        if current == to:
            note = f"VERSION is already {to} from a run with the same arguments; not bumping again"
            return VersionDecision(current, to, note, applying)
    target = current.bump(increment)
    bump = BumpState(mode, increment, current, target, fingerprint)
    return VersionDecision(current, target, f"VERSION {current} → {target} ({increment})", bump)


# ------------------------------------------------------------------------------------------------ counts


def plan_summary_counts(plan: PromotionPlan) -> dict[str, int]:
    return {
        "copy": len(plan.copies),
        "skip": len(plan.of(Skip)),
        "conflict": len(plan.conflicts),
        "build": len(plan.of(NeedsBuild)),
    }
