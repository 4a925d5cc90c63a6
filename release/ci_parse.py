"""Pure parsing of Models CI data: artifact zips (checks before extraction), reports, image tags and job names
→ values (job logs: release.ci_logs).

Rules (the product's definition, pinned by tests/test_ci_parse.py):
- An entry passes when its report has at least one `benchmarks_summary` item with a non-empty `target_checks`,
  and `evals` is non-empty and every eval has an `accuracy_check` that is present and not 3 (FAIL).
- `perf_status` is the first of target, complete, functional whose ttft/tput_user/tput checks in
  `benchmarks_summary[0].target_checks[level]` are all present and none is 3; else `experimental`.
  Reports whose target_checks have no `tput_user_check` at all (media/CNN/audio) are flagged `perf_unknown`.
- Commits come from the image tag (release.imagetags, the kit's one parser of tags).

No I/O here: callers hand in bytes and strings.
"""

from __future__ import annotations

import io
import json
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from release import ci_hardware, imagetags

FAIL = 3
PERF_LEVELS = ("target", "complete", "functional")
PERF_CHECKS = ("ttft_check", "tput_user_check", "tput_check")
ARTIFACT_PREFIX = ci_hardware.ARTIFACT_PREFIX
# Bump when what parse_artifact / match_job produce changes: ci.read's index (release.ci_index) is keyed on it.
PARSER_REVISION = 2


# --------------------------------------------------------------------------------------------- zip files

MiB = 1 << 20


class UnsafeArchive(ValueError):
    """The zip is refused: a member would escape its folder (zip-slip), is a link, cannot be extracted (a name
    clash, an empty or over-long name), or would inflate past a limit. Its content is not read."""


class CorruptArchive(ValueError):
    """The bytes are not a readable zip (truncated or damaged download): worth downloading again."""


@dataclass(frozen=True, kw_only=True)
class ArchiveLimits:
    """What one artifact may cost. Sizes are uncompressed; they are checked on the central directory before
    anything is inflated, and again while extracting (headers can lie)."""

    max_member_bytes: int = 256 * MiB
    max_artifact_bytes: int = 256 * MiB
    max_members: int = 10_000
    max_directory_bytes: int = 2 * MiB  # the zip's central directory, read into memory by zipfile
    max_parsed_file_bytes: int = 8 * MiB  # run_specs/*.json and report_data_*.json, parsed in memory
    max_name_part_bytes: int = 255  # one path component (NAME_MAX)
    max_path_bytes: int = 1024


DEFAULT_LIMITS = ArchiveLimits()
ZIP_TAIL_BYTES = 65_536 + 22 + 20 + 56  # where the end records are: comment, EOCD, zip64 locator and record
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def zip_directory_size(tail: bytes) -> int:
    """The central directory's size announced by the end records in `tail` (the zip's last ZIP_TAIL_BYTES);
    zipfile reads that much into memory before any member can be checked."""
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        raise CorruptArchive("not a zip file (no end of central directory record)")
    entries, size = struct.unpack("<HI", tail[pos + 10 : pos + 16])
    if entries != 0xFFFF and size != 0xFFFFFFFF:
        return int(size)
    loc = pos - 20
    if loc < 0 or tail[loc : loc + 4] != b"PK\x06\x07":
        return int(size)
    rec = tail.rfind(b"PK\x06\x06", 0, loc)
    if rec < 0 or loc - rec < 56:
        raise CorruptArchive("not a zip file (its zip64 end record is missing)")
    (size64,) = struct.unpack("<Q", tail[rec + 40 : rec + 48])
    return int(size64)


