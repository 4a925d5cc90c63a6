"""The CI health page in a real browser: headless Chromium (Debian `chromium`, installed by `nox -s tests`) loads
it from a file:// URL, applies the filter given in the URL (#filter=…&regressions=1) and takes screenshots in
light and dark mode. No DevTools client: `--dump-dom` prints the DOM after the page's script ran."""

from __future__ import annotations

import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from release import catalogue, ci_health, ci_health_page
from release.ci_results_file import parse_all_results
from release.sim.packages import CHROMIUM
from tests import ci_health_data as data

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio")  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, ci_health.HealthGrid]:
    cat = catalogue.load_path(ROOT / "workflows" / "model_specs.toml", version="0.5.0")
    rows = ci_health.rows_from_specs(cat.specs.values())
    runs = list(range(260, 230, -1))
    doc = data.document(data.random_plan([r.model_id for r in rows], len(runs), seed=11), runs)
    grid = ci_health.build_grid(parse_all_results(doc, source="models_ci_all_results_231_to_260.json"), rows)
    path = tmp_path_factory.mktemp("page") / "models_ci_health_231_to_260.html"
    path.write_text(ci_health_page.render(grid), encoding="utf-8")
    return path, grid


def chromium(tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    binary = CHROMIUM.found()
    assert binary, "chromium is missing: `nox -s tests` installs it (python -m release.sim.packages tests)"
    profile = tmp / f"profile-{time.monotonic_ns()}"  # a fresh profile every start
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


class Rows(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.groups: list[dict[str, str | None]] = []
        self.count = ""
        self._count = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-model" in a:
            self.rows.append(a)
        elif tag == "tr" and a.get("class") == "grp":
            self.groups.append(a)
        self._count = a.get("id") == "count"

    def handle_data(self, text: str) -> None:
        if self._count:
            self.count += text


def test_filter_from_the_url_hides_rows(page, tmp_path):
    path, grid = page
    start = time.monotonic()
    dom = chromium(tmp_path, f"{path.as_uri()}#filter=llama&regressions=1", "--dump-dom").stdout
    seen = Rows(dom)
    assert len(seen.rows) == len(grid.rows)
    shown = [r for r in seen.rows if "hidden" not in r]
    wanted = [r.model.model_id for r in grid.rows if "llama" in r.model.model_id.lower() and r.regression]
    assert wanted, "the generated history should have a regressed llama model"
    assert [r["data-model"] for r in shown] == wanted
    hidden_llama = [r for r in seen.rows if "hidden" in r and "llama" in str(r["data-model"]).lower()]
    assert hidden_llama  # llama models that did not regress are hidden too
    assert seen.count.strip() == f"{len(wanted)} of {len(grid.rows)} models shown"
    assert sum("hidden" not in g for g in seen.groups) == len(
        {r.model.model_name for r in grid.rows if r.model.model_id in wanted}
    )
    unfiltered = Rows(chromium(tmp_path, path.as_uri(), "--dump-dom").stdout)
    assert not [r for r in unfiltered.rows if "hidden" in r]
    assert time.monotonic() - start < 30


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot(page, tmp_path, scheme):
    path, _ = page
    shot = tmp_path / f"ci_health_{scheme}.png"
    dark = ("--force-dark-mode", "--blink-settings=preferredColorScheme=0") if scheme == "dark" else ()
    chromium(tmp_path, path.as_uri(), "--window-size=1600,1000", f"--screenshot={shot}", *dark)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


class Detail(HTMLParser):
    """The text and links of the details panel (#detail) in a dumped DOM."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text, self.links, self.hidden = "", [], True
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id") == "detail":
            self._depth, self.hidden = 1, "hidden" in a
        elif self._depth:
            self._depth += 1
            if tag == "a":
                self.links.append(str(a.get("href")))

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, text: str) -> None:
        if self._depth:
            self.text += text


def test_cell_details_from_the_url(page, tmp_path):
    path, grid = page
    row = next(r for r in grid.rows if r.last_good is not None and r.last_good.in_columns)
    cell = next(c for c in row.cells if c.last_good)
    assert cell.entry is not None and cell.entry.job is not None and cell.entry.summary is not None
    fragment = f"cell={row.model.model_id}@{cell.run_number}"
    detail = Detail(chromium(tmp_path, f"{path.as_uri()}#{fragment}", "--dump-dom").stdout)
    assert not detail.hidden
    summary, job = cell.entry.summary, cell.entry.job
    for part in (f"{row.model.model_id} · run #{cell.run_number}", f"job {job.job_id}: {job.name}",
                 f"image tag {str(summary.docker_image).rsplit(':', 1)[1]}", f"tt-metal {str(summary.tt_metal_commit)[:12]}",
                 "firmware 18.4.1, KMD 2.0.1", "★ last good run of this model"):  # fmt: skip
        assert part in detail.text, (part, detail.text)
    assert detail.links == [job.url, data.run_url(cell.run_number)]
    failing = next((r, c) for r in grid.rows for c in r.cells if c.state == "fail")
    fragment = f"cell={failing[0].model.model_id}@{failing[1].run_number}"
    detail = Detail(chromium(tmp_path, f"{path.as_uri()}#{fragment}", "--dump-dom").stdout)
    assert "\nfail\n" in detail.text and "; ".join(failing[1].reasons) in detail.text
