"""release/spec_edit.py: text → text edits of the catalogue; nothing but the named fields changes.

`nox -s tomlkit` runs these against the oldest and the newest tomlkit pyproject.toml allows.
"""

from __future__ import annotations

import pytest

from release.spec_edit import FieldChange, apply_changes

CATALOGUE = """\
# the catalogue
[[impls]]
impl_id = "tt"

[[templates]]
weights = [
  "org/a",  # first
  "org/b",
]
impl = "tt"  # the impl
tt_metal_commit = "abc1234"   # pinned
# a comment above the engine
inference_engine = "vLLM"
status = "FUNCTIONAL"

    [[templates.devices]]
    device = "N150"

[[templates]]
weights = ["org/c"]
  impl = "tt"
inference_engine = "media"
"""


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_replacing_a_field_keeps_every_other_byte() -> None:
    out = apply_changes(CATALOGUE, [FieldChange(0, "tt_metal_commit", "1111111"), FieldChange(0, "status", "COMPLETE")])
    assert out == CATALOGUE.replace('"abc1234"', '"1111111"').replace('"FUNCTIONAL"', '"COMPLETE"')


@pytest.mark.parametrize(
    ("change", "after_line", "new_line"),
    [
        (FieldChange(0, "vllm_commit", "deadbee"), 'tt_metal_commit = "abc1234"   # pinned', 'vllm_commit = "deadbee"'),
        (FieldChange(1, "tt_metal_commit", "2222222"), '  impl = "tt"', '  tt_metal_commit = "2222222"'),
        (FieldChange(1, "status", "TOP_PERF"), 'inference_engine = "media"', 'status = "TOP_PERF"'),
    ],
)
def test_an_absent_field_goes_on_the_line_after_its_anchor(change: FieldChange, after_line: str, new_line: str) -> None:
    before = _lines(CATALOGUE)
    out = _lines(apply_changes(CATALOGUE, [change]))
    at = out.index(after_line, 0 if change.template_index == 0 else out.index("[[templates]]", 6))
    assert out[at + 1] == new_line
    assert out[: at + 1] + out[at + 2 :] == before


def test_vllm_commit_after_a_tt_metal_commit_inserted_in_the_same_edit() -> None:
    out = apply_changes(
        CATALOGUE, [FieldChange(1, "tt_metal_commit", "2222222"), FieldChange(1, "vllm_commit", "3333333")]
    )
    tail = _lines(out)[-5:]
    assert tail == ['weights = ["org/c"]', '  impl = "tt"', '  tt_metal_commit = "2222222"', '  vllm_commit = "3333333"',
                    'inference_engine = "media"']  # fmt: skip


def test_only_editable_fields() -> None:
    with pytest.raises(ValueError, match="not an editable field"):
        apply_changes(CATALOGUE, [FieldChange(0, "docker_image", "x")])