def plan_extraction(infos: Sequence[zipfile.ZipInfo], limits: ArchiveLimits = DEFAULT_LIMITS) -> list[zipfile.ZipInfo]:
    """The regular files to extract, in zip order, after checking every member (UnsafeArchive on the first
    problem): zip-slip and absolute names, links, encrypted or exotic compression, names that cannot be created
    (empty or `.` parts, parts over 255 bytes, a file that is also a folder, duplicates), and sizes."""
    if len(infos) > limits.max_members:
        raise UnsafeArchive(f"{len(infos)} members, over the limit of {limits.max_members}")
    files: list[zipfile.ZipInfo] = []
    seen_files: set[str] = set()
    folders: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        check_member_name(name, limits)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchive(f"member {name!r} is a symbolic link")
        path = name.rstrip("/")
        parents = path.split("/")[:-1]
        folders.update("/".join(parents[: i + 1]) for i in range(len(parents)))
        if info.is_dir():
            folders.add(path)
            continue
        if path in seen_files:
            raise UnsafeArchive(f"member {_short_name(path)!r} appears twice")
        seen_files.add(path)
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"member {_short_name(path)!r} is encrypted")
        if info.compress_type not in _ZIP_METHODS:
            raise UnsafeArchive(
                f"member {_short_name(path)!r} uses compression method {info.compress_type}; only stored and "
                "deflate are read"
            )
        _check_size(path, info.file_size, limits)
        total += info.file_size
        if total > limits.max_artifact_bytes:
            raise UnsafeArchive(
                f"members inflate to more than the {_mib(limits.max_artifact_bytes)} limit per artifact"
            )
        files.append(info)
    clash = sorted(seen_files & folders)
    if clash:
        raise UnsafeArchive(f"{_short_name(clash[0])!r} is both a file and a folder")
    return files


def _check_size(path: str, size: int, limits: ArchiveLimits) -> None:
    if size > limits.max_member_bytes:
        raise UnsafeArchive(
            f"member {_short_name(path)!r} inflates to {_mib(size)}, over the {_mib(limits.max_member_bytes)} "
            "limit per member"
        )
    if size > limits.max_parsed_file_bytes and is_parsed_file(path):
        raise UnsafeArchive(
            f"member {_short_name(path)!r} is {_mib(size)}; files that are parsed are limited to "
            f"{_mib(limits.max_parsed_file_bytes)}"
        )


def check_member_name(name: str, limits: ArchiveLimits = DEFAULT_LIMITS) -> None:
    """A member name that extracts inside its folder, as exactly one file or folder of that name."""
    if not name or "\x00" in name:
        raise UnsafeArchive(f"member {name!r} has an empty or invalid name")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        raise UnsafeArchive(f"member {_short_name(name)!r} has an absolute path")
    if ".." in re.split(r"[\\/]", name):
        raise UnsafeArchive(f"member {_short_name(name)!r} escapes the folder with '..'")
    raw = name.encode("utf-8", errors="surrogatepass")
    if len(raw) > limits.max_path_bytes:
        raise UnsafeArchive(
            f"member {_short_name(name)!r} has a name of {len(raw)} bytes, over {limits.max_path_bytes}"
        )
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    for part in parts:
        if part in ("", "."):
            raise UnsafeArchive(f"member {_short_name(name)!r} has an empty or '.' part")
        if len(part.encode("utf-8", errors="surrogatepass")) > limits.max_name_part_bytes:
            raise UnsafeArchive(f"member {_short_name(name)!r} has a name part over {limits.max_name_part_bytes} bytes")


def _short_name(name: str, keep: int = 60) -> str:
    return name if len(name) <= keep else f"{name[: keep // 2]}…{name[-keep // 2 :]} ({len(name)} characters)"


def _mib(size: int) -> str:
    return f"{size / MiB:.0f} MiB" if size >= 10 * MiB else f"{size / MiB:.1f} MiB"


