"""Pure text → text edits of workflows/model_specs.toml through tomlkit.

Only the named fields of the named templates change; comments, order and formatting of everything else stay
byte-identical. Absent fields are inserted at their natural place (vllm_commit after tt_metal_commit, status
after inference_engine).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import tomlkit
from tomlkit.items import Table

EDITABLE_FIELDS = ("tt_metal_commit", "vllm_commit", "status")
_INSERT_AFTER = {"tt_metal_commit": "impl", "vllm_commit": "tt_metal_commit", "status": "inference_engine"}


@dataclass(frozen=True)
class FieldChange:
    template_index: int
    field: str
    value: str


def apply_changes(text: str, changes: Iterable[FieldChange]) -> str:
    doc = tomlkit.parse(text)
    templates = doc["templates"]
    for change in changes:
        if change.field not in EDITABLE_FIELDS:
            raise ValueError(f"{change.field} is not an editable field")
        table = templates[change.template_index]
        assert isinstance(table, Table)
        if change.field in table:
            table[change.field] = change.value
            continue
        anchor = _INSERT_AFTER[change.field]
        if anchor in table:
            table.value._insert_after(anchor, change.field, tomlkit.item(change.value))
        else:
            table.value._insert_after("weights", change.field, tomlkit.item(change.value))
    return tomlkit.dumps(doc)
