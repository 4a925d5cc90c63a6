"""The artifacts summary's one reader: what the kit writes reads back the same; hand-made lists (§5.5 keys only)
read with the rest empty; anything else is one InputError line naming the file and the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given

from release import artifacts_summary
from release.errors import InputError
from tests.fuzz import READER, any_json, json_values, value_or_one_line_error

GOLDEN = Path(__file__).parent / "golden" / "promote"


def test_a_hand_made_list_reads_with_the_rest_empty() -> None:
    s = artifacts_summary.parse({"copied_images": {"ghcr.io/a/b:1": "ghcr.io/c/d:1"}}, source="s.json")
    assert s.copied == {"ghcr.io/a/b:1": "ghcr.io/c/d:1"} and s.images_to_build is None and s.to_build == ()
    assert artifacts_summary.parse({"images_to_build": []}, source="s.json").images_to_build == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], r"s.json: expected a JSON object \(an artifacts summary\), got a list"),
        ({"images_to_build": "x"}, "s.json: images_to_build: expected a list of image names, got a string"),
        ({"copied_images": {"a": 1}}, "s.json: copied_images.a: expected a string, got a number"),
        ({"copied_images": []}, "s.json: copied_images: expected an object, got a list"),
        ({"images": {"a": {"action": "move"}}}, "s.json: images.a.action: expected copy | skip | conflict | build"),
        ({"images": {"a": {"action": "copy", "ci_run_number": "7"}}}, "s.json: images.a.ci_run_number: expected an"),
        ({"conflicts": [{"src": "x"}]}, r"s.json: conflicts\[0\].dst: expected an image name, got null"),
        ({"failed": {}}, "s.json: failed: expected a list, got an object"),
        ({"mode": 3}, "s.json: mode: expected a string or null, got a number"),
    ],
)
def test_refusals_name_the_file_and_the_key(data, message) -> None:
    with pytest.raises(InputError, match=message):
        artifacts_summary.parse(data, source="s.json")


def test_read_names_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "dev_artifacts_summary.json"
    assert artifacts_summary.read_if_exists(path) is None
    path.write_text("{")
    with pytest.raises(InputError, match="dev_artifacts_summary.json: not valid JSON"):
        artifacts_summary.read(path)
    path.write_text((GOLDEN / "dev_artifacts_summary.json").read_text())
    assert artifacts_summary.read(path).mode == "dev"


keys = ("images_to_build", "copied_images", "existing_without_ci_ref", "conflicts", "failed", "images", "mode")


@READER
@given(data=any_json(**dict.fromkeys(keys, json_values)))
def test_anything_parses_or_is_one_input_error(data) -> None:
    summary = value_or_one_line_error(lambda: artifacts_summary.parse(data, source="s.json"), source="s.json")
    if summary is not None:
        artifacts_summary.render(summary)
        written = summary.to_json()
        assert artifacts_summary.parse(json.loads(json.dumps(written)), source="s.json").to_json() == written