def zip_members(data: bytes, limits: ArchiveLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """The regular files of a small in-memory zip as {relative posix path: bytes}, with the checks of
    `plan_extraction` (UnsafeArchive), CorruptArchive for bytes that are not a readable zip. For tests and
    tools; `inv ci.read` extracts to disk with release.ci_archive, never holding a member in memory."""
    if len(data) > limits.max_artifact_bytes:
        raise UnsafeArchive(f"the zip is over the {_mib(limits.max_artifact_bytes)} limit per artifact")
    if zip_directory_size(data[-ZIP_TAIL_BYTES:]) > limits.max_directory_bytes:
        raise UnsafeArchive(f"the zip's directory is over {_mib(limits.max_directory_bytes)}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = plan_extraction(zf.infolist(), limits)
            return {info.filename: _read_member(zf, info, limits) for info in files}
    except UnsafeArchive:
        raise
    except ZIP_ERRORS as e:
        raise CorruptArchive(f"not a readable zip ({type(e).__name__}: {_short(e)})") from None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits) -> bytes:
    chunks = []
    size = 0
    with zf.open(info) as fh:
        while chunk := fh.read(64 * 1024):
            size += len(chunk)
            if size > min(info.file_size, limits.max_member_bytes):
                raise UnsafeArchive(f"member {_short_name(info.filename)!r} inflates past its declared size")
            chunks.append(chunk)
    return b"".join(chunks)


# What zipfile raises on hostile bytes (beyond BadZipFile): members it cannot inflate, broken headers, names that
# are not UTF-8 although flagged so, truncation.
ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    EOFError,
    ValueError,
    struct.error,
    zlib.error,
    OverflowError,
    KeyError,
    IndexError,
    OSError,
)


# --------------------------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ArtifactParse:
    """One `workflow_logs_*` artifact. `reason` is set when it could not be parsed (model_id may still be known)."""

    dir_name: str
    model_id: str | None
    summary: dict[str, Any] | None
    run_specs: Any
    reports_output: Any
    reason: str | None = None

    @property
    def is_passing(self) -> bool:
        return bool(self.summary and self.summary.get("is_passing"))


def perf_status(report: Mapping[str, Any]) -> str:
    checks = _first_target_checks(report)
    for level in PERF_LEVELS:
        values = checks.get(level)
        if not isinstance(values, Mapping):
            continue
        found = [values.get(name) for name in PERF_CHECKS]
        if all(v is not None for v in found) and not any(v == FAIL for v in found):
            return level
    return "experimental"


def perf_unknown(report: Mapping[str, Any]) -> bool:
    """Target checks exist but none has a `tput_user_check` key (the media/CNN/audio producer quirk)."""
    checks = _first_target_checks(report)
    levels = [v for v in checks.values() if isinstance(v, Mapping)]
    return bool(levels) and not any("tput_user_check" in v for v in levels)


def _first_target_checks(report: Mapping[str, Any]) -> Mapping[str, Any]:
    summary = report.get("benchmarks_summary")
    if not isinstance(summary, list) or not summary or not isinstance(summary[0], Mapping):
        return {}
    checks = summary[0].get("target_checks")
    return checks if isinstance(checks, Mapping) else {}


def benchmarks_completed(report: Mapping[str, Any]) -> bool:
    summary = report.get("benchmarks_summary")
    if not isinstance(summary, list):
        return False
    return any(
        isinstance(s, Mapping) and isinstance(s.get("target_checks"), Mapping) and s["target_checks"] for s in summary
    )


def _evals(report: Mapping[str, Any]) -> list[Any]:
    evals = report.get("evals")
    return evals if isinstance(evals, list) else []


def evals_completed(report: Mapping[str, Any]) -> bool:
    evals = _evals(report)
    return bool(evals) and all(isinstance(e, Mapping) and e.get("accuracy_check") is not None for e in evals)


def accuracy_status(report: Mapping[str, Any]) -> bool:
    evals = _evals(report)
    return evals_completed(report) and all(e.get("accuracy_check") != FAIL for e in evals)


def _has_vllm(spec: Mapping[str, Any]) -> bool | None:
    """Whether the spec's image carries a vLLM commit, when the spec says (its `vllm_commit`); else None."""
    if "vllm_commit" not in spec:
        return None
    value = spec["vllm_commit"]
    return isinstance(value, str) and bool(value)


def _pick_last(names: list[str]) -> str | None:
    return max(names) if names else None


