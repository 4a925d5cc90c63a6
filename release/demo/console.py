"""The demo's progress lines (it is a program, not a library: it prints)."""

from __future__ import annotations


def say(text: str = "") -> None:
    print(text, flush=True)


def banner(text: str) -> None:
    say(f"\n=== {text} " + "=" * max(3, 95 - len(text)))
