"""Pure parsing of Models CI data: artifact zips, reports, image tags, job names and job logs → values.

Rules (the product's definition, pinned by tests/test_ci_parse.py):
- An entry passes when its report has at least one `benchmarks_summary` item with a non-empty `target_checks`,
  and `evals` is non-empty and every eval has an `accuracy_check` that is present and not 3 (FAIL).
- `perf_status` is the first of target, complete, functional whose ttft/tput_user/tput checks in
  `benchmarks_summary[0].target_checks[level]` are all present and none is 3; else `experimental`.
  Reports whose target_checks have no `tput_user_check` at all (media/CNN/audio) are flagged `perf_unknown`.
- Commits come from the image tag: `<ver>-<40 hex>-<7 hex>-<digits>` or `<ver>-<40 hex>`.

No I/O here: callers hand in bytes and strings.
"""

from __future__ import annotations

import io
import json
import re
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

FAIL = 3
PERF_LEVELS = ("target", "complete", "functional")
PERF_CHECKS = ("ttft_check", "tput_user_check", "tput_check")
ARTIFACT_PREFIX = "workflow_logs_"


# --------------------------------------------------------------------------------------------- zip files


class UnsafeArchive(ValueError):
    """The zip has a member that would escape its folder (zip-slip) or is a link: its content is refused."""


class CorruptArchive(ValueError):
    """The bytes are not a readable zip (truncated or damaged download): worth downloading again."""


def zip_members(data: bytes, *, max_total: int = 2 << 30) -> dict[str, bytes]:
    """The regular files of a zip as {relative posix path: bytes}; refuses absolute paths, `..` and links
    (UnsafeArchive), and raises CorruptArchive for bytes that are not a readable zip."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise CorruptArchive(f"not a zip file ({e})") from None
    out: dict[str, bytes] = {}
    total = 0
    with zf:
        for info in zf.infolist():
            name = info.filename
            check_member_name(name)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(f"member {name!r} is a symbolic link")
            if info.is_dir():
                continue
            total += info.file_size
            if total > max_total:
                raise UnsafeArchive("uncompressed size exceeds the limit")
            try:
                out[name] = zf.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as e:
                raise CorruptArchive(f"member {name!r} cannot be read ({e})") from None
    return out


def check_member_name(name: str) -> None:
    if not name or "\x00" in name:
        raise UnsafeArchive(f"member {name!r} has an empty or invalid name")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchive(f"member {name!r} has an absolute path")
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        raise UnsafeArchive(f"member {name!r} escapes the folder with '..'")


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


_TAG_FULL = re.compile(r"^[0-9.]+-([0-9a-fA-F]{40})-([0-9a-fA-F]{7})-\d+$")
_TAG_METAL = re.compile(r"^[0-9.]+-([0-9a-fA-F]{40})$")


def image_tag(image: str) -> str | None:
    """The tag of an image reference (`host:port/repo:tag@digest` → `tag`), or None."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1] or None


def image_commits(image: str | None) -> tuple[str | None, str | None]:
    """(tt-metal commit, vLLM commit) from a CI image tag; (None, None) for other shapes."""
    tag = image_tag(image) if image else None
    if tag is None:
        return None, None
    m = _TAG_FULL.match(tag)
    if m:
        return m[1], m[2]
    m = _TAG_METAL.match(tag)
    if m:
        return m[1], None
    return None, None


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
    try:
        spec = json.loads(files[spec_path])
    except (ValueError, UnicodeDecodeError) as e:
        return bad(f"{spec_path}: malformed JSON ({_short(e)})")
    model_id = spec.get("model_id") if isinstance(spec, dict) else None
    if not isinstance(model_id, str) or not model_id:
        return bad(f"{spec_path}: no model_id")

    report_path = _report_path(files, model_id)
    if report_path is None:
        return bad(f"no reports_output/*/data/report_data_{model_id}_*.json", model_id, spec)
    try:
        report = json.loads(files[report_path])
    except (ValueError, UnicodeDecodeError) as e:
        return bad(f"{report_path}: malformed JSON ({_short(e)})", model_id, spec)
    if not isinstance(report, dict):
        return bad(f"{report_path}: not a JSON object", model_id, spec)
    report = {k: v for k, v in report.items() if k != "benchmarks"}

    cli_args = spec.get("cli_args") if isinstance(spec.get("cli_args"), dict) else {}
    docker_image = cli_args.get("override_docker_image") or spec.get("docker_image")
    docker_image = docker_image if isinstance(docker_image, str) else None
    tt_metal, vllm = image_commits(docker_image)
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