PARSED_FILES = re.compile(r"run_specs/[^/]+\.json|reports_output/[^/]+/data/report_data_.+\.json")


def is_parsed_file(path: str) -> bool:
    """The artifact files `parse_artifact` reads (the rest is kept on disk for people, never read back)."""
    return PARSED_FILES.fullmatch(path) is not None


def parse_artifact(dir_name: str, files: Mapping[str, bytes]) -> ArtifactParse:
    """Parse the files of one `workflow_logs_*` artifact (paths relative to its root)."""

    def bad(reason: str, model_id: str | None = None, run_specs: Any = None) -> ArtifactParse:
        return ArtifactParse(dir_name, model_id, None, run_specs, None, reason)

    spec_files = [p for p in files if re.fullmatch(r"run_specs/[^/]+\.json", p)]
    spec_path = _pick_last(spec_files)
    if spec_path is None:
        return bad("no run_specs/*.json in the artifact")
    spec, problem = load_json(files[spec_path])
    if problem is not None:
        return bad(f"{spec_path}: {problem}")
    model_id = spec.get("model_id") if isinstance(spec, dict) else None
    if not isinstance(model_id, str) or not model_id:
        return bad(f"{spec_path}: no model_id")

    report_path = _report_path(files, model_id)
    if report_path is None:
        return bad(f"no reports_output/*/data/report_data_{model_id}_*.json", model_id, spec)
    report, problem = load_json(files[report_path])
    if problem is not None:
        return bad(f"{report_path}: {problem}", model_id, spec)
    if not isinstance(report, dict):
        return bad(f"{report_path}: not a JSON object", model_id, spec)
    report = {k: v for k, v in report.items() if k != "benchmarks"}

    cli_args = spec.get("cli_args") if isinstance(spec.get("cli_args"), dict) else {}
    docker_image = cli_args.get("override_docker_image") or spec.get("docker_image")
    docker_image = docker_image if isinstance(docker_image, str) else None
    tt_metal, vllm = imagetags.image_commits(docker_image, has_vllm=_has_vllm(spec))
    bench_done = benchmarks_completed(report)
    accuracy = accuracy_status(report)
    summary = {
        "model_id": model_id,
        "perf_status": perf_status(report),
        "benchmarks_completed": bench_done,
        "accuracy_status": accuracy,
        "evals_completed": evals_completed(report),
        "is_passing": bench_done and accuracy,
        "docker_image": docker_image,
        "tt_metal_commit": tt_metal,
        "vllm_commit": vllm,
        "perf_unknown": perf_unknown(report),
    }
    return ArtifactParse(dir_name, model_id, summary, spec, report)


MAX_PARSED_BYTES = DEFAULT_LIMITS.max_parsed_file_bytes
MAX_JSON_VALUES = 1_000_000


def load_json(
    data: bytes, *, max_bytes: int = MAX_PARSED_BYTES, max_values: int | None = MAX_JSON_VALUES
) -> tuple[Any, str | None]:
    """(value, None), or (None, why not) for bytes that are too big, too many values (memory), too deeply nested
    or not JSON. Python objects take 10-50 times the bytes of their JSON, hence the limits."""
    if len(data) > max_bytes:
        return None, f"{_mib(len(data))}, over the {_mib(max_bytes)} limit for a parsed file"
    if max_values is not None and data.count(b",") + data.count(b"[") + data.count(b"{") > max_values:
        return None, f"more than {max_values} JSON values"
    try:
        return json.loads(data), None
    except RecursionError:
        return None, "malformed JSON (nested too deeply)"
    except (ValueError, UnicodeDecodeError) as e:
        return None, f"malformed JSON ({_short(e)})"


