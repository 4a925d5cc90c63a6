"""The Models CI health page: the grid model, the all-results reader, the HTML (golden, structure, escaping,
nothing loaded from outside) and `inv ci.health`."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release import catalogue, ci_health, ci_health_page, fsio
from release.ci_results_file import parse_all_results, read_all_results
from release.errors import InputError
from release.last_good_file import parse_last_good
from tests import ci_health_data as data
from tests.cli import run_inv

ROOT = Path(__file__).resolve().parent.parent
RUNS = [106, 105, 104, 103, 102, 101]
ROWS = data.rows(
    ("Alpha-8B", "N150", "tt-transformers", "COMPLETE"),
    ("Alpha-8B", "T3K", "tt-transformers", "FUNCTIONAL"),
    ("Beta-1B", "N150", "tt-transformers", "EXPERIMENTAL"),
    ("Gamma-70B", "GALAXY", "llama3-70b-galaxy", "TOP_PERF"),
    ("Alpha-8B", "P150X4", "tt-transformers", "EXPERIMENTAL"),
    ("Delta-3B", "N300", "tt-transformers", "COMPLETE"),
)
A_N150, A_T3K, BETA, GAMMA, A_P150X4, DELTA = (r.model_id for r in ROWS)
PLAN: dict[str, list[str | None]] = {
    A_N150: ["target", "target", None, "complete", "complete", "functional"],
    A_T3K: ["fail-accuracy", "fail-perf", "functional", "functional", None, "experimental"],
    BETA: ["fail-evals", "unparseable", "fail-accuracy", None, None, None],
    GAMMA: ["in-progress", "cancelled", "target", "target", "target", "target"],
    A_P150X4: [None] * 6,
    DELTA: ["complete", "fail-accuracy", "complete", "experimental", "functional", "target"],
    "id_tt-transformers_Retired-1B_n150": ["target", None, None, None, None, None],
}


def small_history() -> dict[str, list[dict[str, Any]]]:
    doc = data.document(PLAN, RUNS)
    # run 105 of Delta has two entries (a re-run): the failing one is newer, the passing one is what counts
    passing = data.entry(DELTA, 105, "complete", position=40, hardware=True)
    doc[DELTA].insert(2, passing)
    doc["_unidentified"] = [{**data.entry("?", 104, "unparseable"), "workflow_logs": {"summary": None}}]
    return doc


def grid(doc: dict | None = None, **kw: Any) -> ci_health.HealthGrid:
    results = parse_all_results(
        doc if doc is not None else small_history(), source="models_ci_all_results_101_to_106.json"
    )
    return ci_health.build_grid(results, ROWS, **kw)


def row(g: ci_health.HealthGrid, model_id: str) -> ci_health.ModelRow:
    return next(r for r in g.rows if r.model.model_id == model_id)


def states(g: ci_health.HealthGrid, model_id: str) -> list[str]:
    return [c.state for c in row(g, model_id).cells]


# ------------------------------------------------------------------------------------------- the grid


def test_grid_rows_columns_and_states():
    g = grid()
    assert [r.run_number for r in g.runs] == RUNS
    assert [grp.name for grp in g.groups] == ["Alpha-8B", "Beta-1B", "Gamma-70B", "Delta-3B"]
    assert [r.model.model_id for r in g.groups[0].rows] == [A_N150, A_T3K, A_P150X4]
    assert states(g, A_N150) == ["target", "target", "no-report", "complete", "complete", "functional"]
    assert states(g, A_T3K) == ["fail", "fail", "functional", "functional", "no-report", "experimental"]
    assert states(g, BETA) == ["fail", "no-report", "fail", "no-report", "no-report", "no-report"]
    assert states(g, GAMMA) == ["incomplete", "incomplete", "target", "target", "target", "target"]
    assert states(g, A_P150X4) == ["incomplete", "no-report", "no-report", "no-report", "no-report", "no-report"]
    assert states(g, DELTA)[:2] == ["complete", "complete"]  # the passing re-run counts
    assert not g.runs[0].completed and all(r.completed for r in g.runs[1:])
    assert (g.runs[1].passed, g.runs[1].failed, g.runs[1].incomplete, g.runs[1].missing) == (2, 1, 1, 2)
    assert g.not_in_catalogue == (("id_tt-transformers_Retired-1B_n150", 1), ("_unidentified", 1))
    assert (g.repo, g.workflow_file) == ("tenstorrent/tt-shield", "on-nightly.yml")


def test_reasons_of_failures():
    g = grid()
    t3k = row(g, A_T3K).cells
    assert t3k[0].reasons == ("accuracy check failed",)
    assert t3k[1].reasons == ("perf checks missing (no target_checks)",)
    assert row(g, BETA).cells[0].reasons == ("evals missing or without accuracy_check",)
    assert row(g, BETA).cells[1].reasons[0].startswith("report unreadable: reports_output: malformed JSON")
    assert row(g, GAMMA).cells[1].reasons == ("job completed, conclusion cancelled",)


def test_streaks_regressions_and_last_good():
    g = grid()
    a = row(g, A_N150)
    assert (a.streak.outcome, a.streak.length, a.last_good.run_number) == ("pass", 5, 106)
    t3k = row(g, A_T3K)
    assert (t3k.streak.outcome, t3k.streak.length, t3k.failing_since) == ("fail", 2, 105)
    assert t3k.regression and t3k.last_good.run_number == 104
    assert row(g, BETA).last_good is None and not row(g, BETA).regression  # never passed: flagged, not regressed
    assert row(g, GAMMA).streak.length == 4 and row(g, GAMMA).last_good.run_number == 104
    assert [r.model.model_id for r in g.without_last_good] == [A_P150X4, BETA]  # page order
    assert [r.model.model_id for r in g.regressions] == [A_T3K]
    for r in g.rows:  # exactly one marked cell per model with a last good, none otherwise
        marked = [c.run_number for c in r.cells if c.last_good]
        assert marked == ([r.last_good.run_number] if r.last_good else [])
        assert all(c.passed for c in r.cells if c.last_good)


def test_computed_last_good_is_ci_reads_rule_including_ties():
    doc = small_history()
    # two passing entries of one run: ci.read keeps the job that completed last (listed first in the file)
    first = data.entry(A_P150X4, 103, "functional", position=3)
    second = data.entry(A_P150X4, 103, "target", position=2)
    doc[A_P150X4] = [first, second]
    g = grid(doc)
    mark = row(g, A_P150X4).last_good
    assert mark.run_number == 103 and mark.perf_status == "functional" and mark.source == "computed"
    assert row(g, A_P150X4).cells[3].state == "functional"


def record(run: int, **fields: Any) -> dict[str, Any]:
    base = {"tt_metal_commit": "a" * 40, "vllm_commit": "b" * 7, "docker_image": "img:1", "perf_status": "functional"}
    return {**base, "ci_run_number": run, **fields}


def test_last_good_file_decides_the_mark():
    records = parse_last_good(
        {
            A_N150: record(103, perf_status="complete", ci_job_url="javascript:alert(1)"),
            A_T3K: record(90),
            BETA: {},
            "id_gone_n150": {},
        },
        source="lg.json",
    )
    g = grid(last_good=records, last_good_source="lg.json")
    assert g.last_good_source == "lg.json"
    assert row(g, A_N150).last_good.run_number == 103 and row(g, A_N150).cells[3].last_good
    assert row(g, A_N150).last_good.job_url is None  # not an http(s) URL: no link
    assert row(g, A_N150).last_good.run_url == data.run_url(103)
    t3k = row(g, A_T3K).last_good
    assert t3k.run_number == 90 and not t3k.in_columns and not any(c.last_good for c in row(g, A_T3K).cells)
    assert row(g, GAMMA).last_good is None  # not in the file: no last good, even though it passed
    assert g.last_good_not_in_catalogue == ("id_gone_n150",)


def test_safe_url():
    assert ci_health.safe_url("https://github.com/o/r/actions/runs/1") == "https://github.com/o/r/actions/runs/1"
    for bad in ("javascript:alert(1)", "data:text/html,x", 'https://x/"onmouseover=1', "https://a b", None, 3, ""):
        assert ci_health.safe_url(bad) is None


# ------------------------------------------------------------------------------------------- the reader


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ([], "expected a JSON object"),
        ({"m": {}}, "m: expected a list of entries"),
        ({"m": [3]}, "m[0]: expected an object"),
        ({"m": [{"ci_metadata": []}]}, "m[0].ci_metadata: expected an object or null"),
        ({"m": [{"ci_metadata": {"run_id": 1}}]}, "m[0].ci_metadata.run_number: missing"),
        ({"m": [{"ci_metadata": {"run_id": 1, "run_number": -4}}]}, "run_number: expected a non-negative integer"),
        ({"m": [{"ci_metadata": {"run_id": True, "run_number": 4}}]}, "run_id: expected a non-negative integer"),
        ({"m": [{"workflow_logs": {"summary": {"is_passing": "yes"}}}]}, "summary.is_passing: expected true"),
        ({"m": [{"ci_metadata": {"run_id": 1, "run_number": 2, "ci_job_metadata": {"job_name": 5}}}]}, "job_name"),
        ({"": []}, "key is empty"),
    ],
)
def test_reader_rejects_bad_shapes_naming_the_place(doc, needle):
    with pytest.raises(InputError) as e:
        parse_all_results(doc, source="f.json")
    assert str(e.value).startswith("f.json: ") and needle in str(e.value)


def test_reader_bounds_and_accepts_digit_strings(tmp_path, monkeypatch):
    doc = small_history()
    doc[A_N150][0]["ci_metadata"]["run_number"] = "106"
    doc[A_N150][0]["ci_metadata"]["ci_job_metadata"]["job_name"] = "x" * 5000
    results = parse_all_results(doc, source="f")
    first = results.by_key[A_N150][0]
    assert first.run.run_number == 106 and len(first.job.name) == 1000 and first.job.name.endswith("…")
    big = tmp_path / "big.json"
    big.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="bytes is more than the 100"):
        fsio.read_json(big, max_bytes=100)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="nested too deeply"):
        read_all_results(deep)
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"a": [\xff')
    with pytest.raises(InputError, match="not UTF-8"):
        read_all_results(broken)
    with pytest.raises(InputError, match="file not found"):
        read_all_results(tmp_path / "missing.json")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**64) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["run_id", "run_number", "job_id", "job_name", "job_status", "is_passing", "perf_status", "ci_run_url",
          "summary", "ci_metadata", "ci_job_metadata", "workflow_logs", "job_url", "accuracy_status"]  # fmt: skip


def _mutations() -> st.SearchStrategy[dict]:
    """A valid history with random values dropped into the fields the reader uses."""

    def mutate(doc: dict, picks: list[tuple[int, int, Any]]) -> dict:
        keys = list(doc)
        for k, f, value in picks:
            entries = doc[keys[k % len(keys)]]
            target = entries[k % len(entries)]
            name = FIELDS[f % len(FIELDS)]
            for obj in (target, target["ci_metadata"] or {}, target["workflow_logs"]):
                if isinstance(obj, dict) and name in obj:
                    obj[name] = value
        return doc

    picks = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), JSON), max_size=4)
    return picks.map(lambda p: mutate(json.loads(json.dumps(small_history())), p))


@settings(
    max_examples=150, deadline=2000, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)  # fixed cases (a failure reproduces), generous deadline for a shared 2-core machine
@given(st.one_of(JSON, st.dictionaries(st.text(max_size=6), st.lists(JSON, max_size=3), max_size=3), _mutations()))
def test_reader_takes_any_json_and_the_page_renders_what_it_accepts(doc):
    try:
        results = parse_all_results(doc, source="h.json")
    except InputError as e:
        assert str(e).startswith("h.json")
        return
    html = ci_health_page.render(ci_health.build_grid(results, ROWS))
    assert html.count("<script") == 2


# ------------------------------------------------------------------------------------------- the page


class Page(HTMLParser):
    """The parts of the page the tests look at (attribute values come back unescaped)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[dict[str, str | None]] = []
        self.cells: list[dict[str, str | None]] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr" and "data-model" in a:
            self.rows.append(a)
        if tag == "td" and "data-state" in a:
            self.cells.append(a)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, text: str) -> None:
        if self._in_style:
            self.styles.append(text)

    def marks(self) -> dict[str, int]:
        return {str(c["data-model"]): int(str(c["data-run"])) for c in self.cells if c.get("data-last-good")}


