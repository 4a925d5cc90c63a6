"""The typed models diff (release_models_diff.json): written by spec.update, read back by one parser, rendered by one
renderer. The file is committed on release branches, so its reader refuses anything else in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from release import models_diff
from release.errors import InputError
from tests.fuzz import READER, json_values, value_or_one_line_error

DATA = Path(__file__).parent / "data" / "gitflow" / "release_models_diff.json"


def saved() -> dict:
    return json.loads(DATA.read_text())


def test_round_trip() -> None:
    diff = models_diff.parse(saved(), source="d.json")
    assert diff.to_json() == saved()
    assert models_diff.render(diff).startswith("# Model Spec Release Updates\n\nThis document shows")


def test_no_rows_renders_no_updates() -> None:
    text = models_diff.render(models_diff.ModelsDiff(rows=(), against="origin/main"))
    assert "updates against `origin/main`." in text and "No updates were made." in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema=2), "d.json: schema: expected 1, got 2"),
        (lambda d: d.update(rows={}), "d.json: rows: expected a list"),
        (lambda d: d["rows"].__setitem__(0, "x"), r"d.json: rows\[0\]: expected an object"),
        (lambda d: d["rows"][0].update(ci_run_number="236"), r"d.json: rows\[0\].ci_run_number: expected an integer"),
        (lambda d: d["rows"][1].pop("impl_id"), r"d.json: rows\[1\].impl_id: expected a string, got null"),
        (lambda d: d["rows"][0].update(weights=[1]), r"d.json: rows\[0\].weights: expected a list of strings"),
        (lambda d: d["held_back"][0].update(docker_image=None), r"held_back\[0\].docker_image: expected a string"),
        (lambda d: d.update(against=5), "d.json: against: expected a string or null, got a number"),
    ],
)
def test_refusals_name_the_file_and_the_key(change, message) -> None:
    data = saved()
    change(data)
    with pytest.raises(InputError, match=message):
        models_diff.parse(data, source="d.json")


row_like = st.fixed_dictionaries({}, optional={k: json_values for k in ("impl_id", "model_arch", "weights", "devices")})


@READER
@given(
    data=json_values
    | st.fixed_dictionaries({"schema": st.just(1)}, optional={"rows": st.lists(row_like | json_values, max_size=3)})
)
def test_anything_parses_or_is_one_input_error(data) -> None:
    diff = value_or_one_line_error(lambda: models_diff.parse(data, source="d.json"), source="d.json")
    if diff is not None:
        models_diff.render(diff)
