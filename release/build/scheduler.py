"""Groups of work spread over engines: the scheduling of `inv images.build`, apart from what a unit of work is.

- A group's items run one after the other, on one engine (units that share a tt-metal commit share its base
  image, built once).
- A group that names an engine (its images are there already) waits for that engine; the others go to whichever
  engine is free first.
- `jobs` workers per engine: at most `jobs` groups run at the same time on one engine.
- Failure isolation: `work` records an item's own failure and returns. It raises `EngineUnreachable` when the
  engine stopped answering: that engine takes no more work, and the rest of its group and its waiting groups go
  to the engines still alive, or to `stranded` when none is left. Any other exception is a bug: no new work
  starts, and it is raised again in the caller's thread with its traceback.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from release.config import at_least
from release.errors import ConfigError, EngineUnreachable

E = TypeVar("E")
T = TypeVar("T")


@dataclass(frozen=True)
class Group(Generic[T]):
    items: tuple[T, ...]
    engine: str | None = None  # the engine this group must run on; None: the first one free


class _Queues(Generic[T]):
    """The waiting groups (one queue per engine, one shared) and the engines still alive, under one lock."""

    def __init__(self, engines: Sequence[str], groups: Iterable[Group[T]]) -> None:
        self._lock = threading.Lock()
        self._alive = list(engines)
        self._shared: deque[Sequence[T]] = deque()
        self._pinned: dict[str, deque[Sequence[T]]] = {name: deque() for name in engines}
        for group in groups:
            self._pinned.get(group.engine or "", self._shared).append(group.items)

    def alive(self) -> list[str]:
        with self._lock:
            return list(self._alive)

    def take(self, engine: str) -> Sequence[T] | None:
        """The next group for `engine`: its own first, then a shared one; None when there is none or the engine
        is down."""
        with self._lock:
            if engine not in self._alive:
                return None
            for waiting in (self._pinned[engine], self._shared):
                if waiting:
                    return waiting.popleft()
            return None

    def engine_down(self, engine: str, rest: Sequence[T]) -> list[T]:
        """`engine` is gone: hand `rest` and its waiting groups to the others. Returns the items no engine is
        left to run."""
        with self._lock:
            if engine in self._alive:
                self._alive.remove(engine)
            leftovers = ([rest] if rest else []) + list(self._pinned[engine])
            self._pinned[engine].clear()
            if self._alive:
                self._shared.extend(leftovers)
                return []
            leftovers += list(self._shared)
            self._shared.clear()
            return [item for group in leftovers for item in group]

    def pending(self) -> bool:
        """Work waits and an engine alive could run it."""
        with self._lock:
            return bool(self._alive) and (bool(self._shared) or any(self._pinned[n] for n in self._alive))


class Scheduler(Generic[E, T]):
    """`Scheduler(engines, jobs=2).run(groups, work, stranded=...)`: see the module's docstring."""

    def __init__(self, engines: Mapping[str, E], *, jobs: int = 1) -> None:
        if not engines:
            raise ConfigError("no Docker engine: set DOCKER_HOST or pass --docker-host")
        at_least(jobs, 1, "--jobs")
        self.engines = dict(engines)
        self.jobs = jobs

    def run(
        self,
        groups: Iterable[Group[T]],
        work: Callable[[str, E, T], None],
        *,
        stranded: Callable[[T, str], None],
    ) -> None:
        """Run every item with `work(engine_name, engine, item)`; an item no engine is left to run goes to
        `stranded(item, name of the engine that went down last)`."""
        queues = _Queues(list(self.engines), groups)
        crashed: list[BaseException] = []
        # An engine that goes down late may hand work back after the others have finished: start them again.
        while queues.pending():
            threads = [
                threading.Thread(
                    target=self._worker,
                    args=(name, queues, work, stranded, crashed),
                    name=f"build-{name}-{i}",
                    daemon=True,
                )
                for name in queues.alive()
                for i in range(self.jobs)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if crashed:
                raise crashed[0]

    def _worker(
        self,
        name: str,
        queues: _Queues[T],
        work: Callable[[str, E, T], None],
        stranded: Callable[[T, str], None],
        crashed: list[BaseException],
    ) -> None:
        engine = self.engines[name]
        try:
            while not crashed and (group := queues.take(name)) is not None:
                for i, item in enumerate(group):
                    try:
                        work(name, engine, item)
                    except EngineUnreachable:
                        for lost in queues.engine_down(name, group[i + 1 :]):
                            stranded(lost, name)
                        return
        except BaseException as e:  # a bug: raised again in the calling thread with its traceback
            crashed.append(e)
