"""One image pushed from an engine to the registry, verified, and never over a tag that appeared since planning.

The plan saw the tag absent, maybe hours ago: the registry is asked again right before the push, and a tag that
appeared since is never moved (TagConflict, exit 3), unless it already holds this very image (the engine pushed or
pulled it with that digest). After the push, the registry's digest must be the one the engine pushed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from release.build.result import BuildEvent, ImageOutcome
from release.errors import BuildError, EngineUnreachable, ReleaseError, TagConflict
from release.imageref import ImageRef

if TYPE_CHECKING:
    from release.docker_engine import DockerEngine
    from release.registry import RegistryClient


def push_image(
    image: ImageOutcome,
    *,
    engine: DockerEngine,
    registry: RegistryClient,
    emit: Callable[[BuildEvent], None],
    cid: str,
) -> None:
    """Push `image.ref` and record its digest in `image`; raises TagConflict or BuildError (EngineUnreachable
    when the engine is gone), with `image.error` set."""
    ref = ImageRef.parse(image.ref)
    there = registry.digest(ref)
    if there is not None:
        ours = engine.repo_digest(image.ref)
        if ours == there:
            image.digest = there
            emit(BuildEvent(engine.name, cid, image.kind, "pushed", f"{image.ref}@{there} (already in the registry)"))
            return
        image.error = f"the registry has {there} since planning; not pushed"
        built = f"this build is {ours}" if ours else "this build was not pushed"
        raise TagConflict(
            f"{image.ref} appeared in the registry after planning, pointing at {there} ({built}); refusing to move "
            "it: find out who pushed it, then delete that tag or bump VERSION"
        )
    emit(BuildEvent(engine.name, cid, image.kind, "pushing", image.ref))
    try:
        digest = engine.push(image.ref, on_line=lambda _line: None)
    except ReleaseError as e:
        image.error = str(e)
        if isinstance(e, EngineUnreachable):
            raise
        raise BuildError(f"push {image.ref}: {e}") from None
    remote = registry.digest(ref)
    if remote != digest:
        image.error = f"registry has {remote}, engine pushed {digest}"
        raise BuildError(
            f"push {image.ref}: the registry reports {remote} but the engine pushed {digest}; another "
            "push may have raced this one: check the tag before using it"
        )
    image.pushed = True
    image.digest = digest
    emit(BuildEvent(engine.name, cid, image.kind, "pushed", f"{image.ref}@{digest}"))
