"""A stand-in for catalogue ModelSpecs in build tests: the fields of `release.catalogue.SpecLike`."""

from __future__ import annotations

from dataclasses import dataclass

REL = "ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-release-ubuntu-22.04-amd64"


@dataclass(frozen=True)
class Spec:
    model_id: str
    tt_metal_commit: str
    vllm_commit: str | None
    docker_image: str
    has_explicit_image: bool = False

    @property
    def dev_image(self) -> str:
        return self.docker_image if self.has_explicit_image else self.docker_image.replace("-release-", "-dev-")

    def image_for(self, *, dev: bool) -> str:
        return self.dev_image if dev else self.docker_image
