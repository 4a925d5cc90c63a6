"""The one markdown table helper: no cell text can end a cell or a row; inline code survives backticks."""

from __future__ import annotations

import pytest

from release.markdown import cell, code, table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("2 copied | VERSION 0.6.0", "2 copied \\| VERSION 0.6.0"),
        ("a|b|c", "a\\|b\\|c"),
        ("line one\nline two", "line one<br>line two"),
        ("crlf\r\nand cr\rend", "crlf<br>and cr<br>end"),
        ("`code|span`", "`code\\|span`"),
        ("[Run 1](https://x/y)", "[Run 1](https://x/y)"),
        ("", ""),
    ],
)
def test_cell_escapes_what_would_break_the_table(text: str, expected: str) -> None:
    assert cell(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc", "`abc`"),
        ("", "``"),
        ("a`b", "`` a`b ``"),
        ("``x`", "``` ``x` ```"),
    ],
)
def test_code_fences_around_backticks(text: str, expected: str) -> None:
    assert code(text) == expected


def test_table_lines() -> None:
    assert table(("Step", "Result"), [("ci.read", "1 | 2"), ("notes", "")]) == [
        "| Step | Result |",
        "|---|---|",
        "| ci.read | 1 \\| 2 |",
        "| notes |  |",
    ]


def test_wide_rules_and_headless_tables() -> None:
    assert table(("Impl", "CI run"), [], wide_rule=True) == ["| Impl | CI run |", "|------|--------|"]
    assert table(("", ""), [("Version", "`0.6.0`")]) == ["| | |", "|---|---|", "| Version | `0.6.0` |"]


def test_a_row_of_the_wrong_width_is_a_bug() -> None:
    with pytest.raises(ValueError, match="a row of 1 cells in a table of 2 columns"):
        table(("a", "b"), [("x",)])