def test_page_golden(golden):
    golden.check("ci_health/models_ci_health_101_to_106.html", ci_health_page.render(grid()))


def test_page_structure_every_model_every_run():
    g = grid()
    page = Page(ci_health_page.render(g))
    assert [r["data-model"] for r in page.rows] == [r.model.model_id for r in g.rows]
    assert len(page.cells) == len(ROWS) * len(RUNS)
    for cell, (model, c) in zip(page.cells, [(r, c) for r in g.rows for c in r.cells], strict=True):
        assert cell["data-model"] == model.model.model_id
        assert cell["data-run"] == str(c.run_number)
        assert cell["data-state"] == c.state in ci_health.STATES
    assert page.marks() == {r.model.model_id: r.last_good.run_number for r in g.rows if r.last_good}
    assert {r["data-model"] for r in page.rows if r.get("data-regression") == "true"} == {A_T3K}
    assert {r["data-model"] for r in page.rows if r.get("data-no-last-good") == "true"} == {BETA, A_P150X4}


def test_page_of_the_real_catalogue_has_every_model():
    cat = catalogue.load_path(ROOT / "workflows" / "model_specs.toml", version="0.5.0")
    rows = ci_health.rows_from_specs(cat.specs.values())
    doc = data.document(data.random_plan([r.model_id for r in rows[:20]], 5), [205, 204, 203, 202, 201])
    g = ci_health.build_grid(parse_all_results(doc, source="x.json"), rows)
    page = Page(ci_health_page.render(g))
    shown = [str(r["data-model"]) for r in page.rows]
    assert sorted(shown) == sorted(cat.specs) and len(shown) == len(cat.specs) == len(g.rows)
    order = {m: i for i, m in enumerate(cat.specs)}
    for group in g.groups:  # catalogue order inside a group; groups in the order of their first model
        ids = [r.model.model_id for r in group.rows]
        assert ids == sorted(ids, key=order.__getitem__) and {cat.specs[m].model_name for m in ids} == {group.name}
    firsts = [order[grp.rows[0].model.model_id] for grp in g.groups]
    assert firsts == sorted(firsts)
    assert len(page.cells) == len(cat.specs) * 5