def match_job(artifact_name: str, jobs: Sequence[JobLike]) -> tuple[JobLike, JobKey] | None:
    """The job that produced an artifact: its (workflow_type, model_name, hardware_name) spell the artifact name.

    Exact spelling first; otherwise `-` and `_` count as equal. Several matches (re-runs): the one completed last.
    """
    keyed = [(job, key) for job in jobs if (key := parse_job_name(job.name)) is not None]
    exact = [(j, k) for j, k in keyed if k.artifact_name == artifact_name]
    wanted = _loose(artifact_name)
    found = exact or [(j, k) for j, k in keyed if _loose(k.artifact_name) == wanted]
    if not found:
        return None
    return max(found, key=lambda jk: (jk[0].completed_at or "", jk[0].id))


def _loose(name: str) -> str:
    return name.replace("-", "_").lower()


def is_build_job(name: str) -> bool:
    return "build-inference-server" in name.lower()


# --------------------------------------------------------------------------------------------- job logs


@dataclass(frozen=True)
class JobLogInfo:
    runner_name: str | None = None
    docker_image: str | None = None
    tt_smi: dict[str, Any] | None = None
    firmware_bundle: str | None = None
    kmd_version: str | None = None


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")


def log_lines(text: str) -> list[str]:
    """Lines without ANSI colour codes and without GitHub's leading timestamps."""
    return [_TIMESTAMP.sub("", line) for line in _ANSI.sub("", text).splitlines()]


def parse_job_log(data: bytes) -> JobLogInfo:
    lines = log_lines(data.decode("utf-8", errors="replace"))
    runner = None
    for line in lines:
        m = re.match(r"\s*Runner name:\s*(.+?)\s*$", line)
        if m:
            runner = m[1].strip("'\"")
            break
    tt_smi = _tt_smi(lines)
    firmware = kmd = None
    if tt_smi is not None:
        devices = tt_smi.get("device_info")
        if isinstance(devices, list) and devices and isinstance(devices[0], dict):
            fw = devices[0].get("firmwares")
            if isinstance(fw, dict) and fw.get("fw_bundle_version") is not None:
                firmware = str(fw["fw_bundle_version"])
        host = tt_smi.get("host_info")
        if isinstance(host, dict) and isinstance(host.get("Driver"), str):
            kmd = host["Driver"].removeprefix("TT-KMD ").strip()
        tt_smi = {k: v for k, v in tt_smi.items() if k != "device_info"}
    return JobLogInfo(
        runner_name=runner, docker_image=_inputs_image(lines), tt_smi=tt_smi, firmware_bundle=firmware, kmd_version=kmd
    )


def _inputs_image(lines: list[str]) -> str | None:
    inside = False
    for line in lines:
        stripped = line.strip()
        if not inside and stripped in ("##[group] Inputs", "##[group]Inputs"):
            inside = True
        elif inside and stripped.startswith("##[endgroup]"):
            return None
        elif inside:
            m = re.match(r"image:\s*(\S+)\s*$", stripped)
            if m:
                return m[1]
    return None


def _tt_smi(lines: list[str]) -> dict[str, Any] | None:
    """The first `tt-smi-metal -s` block that holds a JSON object ({ … } on its own lines)."""
    for start, line in enumerate(lines):
        if "tt-smi-metal -s" not in line:
            continue
        parsed = _json_block_after(lines, start + 1)
        if parsed is not None:
            return parsed
    return None


def _json_block_after(lines: list[str], index: int) -> dict[str, Any] | None:
    for i in range(index, len(lines)):
        if "tt-smi-metal -s" in lines[i]:
            return None
        if lines[i].strip() != "{":
            continue
        depth = 0
        block: list[str] = []
        for line in lines[i:]:
            block.append(line)
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                try:
                    value = json.loads("\n".join(block))
                except ValueError:
                    return None
                return value if isinstance(value, dict) else None
        return None
    return None
