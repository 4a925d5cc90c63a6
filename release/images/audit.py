"""`inv images.audit`: every image the catalogue (or a release record) points at must exist, with the recorded
digest. Users of the original project found documented images that did not exist; this check finds them first.

`plan_*` are pure; `run_audit` reads the registry (HEAD requests only) through a small protocol; `audit_images` is
the command (request → config → plan → registry reads → findings).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from release import catalogue, record, wiring
from release.config import Config
from release.errors import InputError, PartialFailure
from release.events import OnEvent, ignore
from release.imageref import ImageRef, ImageRefError
from release.record import ReleaseRecord
from workflows.model_spec import Catalogue

if TYPE_CHECKING:
    from release.registry import RegistryClient


@dataclass(frozen=True)
class AuditItem:
    image: str  # as documented (catalogue or record)
    checked: ImageRef  # after RELEASE_REGISTRY_REWRITE
    expected_digest: str | None
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class AuditFinding:
    item: AuditItem
    found_digest: str | None

    @property
    def status(self) -> str:
        if self.found_digest is None:
            return "missing"
        if self.item.expected_digest and self.found_digest != self.item.expected_digest:
            return "digest differs"
        return "ok"


def plan_audit_from_catalogue(
    catalogue: Catalogue, *, dev: bool, registry_map: Iterable[tuple[str, str]] = ()
) -> list[AuditItem]:
    users: dict[str, list[str]] = {}
    for spec in catalogue.specs.values():
        users.setdefault(spec.image_for(dev=dev), []).append(spec.model_id)
    rewrite = tuple(registry_map)
    return [
        AuditItem(image, ImageRef.parse(image).rewrite(rewrite), None, tuple(model_ids))
        for image, model_ids in sorted(users.items())
    ]


def plan_audit_from_record(
    record: ReleaseRecord, *, source: str, registry_map: Iterable[tuple[str, str]] = ()
) -> list[AuditItem]:
    """Every image the record names, with the digest it recorded."""
    rewrite = tuple(registry_map)
    items = []
    for i, image in enumerate(record.images):
        try:
            checked = ImageRef.parse(image.destination).rewrite(rewrite)
        except ImageRefError as e:
            raise InputError(f"{source}: images[{i}].destination: {e}") from None
        items.append(AuditItem(image.destination, checked, image.digest, image.models))
    return items


def run_audit(items: Sequence[AuditItem], registry: RegistryClient, *, concurrency: int = 8) -> list[AuditFinding]:
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        digests = list(pool.map(lambda item: registry.digest(item.checked), items))
    return [AuditFinding(item, digest) for item, digest in zip(items, digests, strict=True)]


def audit_table(findings: Sequence[AuditFinding]) -> str:
    rows = [
        (f.status, f.item.image, (f.found_digest or "-")[:19], len(f.item.used_by))
        for f in sorted(findings, key=lambda f: (f.status == "ok", f.item.image))
    ]
    return tabulate(rows, headers=["status", "image", "digest", "models"])


def audit_json(findings: Sequence[AuditFinding]) -> dict[str, Any]:
    return {
        "images": [
            {
                "image": f.item.image,
                "checked": str(f.item.checked),
                "status": f.status,
                "expected_digest": f.item.expected_digest,
                "found_digest": f.found_digest,
                "models": list(f.item.used_by),
            }
            for f in findings
        ],
        "summary": {
            "total": len(findings),
            "ok": sum(f.status == "ok" for f in findings),
            "missing": sum(f.status == "missing" for f in findings),
            "digest_differs": sum(f.status == "digest differs" for f in findings),
        },
    }


def failures(findings: Sequence[AuditFinding]) -> list[str]:
    out = []
    for f in findings:
        if f.status == "missing":
            out.append(f"{f.item.image}: missing (used by {len(f.item.used_by)} model(s))")
        elif f.status == "digest differs":
            out.append(f"{f.item.image}: digest {f.found_digest} differs from the recorded {f.item.expected_digest}")
    return out


@dataclass(frozen=True, kw_only=True)
class AuditRequest:
    record: Path | None = None  # a release record: its images and digests (else the catalogue's)
    dev: bool = False  # the catalogue's -dev- images instead of the -release- ones
    concurrency: int = 8


@dataclass(frozen=True)
class Auditing:
    images: int


@dataclass(frozen=True)
class Audited:
    findings: list[AuditFinding]


def audit_images(cfg: Config, request: AuditRequest, *, on_event: OnEvent = ignore) -> list[AuditFinding]:
    """Every image must exist (with its recorded digest); the findings are returned, or, when any image fails,
    PartialFailure is raised after `on_event` received them."""
    if request.record is not None:
        items = plan_audit_from_record(
            record.read(request.record), source=str(request.record), registry_map=cfg.registry_rewrite
        )
    else:
        items = plan_audit_from_catalogue(catalogue.load(cfg), dev=request.dev, registry_map=cfg.registry_rewrite)
    on_event(Auditing(len(items)))
    registry = wiring.registry_client(cfg, concurrency=request.concurrency)
    findings = run_audit(items, registry, concurrency=request.concurrency)
    on_event(Audited(findings))
    problems = failures(findings)
    if problems:
        raise PartialFailure.from_items("image check(s)", problems)
    return findings
