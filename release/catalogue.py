"""The catalogue as the kit sees it: workflows/model_specs.toml expanded with the VERSION in force.

VERSION is read at call time (never at import time). Catalogue problems become CatalogueError, which the task
layer prints as one line naming the file, the template and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from release import fsio
from release.config import Config
from release.errors import CatalogueError
from release.version import Version
from workflows.model_spec import Catalogue, CatalogueInvalid, load_catalogue


class SpecLike(Protocol):
    """What the image steps read of a catalogue ModelSpec (`workflows.model_spec.ModelSpec` is one): the build
    planner and promotion both take their specs typed as this, so tests can hand in a small stand-in."""

    @property
    def model_id(self) -> str: ...
    @property
    def tt_metal_commit(self) -> str: ...
    @property
    def vllm_commit(self) -> str | None: ...
    @property
    def docker_image(self) -> str: ...
    @property
    def dev_image(self) -> str: ...
    @property
    def has_explicit_image(self) -> bool: ...
    def image_for(self, *, dev: bool) -> str: ...


def read_version(path: Path) -> Version:
    return Version.parse(fsio.read_text(path, what="VERSION file"), source=str(path))


def load(cfg: Config, *, version: Version | str | None = None, text: str | None = None) -> Catalogue:
    """Load the catalogue of `cfg` with `version` (default: the VERSION file)."""
    resolved = str(version) if version is not None else str(read_version(cfg.version_file))
    return load_path(cfg.catalogue_path, version=resolved, text=text)


def load_path(path: Path, *, version: str, text: str | None = None) -> Catalogue:
    if text is None:
        text = fsio.read_text(path, what="catalogue")
    try:
        return load_catalogue(path, version=version, text=text)
    except CatalogueInvalid as e:
        raise CatalogueError(str(e)) from None
