"""What a command reports through `on_event` (libraries stay quiet; the task's display prints): the callback's type,
and the callback a command has when nobody listens."""

from __future__ import annotations

from collections.abc import Callable

OnEvent = Callable[[object], None]


def ignore(_event: object) -> None:
    """The default `on_event`: nobody listens."""
