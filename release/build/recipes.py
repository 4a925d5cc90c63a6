"""Build recipes: where each image's Dockerfile and build context come from. The build arguments are the same
for every recipe (`build_args`, §6.3 of the original).

- `real`: tt-metal's own `dockerfile/Dockerfile` (stage `ci-build`) in a checkout of the resolved commit for the
  base image; tt-inference-server's `vllm-tt-metal-llama3/vllm.tt-metal.src.{cloud,dev}.Dockerfile` (in this
  repository) for cloud, dev and release. It clones tt-metal and vLLM from the internet.
- `offline`: `release/dockerfiles/offline/{base,cloud,dev,release}.Dockerfile`, tiny images built without network
  or shell, for tests, rehearsals and the demo; each image is labelled with its kind, so dev and release differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from release.build.tt_metal import GitFactory, checkout
from release.build.units import Unit
from release.errors import ConfigError

DOCKERFILES = Path(__file__).resolve().parent.parent / "dockerfiles"
CONTAINER_APP_UID = "1000"
RECIPES: tuple[str, ...] = ("real", "offline")
REAL_DOCKERFILES = {
    "cloud": "vllm-tt-metal-llama3/vllm.tt-metal.src.cloud.Dockerfile",
    "dev": "vllm-tt-metal-llama3/vllm.tt-metal.src.dev.Dockerfile",
    "release": "vllm-tt-metal-llama3/vllm.tt-metal.src.dev.Dockerfile",
}


def build_args(kind: str, unit: Unit, *, tt_metal_sha: str, ubuntu_version: str) -> dict[str, str]:
    """The recipe's build-arg interface: the same for the real and offline recipes."""
    if kind == "base":
        return {"UBUNTU_VERSION": ubuntu_version}
    if kind == "cloud":
        return {
            "TT_METAL_DOCKERFILE_URL": unit.tags["base"],
            "TT_METAL_COMMIT_SHA_OR_TAG": tt_metal_sha,
            "TT_VLLM_COMMIT_SHA_OR_TAG": unit.vllm_commit,
            "CONTAINER_APP_UID": CONTAINER_APP_UID,
        }
    return {"CLOUD_DOCKERFILE_URL": unit.tags["cloud"]}


class OfflineRecipe:
    name = "offline"

    def __init__(self, root: Path = DOCKERFILES / "offline") -> None:
        self.root = root

    def check(self) -> None:
        for kind in ("base", "cloud", "dev", "release"):
            if not (self.root / f"{kind}.Dockerfile").is_file():
                raise ConfigError(f"offline recipe: {self.root / f'{kind}.Dockerfile'} is missing")

    @contextmanager
    def context(self, kind: str, tt_metal_sha: str) -> Iterator[tuple[Path, str, str | None]]:
        yield self.root, f"{kind}.Dockerfile", "ci-build" if kind == "base" else None


class RealRecipe:
    name = "real"

    def __init__(self, repo_root: Path, *, git: GitFactory, tt_metal_url: str, work_dir: Path | None = None) -> None:
        self.repo_root = repo_root
        self._git = git
        self.tt_metal_url = tt_metal_url
        self._work_dir = work_dir

    def check(self) -> None:
        missing = [p for p in sorted(set(REAL_DOCKERFILES.values())) if not (self.repo_root / p).is_file()]
        if missing:
            raise ConfigError(
                f"real recipe: {', '.join(missing)} not found under {self.repo_root}: run from a tt-inference-server "
                "checkout, or rehearse with --recipe offline"
            )

    @contextmanager
    def context(self, kind: str, tt_metal_sha: str) -> Iterator[tuple[Path, str, str | None]]:
        if kind == "base":
            with checkout(self._git, url=self.tt_metal_url, sha=tt_metal_sha, parent=self._work_dir) as tree:
                yield tree, "dockerfile/Dockerfile", "ci-build"
            return
        yield self.repo_root, REAL_DOCKERFILES[kind], None


Recipe = OfflineRecipe | RealRecipe


def make_recipe(name: str, *, repo_root: Path, git: GitFactory, tt_metal_url: str) -> Recipe:
    if name == "offline":
        return OfflineRecipe()
    if name == "real":
        return RealRecipe(repo_root, git=git, tt_metal_url=tt_metal_url)
    raise ConfigError(f"build recipe must be one of {', '.join(RECIPES)} (got {name!r})")
