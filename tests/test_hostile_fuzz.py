"""Hypothesis fuzzing of every parser of CI data: artifact zips, report JSON, job logs, last-good files, GitHub API
pages, and the cache files ci.read reads back.

The contract: each returns a value or raises a ReleaseError subclass (the task prints it as one line), never
another exception. Cases are small, each bounded in time (hypothesis deadline) and, where cheap, in memory
(tracemalloc) and disk (bytes extracted). The whole file runs in well under 30 seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import re
import tempfile
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release import ci_cache, ci_index, ci_logs, ci_parse, fsio
from release.ci_cache import CiCache
from release.ci_logs import JobLogInfo
from release.ci_parse import ArchiveLimits, ArtifactParse
from release.errors import GitHubError, InputError, ReleaseError
from release.github_types import (
    Artifact,
    CommitInfo,
    GitRef,
    Job,
    PullRequest,
    Release,
    Workflow,
    WorkflowRun,
    artifacts_page,
    jobs_page,
    list_page,
    runs_page,
)
from release.last_good_file import REQUIRED_FIELDS, parse_last_good

FUZZ = settings(
    max_examples=80,
    deadline=2000,  # ms per case, generous for a shared 2-core machine
    derandomize=True,  # the same cases every run: a failure reproduces
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIMITS = ArchiveLimits(
    max_member_bytes=64 * 1024, max_artifact_bytes=96 * 1024, max_members=40, max_parsed_file_bytes=16 * 1024
)
RUN = WorkflowRun(1, 7, 1, 9, "completed", "success", "dev", "a" * 40, "schedule", "t", "t", "u")


def outcome(fn: Callable[[], Any]) -> Any:
    """The value, or the ReleaseError; any other exception fails the test."""
    try:
        return fn()
    except ReleaseError as e:
        return e


def peak_bytes(fn: Callable[[], Any], allowed: tuple[type[Exception], ...] = (ReleaseError,)) -> int:
    """Peak bytes allocated while `fn` runs (it may raise one of `allowed`)."""
    tracemalloc.start()
    try:
        with contextlib.suppress(*allowed):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------------------------------------ strategies

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
name_parts = st.sampled_from(
    ["a", "b", "report", ".", "..", "", "é", "run_specs", "x.json", "\\", "C:", " ", "n" * 260]
)
member_names = st.lists(name_parts, min_size=1, max_size=4).map("/".join) | st.text(max_size=20)
members = st.lists(
    st.tuples(
        member_names,
        st.binary(max_size=300) | st.integers(0, 200_000).map(lambda n: b"\0" * n),
        st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]),
    ),
    max_size=6,
)
flips = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)


def build_zip(entries: list[tuple[str, bytes, int]], mutations: list[tuple[int, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are part of the fuzz
        for name, data, method in entries:
            zf.writestr(zipfile.ZipInfo(name or "_"), data, compress_type=method)
    raw = bytearray(buf.getvalue())
    for pos, byte in mutations:
        if raw:
            raw[pos % len(raw)] = byte
    return bytes(raw)


# ------------------------------------------------------------------------------------------------ artifact zips


@FUZZ
@given(entries=members, mutations=flips, verified=st.booleans())
def test_artifact_zips_are_extracted_refused_or_a_kit_error(entries, mutations, verified):
    data = build_zip(entries, mutations)
    art = Artifact(5, "workflow_logs_release_M_n150", len(data), False, None, "u", None, None)
    with tempfile.TemporaryDirectory() as tmp:
        cache = CiCache(Path(tmp), limits=LIMITS)
        zpath = Path(tmp) / "a.zip"
        zpath.write_bytes(data)
        result = outcome(lambda: cache.store_artifact(RUN, art, zpath, sha256="0" * 64, verified=verified))
        assert isinstance(result, (Mapping, str, GitHubError)), result
        written = sum(p.stat().st_size for p in cache.root.rglob("*") if p.is_file() and ".cache" not in p.parts)
        assert written <= LIMITS.max_artifact_bytes
        assert not list(cache.root.rglob(".tmp-*"))
        if isinstance(result, Mapping):
            assert isinstance(ci_parse.parse_artifact(art.name, result), ArtifactParse)
            assert outcome(lambda: cache.load_artifact(RUN, art)) is not None


@FUZZ
@given(data=st.binary(max_size=2000))
def test_any_bytes_as_an_artifact(data):
    with tempfile.TemporaryDirectory() as tmp:
        zpath = Path(tmp) / "a.zip"
        zpath.write_bytes(data)
        art = Artifact(5, "workflow_logs_x", len(data), False, None, "u", None, None)
        result = outcome(
            lambda: CiCache(Path(tmp), limits=LIMITS).store_artifact(RUN, art, zpath, sha256="", verified=True)
        )
        assert isinstance(result, (Mapping, str)), result  # verified bytes: refused, never "download again"


@settings(FUZZ, max_examples=15)
@given(entries=members)
def test_zip_checks_memory_is_bounded(entries):
    data = build_zip(entries, [])
    plan = lambda: ci_parse.plan_extraction(zipfile.ZipFile(io.BytesIO(data)).infolist(), LIMITS)  # noqa: E731
    assert peak_bytes(plan, (ci_parse.UnsafeArchive,)) < 2 << 20


# ------------------------------------------------------------------------------------------------ reports


def spec_like(model_id: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {"model_id": model_id, **extra}


report_like = st.fixed_dictionaries(
    {},
    optional={
        "benchmarks_summary": json_values | st.lists(st.fixed_dictionaries({"target_checks": json_values}), max_size=2),
        "evals": json_values | st.lists(st.fixed_dictionaries({"accuracy_check": json_values}), max_size=3),
        "benchmarks": json_values,
    },
)


@FUZZ
@given(
    spec=json_values
    | st.builds(
        spec_like, st.just("id_m_n150") | json_values, st.dictionaries(st.text(max_size=8), json_values, max_size=3)
    ),
    report=json_values | report_like,
    raw=st.none() | st.binary(max_size=200),
)
def test_reports_parse_to_an_entry(spec, report, raw):
    files = {
        "run_specs/tt_model_spec_x.json": json.dumps(spec).encode(),
        "reports_output/release/data/report_data_id_m_n150_2025-10-01_02-00-00.json": raw
        if raw is not None
        else json.dumps(report).encode(),
    }
    parsed = ci_parse.parse_artifact("workflow_logs_release_m_n150", files)
    assert isinstance(parsed, ArtifactParse)
    assert parsed.summary is None or isinstance(parsed.summary["is_passing"], bool)


def test_report_json_that_would_explode_in_memory_is_refused():
    assert "more than 1000000 JSON values" in (ci_parse.load_json(b"[" + b"{}," * 1_100_000 + b"{}]")[1] or "")
    assert "nested too deeply" in (ci_parse.load_json(b"[" * 200_000 + b"]" * 200_000)[1] or "")
    assert "limit for a parsed file" in (ci_parse.load_json(b" " * (ci_parse.MAX_PARSED_BYTES + 1))[1] or "")


# ------------------------------------------------------------------------------------------------ job logs

log_pieces = st.sampled_from(
    [
        "+ tt-smi-metal -s",
        "{",
        "}",
        '"host_info": {"Driver": "TT-KMD 1"}',
        "Runner name:",
        "Runner name: 'r'",
        "##[group] Inputs",
        "##[endgroup]",
        "image: x:1",
        "\x1b[",
        "\x1b]0;",
        "\x1b[36;1m",
        "\x07",
        "2025-10-01T03:00:00.1Z ",
        " " * 50,
        "\r",
        "[[[[",
        "Syncing repository: tenstorrent/tt-inference-server",
        "Syncing repository: tenstorrent/tt-metal",
        "HEAD is now at 4b1f8c3 subject",
        "[command]/usr/bin/git log -1 --format=%H",
        "4b1f8c3d2e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c",
        "##[group]Run ",
    ]
)
log_lines = st.lists(st.lists(log_pieces | st.text(max_size=10), max_size=4).map("".join), max_size=60)


@FUZZ
@given(lines=log_lines, sep=st.sampled_from(["\n", "\r\n", "\r"]), noise=st.binary(max_size=50))
def test_job_logs_parse_to_info(lines, sep, noise):
    data = sep.join(lines).encode() + noise
    info = ci_logs.parse_job_log(data, head=1500, tail=500, max_block=400)
    assert isinstance(info, JobLogInfo)
    assert info.tt_smi is None or isinstance(info.tt_smi, dict)
    if info.checkout is not None:
        assert re.fullmatch(r"[0-9a-f]{7,40}", info.checkout.commit) and info.checkout.line_number >= 1


@settings(FUZZ, max_examples=10)
@given(lines=log_lines)
def test_job_log_memory_is_bounded(lines):
    data = ("\n".join(lines) * 20).encode()
    assert peak_bytes(lambda: ci_logs.parse_job_log(data)) < 40 * len(data) + (1 << 20)


# ------------------------------------------------------------------------------------------------ last-good files

record_like = st.fixed_dictionaries(
    {f: json_values | st.text(max_size=8) for f in REQUIRED_FIELDS},
    optional={
        f: json_values
        for f in ("ci_run_id", "ci_job_id", "device", "ci_run_url", "firmware_bundle", "tt_inference_server_commit")
    },
)


@FUZZ
@given(data=json_values | st.dictionaries(st.text(max_size=10), json_values | record_like, max_size=3))
def test_last_good_files_parse_or_are_one_input_error(data):
    result = outcome(lambda: parse_last_good(data, source="f.json", known=None))
    assert isinstance(result, (dict, InputError)), result


@FUZZ
@given(raw=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_json_files_read_or_are_one_input_error(raw):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "last_good.json"
        path.write_bytes(raw)
        data = outcome(lambda: fsio.read_json(path))
        assert not isinstance(data, ReleaseError) or isinstance(data, InputError)
        if not isinstance(data, ReleaseError):
            assert isinstance(outcome(lambda: parse_last_good(data, source=str(path))), (dict, InputError))


def test_deeply_nested_last_good_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="nested too deeply"):
        fsio.read_json(path)


# ------------------------------------------------------------------------------------------------ GitHub pages

run_like = st.fixed_dictionaries(
    {},
    optional={
        k: json_values | st.integers(0, 10**12) | st.text(max_size=10)
        for k in ("id", "run_number", "workflow_id", "head_sha", "event", "created_at", "updated_at", "html_url")
    },
)
item_like = (
    json_values
    | run_like
    | st.dictionaries(
        st.sampled_from(
            [
                "id",
                "name",
                "run_id",
                "status",
                "expired",
                "size_in_bytes",
                "archive_download_url",
                "head",
                "object",
                "sha",
                "parents",
                "commit",
                "draft",
            ]
        ),
        json_values,
        max_size=8,
    )
)


@FUZZ
@given(
    body=json_values
    | st.dictionaries(
        st.sampled_from(["workflow_runs", "jobs", "artifacts", "total_count"]),
        st.lists(item_like, max_size=3) | json_values,
        max_size=3,
    )
)
def test_github_pages_give_values_or_a_github_error(body):
    for build in (runs_page, jobs_page, artifacts_page, lambda b: list_page(b, "releases")):
        result = outcome(lambda build=build: build(body))
        assert isinstance(result, (list, GitHubError)), result


@FUZZ
@given(item=item_like)
def test_github_objects_give_values_or_a_github_error(item):
    for cls in (Workflow, WorkflowRun, Job, Artifact, PullRequest, Release, GitRef, CommitInfo):
        result = outcome(lambda cls=cls: cls.from_api(item))
        assert isinstance(result, (cls, GitHubError)), (cls, result)


# ------------------------------------------------------------------------------------------------ cache files


@FUZZ
@given(
    marker=st.binary(max_size=100) | json_values.map(lambda v: json.dumps(v).encode()),
    listing=st.binary(max_size=100) | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_cache_files_read_back_or_count_as_missing(marker, listing):
    art = Artifact(5, "workflow_logs_x", 10, False, None, "u", None, None)
    with tempfile.TemporaryDirectory() as tmp:
        cache = CiCache(Path(tmp))
        state = cache.run_dir(RUN) / ".cache"
        state.mkdir(parents=True)
        (state / "artifact_5.json").write_bytes(marker)
        (state / "artifacts.json").write_bytes(listing)
        (state / "run.json").write_bytes(listing)
        assert isinstance(outcome(lambda: cache.load_artifact(RUN, art)), (Mapping, str, type(None)))
        assert isinstance(outcome(lambda: cache.load_listing(RUN, "artifacts")), (list, type(None)))
        assert isinstance(outcome(lambda: cache.cached_runs()), list)


# ------------------------------------------------------------------------------------------------ ci.read's index

SIG = ci_index.signature("tenstorrent/tt-inference-server")
index_runs = st.dictionaries(
    st.sampled_from(["1", "x", ""]),
    json_values
    | st.fixed_dictionaries(
        {"stamp": st.just(ci_cache.run_stamp(RUN)) | json_values},
        optional={
            "artifacts": json_values | st.lists(st.lists(json_values | st.just(5), max_size=4), max_size=3),
            "build_runner": json_values,
            "entries": json_values | st.dictionaries(st.just("5"), json_values, max_size=1),
            "logs": json_values | st.dictionaries(st.just("9"), json_values, max_size=1),
        },
    ),
    max_size=2,
)


def index_bytes(runs: Any, *, sig: Any = SIG) -> bytes:
    body = json.dumps(runs).encode() + b"\n"
    return json.dumps({"signature": sig, "checksum": hashlib.sha256(body).hexdigest()}).encode() + b"\n" + body


@FUZZ
@given(raw=st.binary(max_size=300) | index_runs.map(index_bytes) | json_values.map(index_bytes))
def test_index_files_give_results_or_nothing(raw):
    """Whatever the index holds, lookups give a value or None, and saving it again works."""
    run = dataclasses.replace(RUN, id=1)
    art = Artifact(5, "workflow_logs_x", 10, False, None, "u", None, None)
    index = ci_index.CiIndex.from_bytes(raw, sig=SIG)
    listed = index.artifacts(run)
    assert listed is None or all(isinstance(a, Artifact) for a in listed)
    assert isinstance(index.build_runner(run), tuple)
    entry = index.entry(run, art, lambda files: None)
    assert entry is None or isinstance(entry[0], ArtifactParse)
    assert index.log_info(run, 9, [1, 2, 3]) is None or isinstance(index.log_info(run, 9, [1, 2, 3]), JobLogInfo)
    with tempfile.TemporaryDirectory() as tmp:
        index.record_build_runner(run, "r")
        index.save(Path(tmp) / "index.json", keep=lambda rid: True)
