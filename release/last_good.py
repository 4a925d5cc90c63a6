"""Pure: choose each catalogue model's last good Models CI entry.

Last good = the model's passing entry from the highest run_number; ties (the same run) go to the job that
completed last, then to the highest artifact id, so the choice never depends on processing order.
Entries of model_ids that are not in the catalogue are reported by `unknown_model_ids`, never selected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from release.ci_model import CiEntry, ModelRef


def select_last_good(entries: Iterable[CiEntry], models: Sequence[ModelRef]) -> dict[str, CiEntry | None]:
    """{model_id: its last good entry or None}, with one key per catalogue model, in catalogue order."""
    best: dict[str, CiEntry] = {}
    for entry in entries:
        if not entry.is_passing or entry.model_id is None:
            continue
        have = best.get(entry.model_id)
        if have is None or entry.order_key() > have.order_key():
            best[entry.model_id] = entry
    return {m.model_id: best.get(m.model_id) for m in models}


def unknown_model_ids(entries: Iterable[CiEntry], models: Sequence[ModelRef]) -> list[str]:
    """CI model_ids that the catalogue does not know (reported, never kept in last good)."""
    known = {m.model_id for m in models}
    return sorted({e.model_id for e in entries if e.model_id is not None and e.model_id not in known})
