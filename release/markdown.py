"""Pure: the markdown pieces every renderer shares — a table that no cell can break, and inline code.

`table(headers, rows)` returns the table's lines. A cell's `|` is escaped (it would end the cell) and its line
breaks become `<br>` (a newline would end the row); everything else in a cell is markdown the caller chose
(links, `<br>`, inline code). `code(text)` is inline code that survives backticks inside `text`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_NEWLINE = re.compile(r"\r\n|\r|\n")
_TICKS = re.compile(r"`+")


def cell(text: str) -> str:
    """`text` as one table cell: `|` escaped, line breaks as `<br>`."""
    return _NEWLINE.sub("<br>", text.replace("|", "\\|"))


def code(text: str) -> str:
    """Inline code: fenced with one backtick more than the longest run inside, padded when it touches one."""
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    if not longest:
        return f"`{text}`"
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, wide_rule: bool = False) -> list[str]:
    """The lines of a table. An empty heading renders as one space (a key/value table without headings);
    `wide_rule` makes each rule as wide as its heading (`|------|` under `| Impl |`), else `|---|`."""
    head = "|" + "|".join(f" {cell(h)} " if h else " " for h in headers) + "|"
    rule = "|" + "|".join("-" * (len(cell(h)) + 2) if wide_rule else "---" for h in headers) + "|"
    body = []
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(headers)} columns: {row!r}")
        body.append("| " + " | ".join(cell(c) for c in row) + " |")
    return [head, rule, *body]
