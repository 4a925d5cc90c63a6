"""Pure: the work units of `inv images.build` and their image names.

One unit per distinct (tt_metal_commit, vllm_commit) pair of the catalogue: a chain base → cloud → dev (→ release).
Every tag is taken from the catalogue's `docker_image` (never recomputed from the commits); cloud is the same name
with `-cloud-`, and the base is a local tag that is never pushed and never looked up in a registry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from release.errors import ConfigError, InputError
from release.imageref import ImageRef, ImageRefError

if TYPE_CHECKING:
    from release.artifacts_summary import ArtifactsSummary
    from release.catalogue import SpecLike

KINDS: tuple[str, ...] = ("base", "cloud", "dev", "release")
PUSHABLE: tuple[str, ...] = ("cloud", "dev", "release")
UBUNTU_VERSIONS: tuple[str, ...] = ("20.04", "22.04")
RegistryMap = tuple[tuple[str, str], ...]
_RECIPE_REPOSITORY = re.compile(r"^vllm-tt-metal-src-release-ubuntu-(\d+\.\d+)-amd64$")


@dataclass(frozen=True)
class Unit:
    """One chain base → cloud → dev (→ release) for a (tt_metal_commit, vllm_commit) pair."""

    tt_metal_commit: str
    vllm_commit: str
    tags: Mapping[str, str]
    catalogue_images: tuple[str, str]  # the catalogue's (dev, release) names, before registry rewriting
    model_ids: tuple[str, ...]

    @property
    def combination_id(self) -> str:
        return f"{self.tt_metal_commit[:16]}-{self.vllm_commit[:16]}"


@dataclass(frozen=True)
class Unbuildable:
    """A catalogue image this recipe cannot produce; `failed` when the user asked for it explicitly."""

    image: str
    model_ids: tuple[str, ...]
    reason: str
    failed: bool


@dataclass(frozen=True)
class Selection:
    units: tuple[Unit, ...]
    unbuildable: tuple[Unbuildable, ...]


def base_tag(tt_metal_commit: str, ubuntu_version: str) -> str:
    """The tt-metal base image: a local tag only, never pushed and never looked up in a registry."""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", tt_metal_commit).lstrip(".-")[:128] or "unknown"
    return f"local/tt-metal/tt-metalium/ubuntu-{ubuntu_version}-amd64:{tag}"


def chain_tags(release_image: str, ubuntu_version: str) -> dict[str, str] | None:
    """cloud/dev/release names from a catalogue release image (same registry, path and tag; the repository's
    last segment names the kind and the Ubuntu version). None when the image is not a recipe image."""
    try:
        ref = ImageRef.parse(release_image)
    except ImageRefError:
        return None
    head, _, last = ref.repository.rpartition("/")
    if ref.tag is None or ref.digest is not None or not _RECIPE_REPOSITORY.match(last):
        return None
    prefix = f"{head}/" if head else ""
    return {
        kind: str(ref.in_repository(f"{prefix}vllm-tt-metal-src-{kind}-ubuntu-{ubuntu_version}-amd64"))
        for kind in PUSHABLE
    }


def image_names(ref: str, registry_map: RegistryMap) -> set[str]:
    """A listed image as the catalogue writes it and as engines and registries see it."""
    try:
        parsed = ImageRef.parse(ref)
    except ImageRefError:
        return {ref}
    return {ref, str(parsed), str(parsed.rewrite(registry_map))}


@dataclass
class _Pair:
    tags: dict[str, str]
    images: tuple[str, str]  # the catalogue's (dev, release) names
    models: list[str] = field(default_factory=list)


def work_units(
    specs: Iterable[SpecLike],
    *,
    ubuntu_version: str,
    registry_map: RegistryMap = (),
    build_metal_commit: str | None = None,
    only: Iterable[str] | None = None,
    release: bool = False,
) -> Selection:
    """The units to consider, in catalogue order.

    `only` (the images promotion listed as needing a build) selects the units whose dev or release image is
    listed; a listed image no unit can build is reported as failed. `registry_map` (RELEASE_REGISTRY_REWRITE) maps
    catalogue names to the names used on engines and registries."""
    if ubuntu_version not in UBUNTU_VERSIONS:
        raise ConfigError(f"--ubuntu-version must be one of {', '.join(UBUNTU_VERSIONS)} (got {ubuntu_version!r})")
    pairs, skipped = _pairs(specs, ubuntu_version=ubuntu_version, build_metal_commit=build_metal_commit)
    units, unbuildable = _units(pairs, ubuntu_version=ubuntu_version, registry_map=registry_map)
    if only is None:
        for image, (models, why) in skipped.items():
            unbuildable.append(Unbuildable(image, tuple(models), why, False))
        return Selection(tuple(units), tuple(unbuildable))
    return _select(units, unbuildable, skipped, list(only), registry_map=registry_map, release=release)


def _pairs(
    specs: Iterable[SpecLike], *, ubuntu_version: str, build_metal_commit: str | None
) -> tuple[dict[tuple[str, str], _Pair], dict[str, tuple[list[str], str]]]:
    """The catalogue's (tt-metal, vLLM) pairs with their models, and the images no recipe unit builds (with why)."""
    pairs: dict[tuple[str, str], _Pair] = {}
    skipped: dict[str, tuple[list[str], str]] = {}
    for spec in specs:
        if build_metal_commit is not None and spec.tt_metal_commit != build_metal_commit:
            continue
        tags = chain_tags(spec.docker_image, ubuntu_version)
        if spec.vllm_commit is None:
            why = "no vLLM commit: media and forge images are not built by this recipe"
        elif spec.has_explicit_image:
            why = "explicit docker_image in the catalogue (used as written for dev and release)"
        elif tags is None:
            why = "not named like a vllm-tt-metal-src-release image"
        else:
            pair = pairs.setdefault(
                (spec.tt_metal_commit, spec.vllm_commit), _Pair(tags, (spec.dev_image, spec.docker_image))
            )
            pair.models.append(spec.model_id)
            continue
        skipped.setdefault(spec.docker_image, ([], why))[0].append(spec.model_id)
    return pairs, skipped


