"""Stand-ins for the build's clients in tests that need no Docker: an engine, a registry, a recipe, a resolver, and
catalogue specs (the real ones run in tests/test_build_images.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from release.build.units import Selection, work_units
from release.errors import BuildError, EngineUnreachable
from release.imageref import ImageRef
from tests.spec_stubs import REL, Spec

DIGEST = "sha256:" + "0" * 64


def spec(model: str, tm: str, vllm: str | None, *, version: str = "0.5.0", image: str | None = None) -> Spec:
    tag = f"{version}-{tm[:12]}" + (f"-{vllm[:12]}" if vllm else "")
    return Spec(model, tm, vllm, image or f"{REL}:{tag}", has_explicit_image=image is not None)


def units(n: int, *, vllm: str = "6e67d2d") -> Selection:
    """`n` units, each on a tt-metal commit of its own (0000000, 0000001, ...)."""
    return work_units([spec(f"m{i}", f"{i:07x}", vllm) for i in range(n)], ubuntu_version="22.04")


class FakeRegistry:
    """Tags present in `present`, and every tag an engine in `engines` pushed; records what it was asked."""

    def __init__(self, present: set[str] | None = None, *, engines: tuple[FakeEngine, ...] = ()) -> None:
        self.present = present or set()
        self.engines = engines
        self.asked: list[str] = []

    def digest(self, ref: ImageRef) -> str | None:
        self.asked.append(str(ref))
        pushed = any(str(ref) in e.pushed for e in self.engines)
        return DIGEST if str(ref) in self.present or pushed else None


class FakeEngine:
    """An engine whose builds succeed at once unless told otherwise: `fails(ref)` makes a build fail, `down_after`
    builds make it unreachable, `gate` (an Event) holds every build until set. It records what ran, and the most
    builds it ran at the same time."""

    def __init__(
        self,
        name: str,
        images: set[str] | None = None,
        *,
        down_after: int | None = None,
        fails: Callable[[str], bool] = lambda _ref: False,
        gate: threading.Event | None = None,
    ) -> None:
        self.name = name
        self.images = set(images or ())
        self.down_after = down_after
        self.fails = fails
        self.gate = gate
        self.built: list[str] = []
        self.pushed: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def ping(self) -> None:
        return None

    def image_exists(self, ref: str) -> bool:
        return ref in self.images or ref in self.built

    def build(self, ref: str, *, context: Path, dockerfile: str, buildargs: Mapping[str, str], target: str | None,
              on_line: Callable[[str], None]) -> str:  # fmt: skip
        with self._lock:
            if self.down_after is not None and len(self.built) >= self.down_after:
                raise EngineUnreachable(f"Docker engine {self.name} is unreachable")
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.gate is not None:
                self.gate.wait(timeout=10)
            on_line("Step 1/1 : FROM scratch")
            if self.fails(ref):
                raise BuildError(f"the Dockerfile of {ref} failed")
            with self._lock:
                self.built.append(ref)
            return DIGEST
        finally:
            with self._lock:
                self.running -= 1

    def pull(self, ref: str, *, on_line: Callable[[str], None]) -> None:
        self.images.add(ref)

    def push(self, ref: str, *, on_line: Callable[[str], None]) -> str:
        self.pushed.append(ref)
        return DIGEST

    def repo_digest(self, ref: str) -> str | None:
        return DIGEST if ref in self.pushed else None


class StaticRecipe:
    name = "static"

    def check(self) -> None:
        return None

    @contextmanager
    def context(self, kind: str, tt_metal_sha: str) -> Iterator[tuple[Path, str, None]]:
        yield Path("."), f"{kind}.Dockerfile", None


class SameSha:
    """tt-metal commits resolved by padding them to 40 characters."""

    def resolve(self, commit: str) -> str:
        return commit.ljust(40, "0")
