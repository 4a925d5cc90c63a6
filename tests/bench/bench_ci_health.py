"""The CI health page at the size the issue names: the real catalogue (131 models) × 90 runs.

A generated all-results file (every model in every run, with a few KB of report per entry, as ci.read writes
them) is read from disk, turned into the grid and rendered; the page is written next to it. Measured: render
time against a 1 s budget, the whole `write_page` (read + parse + grid + render + atomic write), and the page
size against the few hundred KB the brief asked for (and gzipped, as it travels in a workflow artifact).
"""

from __future__ import annotations

import gzip
import json
import tempfile
import time
from pathlib import Path

from release import catalogue, ci_health, ci_health_page
from release.ci_results_file import read_all_results
from tests import ci_health_data as data
from tests.bench.__main__ import Row

ROOT = Path(__file__).resolve().parents[2]
RUNS = 90
REPORT = {"benchmarks_summary": [{"isl": 128, "osl": 128, "target_checks": {"functional": {"ttft_check": 2}}}] * 8,
          "evals": [{"task_name": f"task{i}", "accuracy_check": 2, "score": 71.2} for i in range(20)]}  # fmt: skip


def run() -> list[Row]:
    cat = catalogue.load_path(ROOT / "workflows" / "model_specs.toml", version="0.5.0")
    rows = ci_health.rows_from_specs(cat.specs.values())
    runs = list(range(300, 300 - RUNS, -1))
    doc = data.document(data.random_plan([r.model_id for r in rows], RUNS), runs)
    for items in doc.values():
        for item in items:
            item["workflow_logs"]["reports_output"] = REPORT
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"models_ci_all_results_{runs[-1]}_to_{runs[0]}.json"
        src.write_text(json.dumps(doc, indent=2))
        results = read_all_results(src)
        grid = ci_health.build_grid(results, rows)
        start = time.perf_counter()
        html = ci_health_page.render(grid)
        render_s = time.perf_counter() - start
        start = time.perf_counter()
        page = ci_health_page.write_page(src, rows=rows)
        total_s = time.perf_counter() - start
        json_mb = src.stat().st_size / 1e6
    size_kib = len(html.encode()) / 1024
    cells = len(rows) * RUNS
    label = f"ci.health page ({len(rows)} models × {RUNS} runs, {cells} cells)"
    return [
        Row(label, "render seconds vs 1 s budget", 1.0, round(render_s, 3), "< 1"),
        Row(label, f"write_page seconds (reads {json_mb:.0f} MB JSON)", 1.0, round(total_s, 3)),
        Row(label, "page KiB vs 300 KiB", 300, round(size_kib), "a few hundred KB"),
        Row(label, "page KiB gzipped vs 300 KiB", 300, round(len(gzip.compress(html.encode())) / 1024)),
        Row(label, "bytes per cell", 1, round(page.size / cells)),
    ]