def _units(
    pairs: Mapping[tuple[str, str], _Pair], *, ubuntu_version: str, registry_map: RegistryMap
) -> tuple[list[Unit], list[Unbuildable]]:
    """One unit per pair, named as engines and registries see it; pairs whose tags collide are refused."""
    units: list[Unit] = []
    unbuildable: list[Unbuildable] = []
    by_tag: dict[str, list[Unit]] = {}
    for (tm, vllm), pair in pairs.items():
        tags = {kind: str(ImageRef.parse(ref).rewrite(registry_map)) for kind, ref in pair.tags.items()}
        tags["base"] = base_tag(tm, ubuntu_version)
        unit = Unit(tm, vllm, {k: tags[k] for k in KINDS}, pair.images, tuple(pair.models))
        by_tag.setdefault(unit.tags["dev"], []).append(unit)
    for tag, same in by_tag.items():
        if len(same) == 1:
            units.append(same[0])
            continue
        commits = ", ".join(f"({u.tt_metal_commit}, {u.vllm_commit})" for u in same)
        reason = f"commits {commits} give the same tag after truncation: write longer commits in the catalogue"
        unbuildable.append(Unbuildable(tag, tuple(m for u in same for m in u.model_ids), reason, True))
    return units, unbuildable


def _select(
    units: list[Unit],
    unbuildable: list[Unbuildable],
    skipped: Mapping[str, tuple[list[str], str]],
    listed: list[str],
    *,
    registry_map: RegistryMap,
    release: bool,
) -> Selection:
    """The units whose dev or release image is listed; a listed image no unit builds is a failed Unbuildable."""
    wanted = {name for i in listed for name in image_names(i, registry_map)}
    selected: list[Unit] = []
    matched: set[str] = set()
    for unit in units:
        hits = {n for i in (*unit.catalogue_images, unit.tags["dev"], unit.tags["release"]) for n in image_names(i, ())}
        hits &= wanted
        if not hits:
            continue
        matched |= hits
        release_names = {n for i in (unit.tags["release"], unit.catalogue_images[1]) for n in image_names(i, ())}
        if hits & release_names and not release:
            raise ConfigError(f"the summary lists the release image {sorted(hits & release_names)[0]}: add --release")
        selected.append(unit)
    for image in sorted({i for i in listed if not (image_names(i, registry_map) & matched)}):
        models, why = skipped.get(image, ([], "no catalogue entry builds this image"))
        unbuildable.append(Unbuildable(image, tuple(models), why, True))
    return Selection(tuple(selected), tuple(unbuildable))


def images_to_build(summary: ArtifactsSummary, *, source: str) -> list[str]:
    """`images_to_build` of a promotion summary (`release_logs/{dev,release}_artifacts_summary.json`)."""
    if summary.images_to_build is None:
        raise InputError(f"{source}: no images_to_build list of image names (is it a *_artifacts_summary.json?)")
    return list(summary.images_to_build)
