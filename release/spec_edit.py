"""Pure text → text edits of workflows/model_specs.toml through tomlkit.

Only the named fields of the named templates change; comments, order and formatting of everything else stay
byte-identical. Absent fields are inserted at their natural place (vllm_commit after tt_metal_commit, status
after inference_engine).
"""

from __future__ import annotations

import uuid
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
    """The catalogue text with `changes` applied. Existing fields are replaced in place; absent ones are inserted
    on the line after their anchor field. Only tomlkit's public API is used (tomlkit has no public "insert after")."""
    doc = tomlkit.parse(text)
    templates = doc["templates"]
    inserts: list[FieldChange] = []
    for change in changes:
        if change.field not in EDITABLE_FIELDS:
            raise ValueError(f"{change.field} is not an editable field")
        table = templates[change.template_index]
        assert isinstance(table, Table)
        if change.field in table:
            table[change.field] = change.value
        else:
            inserts.append(change)
    out = tomlkit.dumps(doc)
    for change in inserts:
        out = _insert_after_anchor(out, change)
    return out


def _insert_after_anchor(text: str, change: FieldChange) -> str:
    """Insert `field = "value"` on the line after the template's anchor field.

    The anchor's value is swapped for a unique marker through the public API, which shows where its line is in
    the rendered text; the new line goes after that line, and the anchor's own text is put back.
    """
    doc = tomlkit.parse(text)
    table = doc["templates"][change.template_index]
    assert isinstance(table, Table)
    anchor = _INSERT_AFTER[change.field]
    if anchor not in table:
        anchor = "weights"
    original = table[anchor].as_string()
    marker = tomlkit.item(f"release-kit-anchor-{uuid.uuid4().hex}").as_string()
    table[anchor] = tomlkit.parse(f"x = {marker}")["x"]
    marked = tomlkit.dumps(doc)
    at = marked.index(marker)
    line_start = marked.rfind("\n", 0, at) + 1
    indent = marked[line_start : len(marked) - len(marked[line_start:].lstrip(" \t"))]
    line_end = marked.find("\n", at)
    line_end = len(marked) if line_end < 0 else line_end + 1
    new_line = f"{indent}{change.field} = {tomlkit.item(change.value).as_string()}\n"
    marked = marked[:line_end] + new_line + marked[line_end:]
    result = marked.replace(marker, original, 1)
    inserted = tomlkit.parse(result)["templates"][change.template_index]
    if inserted.get(change.field) != change.value:  # a layout this edit cannot handle: never write a wrong file
        raise ValueError(f"could not insert {change.field} into template {change.template_index}")
    return result
