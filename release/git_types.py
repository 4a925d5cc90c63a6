"""Pure values of the git client: what `Git.commits` returns, importable without the client (no subprocess)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    subject: str
    message: str

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1