def _report_path(files: Mapping[str, bytes], model_id: str) -> str | None:
    by_workflow: dict[str, list[str]] = {}
    pattern = re.compile(r"reports_output/([^/]+)/data/report_data_(.+)\.json")
    for path in files:
        m = pattern.fullmatch(path)
        if m and m[2].startswith(f"{model_id}_") and _looks_like_timestamp(m[2][len(model_id) + 1 :]):
            by_workflow.setdefault(m[1], []).append(path)
    for workflow in sorted(by_workflow, key=lambda w: (w != "release", w)):
        return _pick_last(by_workflow[workflow])
    return None


def _looks_like_timestamp(text: str) -> bool:
    return re.fullmatch(r"[0-9][0-9_\-T:.]*", text) is not None


def _short(e: Exception) -> str:
    return str(e).split("\n", 1)[0][:120]


# --------------------------------------------------------------------------------------------- job names


@dataclass(frozen=True)
class JobKey:
    workflow_type: str
    model_name: str
    hardware_name: str
    hardware: str

    @property
    def artifact_name(self) -> str:
        return f"{ARTIFACT_PREFIX}{self.workflow_type}_{self.model_name}_{self.hardware_name}"


_JOB_NAME = re.compile(r"^.+? / (test|run-tests) \(([^()]*)\)\s*$")


def parse_job_name(name: str) -> JobKey | None:
    """The four Models CI job-name shapes (§3.9); None for other jobs (build, setup...)."""
    m = _JOB_NAME.match(name)
    if not m:
        return None
    args = [a.strip() for a in m[2].split(",")]
    if m[1] == "test" and len(args) == 4:
        return JobKey(args[0], args[1], args[2], args[3])
    if m[1] == "test" and len(args) == 3:
        return JobKey("release", args[0], args[1], args[2])
    if m[1] == "run-tests" and len(args) == 5:
        return JobKey(args[0], args[2], args[3], args[4])
    if m[1] == "run-tests" and len(args) == 4:
        return JobKey("release", args[1], args[2], args[3])
    return None


class JobLike(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def completed_at(self) -> str | None: ...


J = TypeVar("J", bound=JobLike)


class JobMatcher(Generic[J]):
    """Finds the job that produced an artifact among one run's jobs (job names parsed once).

    Its (workflow_type, model_name, hardware_name) spell the artifact name: exactly first; otherwise `-` and
    `_` count as equal; otherwise the hardware names may differ when they stand for one device
    (release.ci_hardware: `tg` and `galaxy`). Several matches (re-runs): the one completed last.
    """

    def __init__(self, jobs: Sequence[J]) -> None:
        self._keyed = [(job, key) for job in jobs if (key := parse_job_name(job.name)) is not None]
        self._exact: dict[str, list[tuple[J, JobKey]]] = {}
        self._loose: dict[str, list[tuple[J, JobKey]]] = {}
        for job, key in self._keyed:
            self._exact.setdefault(key.artifact_name, []).append((job, key))
            self._loose.setdefault(_loose(key.artifact_name), []).append((job, key))

    def match(self, artifact_name: str) -> tuple[J, JobKey] | None:
        found = (
            self._exact.get(artifact_name) or self._loose.get(_loose(artifact_name)) or self._by_device(artifact_name)
        )
        if not found:
            return None
        return max(found, key=lambda jk: (jk[0].completed_at or "", jk[0].id))

    def _by_device(self, artifact_name: str) -> list[tuple[J, JobKey]]:
        wanted = _loose(artifact_name)
        found = []
        for job, key in self._keyed:
            stem = _loose(f"{ARTIFACT_PREFIX}{key.workflow_type}_{key.model_name}_")
            if wanted.startswith(stem) and ci_hardware.same_device(wanted[len(stem) :], key.hardware_name):
                found.append((job, key))
        return found


def match_job(artifact_name: str, jobs: Sequence[J]) -> tuple[J, JobKey] | None:
    """The job that produced an artifact (see JobMatcher; build one matcher per run for many artifacts)."""
    return JobMatcher(jobs).match(artifact_name)


def _loose(name: str) -> str:
    return name.replace("-", "_").lower()


def is_build_job(name: str) -> bool:
    return "build-inference-server" in name.lower()
