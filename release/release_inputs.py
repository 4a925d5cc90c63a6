"""Finding and reading the files earlier steps left in `release_logs/` (read-only).

`models_ci_{last_good,all_results}_{min}_to_{max}.json` come from `inv ci.read`; the newest is the one with the
highest run number. A missing optional file gives None: the notes then say UNKNOWN for that part.
"""

from __future__ import annotations

import re
from pathlib import Path

from release import fsio

_CI_SPAN = re.compile(r"^models_ci_(?:last_good|all_results)_(.+)\.json$")
_CI_FILE = re.compile(r"^models_ci_(last_good|all_results)_(\w+?)_to_(\w+)\.json$")


def newest_ci_file(release_logs: Path, kind: str) -> Path | None:
    """The `models_ci_<kind>_*_to_*.json` with the highest max run number (then min, then name)."""
    found: list[tuple[int, int, str, Path]] = []
    if not Path(release_logs).is_dir():
        return None
    for p in Path(release_logs).iterdir():
        m = _CI_FILE.match(p.name)
        if m and m[1] == kind:
            found.append((_num(m[3]), _num(m[2]), p.name, p))
    return max(found)[3] if found else None


def ci_span(ci_file: Path) -> str | None:
    """The runs part of `models_ci_{last_good,all_results}_{span}.json` (`190_to_293`, or `none`)."""
    m = _CI_SPAN.match(Path(ci_file).name)
    return m[1] if m else None


def health_page_name(ci_file: Path) -> str | None:
    """The CI health page `inv ci.read` writes next to `models_ci_{last_good,all_results}_{span}.json`:
    `models_ci_health_{span}.html`; None for other names."""
    span = ci_span(ci_file)
    return f"models_ci_health_{span}.html" if span else None


def read_text(path: Path) -> str | None:
    return fsio.read_text_if_exists(path)


def _num(text: str) -> int:
    return int(text) if text.isdigit() else -1
