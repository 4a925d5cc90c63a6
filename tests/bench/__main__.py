"""`nox -s bench`: run every tests/bench/bench_*.py and print one table of measured ratios.

Each module exposes `run() -> list[Row]`. Numbers are measured and printed, never asserted.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass

from tabulate import tabulate


@dataclass(frozen=True)
class Row:
    benchmark: str
    metric: str
    baseline: float
    ours: float
    target: str = ""

    @property
    def ratio(self) -> str:
        if self.baseline == 0:
            return "n/a"
        return f"{self.ours / self.baseline:.3f}"


def main(argv: list[str]) -> int:
    import tests.bench as pkg

    wanted = set(argv)
    rows: list[Row] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        short = info.name.removeprefix("bench_")
        if wanted and short not in wanted:
            continue
        module = importlib.import_module(f"tests.bench.{info.name}")
        print(f"running {short} ...", file=sys.stderr, flush=True)
        rows.extend(module.run())
    table = [(r.benchmark, r.metric, f"{r.baseline:g}", f"{r.ours:g}", r.ratio, r.target) for r in rows]
    print(tabulate(table, headers=["benchmark", "metric", "baseline", "ours", "ours/baseline", "target"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