HOSTILE_ID = 'id_<script>alert("x")</script>_a&b\'c_ü_n150'
HOSTILE_JOB = '</script><img src=x onerror=alert(1)> "quoted" & more'


def test_hostile_names_are_escaped():
    rows = [*ROWS, ci_health.CatalogueRow(HOSTILE_ID, "<b>bold</b>", "N150", "<i>impl", "EXPERIMENTAL")]
    doc = small_history()
    doc[HOSTILE_ID] = [data.entry(HOSTILE_ID, 106, "fail-accuracy", job_name=HOSTILE_JOB),
                       data.entry(HOSTILE_ID, 105, "target", job_name=HOSTILE_JOB)]  # fmt: skip
    doc[HOSTILE_ID][0]["ci_metadata"]["ci_run_url"] = "javascript:alert(2)"
    doc[HOSTILE_ID][1]["ci_metadata"]["ci_job_metadata"]["job_url"] = 'https://x/"><script>alert(3)</script>'
    doc["<svg onload=alert(4)>"] = [data.entry("<svg>", 104, "target")]
    g = ci_health.build_grid(parse_all_results(doc, source="<f>.json"), rows)
    html = ci_health_page.render(g)
    assert html.count("<script") == 2 and "<img" not in html and "<svg" not in html and "<b>bold" not in html
    assert "javascript:" not in html and "alert(3)" not in html.split('id="cells"')[0]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;_a&amp;b&#39;c_ü_n150" in html
    assert "\\u003c/script\\u003e\\u003cimg" in html  # inside the JSON block
    page = Page(html)
    hostile = [c for c in page.cells if c["data-model"] == HOSTILE_ID]
    assert [c["data-state"] for c in hostile[:3]] == ["fail", "target", "no-report"]
    assert hostile[1].get("data-last-good") == "true"
    blob = json.loads(html.split('<script type="application/json" id="cells">')[1].split("</script>")[0])
    assert HOSTILE_JOB in blob["s"]


