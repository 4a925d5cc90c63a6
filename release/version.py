"""Pure: release versions (MAJOR.MINOR.PATCH) and their increments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from release.errors import InputError

Increment = Literal["major", "minor", "patch"]
_INCREMENTS: dict[str, Increment] = {"major": "major", "minor": "minor", "patch": "patch"}
_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str, *, source: str = "VERSION") -> Version:
        m = _VERSION.match(text.strip())
        if not m:
            raise InputError(f"{source}: {text.strip()!r} is not a MAJOR.MINOR.PATCH version (e.g. 0.5.0)")
        return cls(int(m[1]), int(m[2]), int(m[3]))

    def bump(self, increment: Increment) -> Version:
        if increment == "major":
            return Version(self.major + 1, 0, 0)
        if increment == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse_increment(text: str | None, *, flag: str = "--increment") -> Increment | None:
    """The one check of an increment flag: major, minor, patch, or none given."""
    if text is None:
        return None
    found = _INCREMENTS.get(text)
    if found is not None:
        return found
    raise InputError(f"{flag} must be major, minor or patch (got {text!r})")


def file_text(version: Version) -> str:
    """The VERSION file's content: the version and a newline."""
    return f"{version}\n"