def test_page_loads_nothing_from_outside():
    html = ci_health_page.render(grid())
    page = Page(html)
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "data", "poster", "action", "background"):
            value = str(attrs.get(name) or "")
            if tag == "a" and name == "href":
                assert value.startswith(("https://github.com/", "#")), value
            else:
                assert not value, f"<{tag} {name}={value!r}>"
        assert tag not in ("link", "img", "iframe", "object", "embed", "base", "form", "video", "audio", "source")
    css = "".join(page.styles)
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    assert "url(" not in html and "fetch(" not in html and "XMLHttpRequest" not in html
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in str(csp)
    assert "prefers-color-scheme:dark" in css


def test_page_names_and_template_shipped():
    assert ci_health_page.page_path(Path("/x/models_ci_all_results_1_to_9.json")) == Path(
        "/x/models_ci_health_1_to_9.html"
    )
    assert ci_health_page.page_path(Path("/x/mine.json")) == Path("/x/mine.health.html")
    assert ci_health_page.page_path(Path("models_ci_all_results_none.json")).name == "models_ci_health_none.html"
    package_data = tomlkit.parse((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(fnmatch("templates/ci_health.html.j2", g) for g in package_data["release"])
    assert (ROOT / "release" / "templates" / "ci_health.html.j2").is_file()


def test_size_stays_small_per_cell():
    model_ids = [f"id_tt-transformers_Model-{i}B-Instruct_n150" for i in range(40)]
    rows = [ci_health.CatalogueRow(m, m[19:-5], "N150", "tt-transformers", "COMPLETE") for m in model_ids]
    runs = list(range(130, 100, -1))
    doc = data.document(data.random_plan(model_ids, len(runs)), runs)
    html = ci_health_page.render(ci_health.build_grid(parse_all_results(doc, source="s.json"), rows))
    per_cell = len(html.encode()) / (len(rows) * len(runs))
    assert per_cell < 200, per_cell  # data-model/run/state + the cell's details in the JSON block


# ------------------------------------------------------------------------------------------- the task


def inv(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_PAT", "GITHUB_TOKEN")}
    env["RELEASE_REPO_ROOT"] = str(ROOT)
    env["GITHUB_API_URL"] = "http://127.0.0.1:9"  # nothing listens: the task must not need it
    return run_inv("ci.health", *args, cwd=cwd, env=env)


def test_task_renders_offline_next_to_the_file(tmp_path):
    src = tmp_path / "models_ci_all_results_101_to_106.json"
    src.write_text(json.dumps(data.document(PLAN, RUNS)))
    done = inv(str(src))
    assert done.returncode == 0, done.stderr
    page = tmp_path / "models_ci_health_101_to_106.html"
    assert str(page) in done.stdout and page.is_file()
    assert "last good computed" in done.stdout
    assert len(Page(page.read_text()).rows) == len(
        catalogue.load_path(ROOT / "workflows/model_specs.toml", version="0.5.0").specs
    )
    lg = tmp_path / "models_ci_last_good_101_to_106.json"
    lg.write_text(json.dumps({}))
    again = inv(str(src), "--out", str(tmp_path / "out" / "p.html"))
    assert again.returncode == 0 and "last good from models_ci_last_good_101_to_106.json" in again.stdout
    assert (tmp_path / "out" / "p.html").is_file()


@pytest.mark.parametrize(
    ("content", "extra", "needle"),
    [
        (None, [], "file not found"),
        ("{not json", [], "not valid JSON"),
        ('{"m": 3}', [], "expected a list of entries"),
        ("{}", ["--last-good", "LG"], "expected a JSON object of model_id"),
    ],
)
def test_task_bad_input_is_one_line_and_exit_2(tmp_path, content, extra, needle):
    src = tmp_path / "results.json"
    if content is not None:
        src.write_text(content)
    (tmp_path / "lg.json").write_text("[1]")
    args = [str(src), *[str(tmp_path / "lg.json") if a == "LG" else a for a in extra]]
    done = inv(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert not list(tmp_path.glob("*.html"))


def test_no_io_in_the_model_and_renderer():
    code = "import sys, json, release.ci_health, release.ci_health_page; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & {"requests", "urllib3", "docker", "subprocess_tee", "release.github", "release.registry"}
    assert not re.search(r"\bhttp\.client\b", " ".join(loaded))


# ------------------------------------------------------------------------------------------- wiring


def test_pr_body_names_the_page_and_where_it_is(tmp_path):
    from release import gitflow, notes

    inp = notes.PrBodyInput(kind="prerelease", version="0.6.0", head="pre-release-v0.6.0", base="dev",
                            models_diff=None, artifacts_summary_md=None, artifacts_summary_name="x.md",
                            manual_changes=[], waivers=None, ci_health_page="models_ci_health_1_to_9.html")  # fmt: skip
    body = notes.render_pr_body(inp)
    assert "`models_ci_health_1_to_9.html`" in body and "not committed" in body and "release_logs" in body
    assert "models_ci_health" not in notes.render_pr_body(dataclasses.replace(inp, ci_health_page=None))
    files = gitflow.ReleaseFiles(tmp_path, tmp_path, tmp_path / "model_specs.toml", tmp_path / "VERSION")
    (tmp_path / "models_ci_last_good_1_to_9.json").write_text("{}")
    assert files.health_page() is None
    (tmp_path / "models_ci_health_1_to_9.html").write_text("<html>")
    assert files.health_page() == tmp_path / "models_ci_health_1_to_9.html"


def test_ci_read_writes_the_page_and_ci_health_renders_the_same(github_factory, tmp_path):
    from release.sim.history import generate_history
    from tests.services.github_server import TOKEN, small_models
    from tests.test_ci_health_browser import Rows, chromium

    server = github_factory(generate_history(small_models(), runs=7, seed=5))
    env = {k: v for k, v in os.environ.items() if k not in ("GH_PAT", "GITHUB_TOKEN")}
    env.update(GITHUB_API_URL=server.api_url, RELEASE_REPO_ROOT=str(ROOT), GH_PAT=TOKEN)
    out = tmp_path / "logs"
    read = subprocess.run([sys.executable, "-m", "invoke", "ci.read", "--max-runs", "5", "--out-root", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert read.returncode == 0, read.stderr
    (all_path,) = out.glob("models_ci_all_results_*_to_*.json")
    span = all_path.name.removeprefix("models_ci_all_results_")
    good_path = out / f"models_ci_last_good_{span}"
    page_path = out / f"models_ci_health_{span.removesuffix('.json')}.html"
    assert f"wrote {page_path}" in read.stdout
    html = page_path.read_text(encoding="utf-8")
    page = Page(html)
    good = json.loads(good_path.read_text())
    assert sorted(str(r["data-model"]) for r in page.rows) == sorted(good)  # every catalogue model
    assert page.marks() == {m: rec["ci_run_number"] for m, rec in good.items() if rec}
    assert "last good from" in html and good_path.name in html

    again = inv(str(all_path), "--out", str(tmp_path / "again.html"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == html  # the same page, offline

    dom = Rows(chromium(tmp_path, page_path.as_uri(), "--dump-dom").stdout)
    assert len(dom.rows) == len(good) and dom.count.strip() == f"{len(good)} of {len(good)} models shown"


def test_write_page_dry_run_renders_and_writes_nothing(tmp_path):
    source = tmp_path / "models_ci_all_results_101_to_106.json"
    source.write_text(json.dumps(small_history()))
    page = ci_health_page.write_page(source, rows=ROWS, dry_run=True)
    assert page.path == tmp_path / "models_ci_health_101_to_106.html" and page.size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]
