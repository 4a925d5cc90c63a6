"""The model catalogue: `workflows/model_specs.toml` loaded, validated and expanded into ModelSpecs.

A template is a list of HF weight repos × a list of device specs with shared fields (impl, commits, engine,
status, image). Expansion follows the original `workflows/model_spec.py` (see
shared/reference/original-behaviour.md §2): one ModelSpec per (weight, device), in template order, with
`model_id = id_{impl_name}_{basename(weight)}_{device lower}` and derived fields (docker_image, code_link,
param_count, disk/RAM needs, merged env vars and vLLM args).

This module is pure: it reads the TOML text it is given and never touches the network. VERSION is an argument,
read by the caller at run time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

try:  # Python 3.11+: the standard library's reader is about 9x faster than tomlkit for read-only loading
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None

DEVICE_TYPES: tuple[str, ...] = (
    "CPU", "E150", "N150", "P100", "P150", "P150X4", "P150X8", "N150X4", "N300", "T3K", "GALAXY", "GALAXY_T3K", "GPU",
)  # fmt: skip
STATUSES: tuple[str, ...] = ("EXPERIMENTAL", "FUNCTIONAL", "COMPLETE", "TOP_PERF")
STATUS_LABELS: dict[str, str] = {
    "EXPERIMENTAL": "🛠️ Experimental",
    "FUNCTIONAL": "🟡 Functional",
    "COMPLETE": "🟢 Complete",
    "TOP_PERF": "🚀 Top Performance",
}
ENGINES: tuple[str, ...] = ("vLLM", "media", "forge")
MODEL_TYPES: tuple[str, ...] = ("LLM", "VLM", "IMAGE", "CNN", "AUDIO", "EMBEDDING", "VIDEO", "TTS")

RELEASE_IMAGE_REPO = "ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-release-ubuntu-22.04-amd64"
DEFAULT_ENV_VARS: dict[str, Any] = {
    "VLLM_CONFIGURE_LOGGING": "1",
    "VLLM_RPC_TIMEOUT": "900000",
    "VLLM_TARGET_DEVICE": "tt",
}
DEFAULT_MIN_DISK_GB = 15
DEFAULT_MIN_RAM_GB = 6
PERF_REFERENCE_KEYS: tuple[str, ...] = (
    "isl", "osl", "max_concurrency", "num_prompts", "image_height", "image_width", "images_per_prompt",
    "task_type", "theoretical_ttft_ms", "theoretical_tput_user", "targets", "target_peak_perf",
    "num_inference_steps",
)  # fmt: skip
TARGET_KEYS: tuple[str, ...] = ("ttft_ms", "tput_user", "tput", "tolerance")

_IMPL_KEYS = {"impl_id", "impl_name", "repo_url", "code_path"}
_TEMPLATE_KEYS = {
    "weights", "impl", "tt_metal_commit", "vllm_commit", "inference_engine", "status", "model_type",
    "docker_image", "system_requirements", "env_vars", "supported_modalities", "uses_tensor_model_cache",
    "subdevice_type", "repacked", "min_disk_gb", "min_ram_gb", "param_count", "display_name", "devices",
}  # fmt: skip
_DEVICE_KEYS = {
    "device", "max_concurrency", "max_context", "default_impl", "perf_targets_map", "perf_reference",
    "vllm_args", "override_tt_config", "env_vars", "subdevice_type",
}  # fmt: skip
_PARAM_COUNT = re.compile(r"(\d+(?:\.\d+)?)[bB](?![a-zA-Z])")


class CatalogueInvalid(ValueError):
    """A catalogue problem, with the file, template and field it concerns."""

    def __init__(self, path: Path | str, where: str, message: str) -> None:
        self.path = str(path)
        self.where = where
        super().__init__(f"{path}: {where}: {message}" if where else f"{path}: {message}")


@dataclass(frozen=True)
class ImplSpec:
    impl_id: str
    impl_name: str
    repo_url: str
    code_path: str

    def to_json(self) -> dict[str, str]:
        return {
            "impl_id": self.impl_id,
            "impl_name": self.impl_name,
            "repo_url": self.repo_url,
            "code_path": self.code_path,
        }


@dataclass(frozen=True)
class DeviceModelSpec:
    device: str
    max_concurrency: int
    max_context: int
    default_impl: bool = True
    perf_targets_map: Mapping[str, Any] = field(default_factory=dict)
    perf_reference: tuple[Mapping[str, Any], ...] = ()
    vllm_args: Mapping[str, Any] = field(default_factory=dict)
    override_tt_config: Mapping[str, Any] = field(default_factory=dict)
    env_vars: Mapping[str, Any] = field(default_factory=dict)
    subdevice_type: str | None = None


@dataclass(frozen=True)
class ModelSpecTemplate:
    index: int
    weights: tuple[str, ...]
    impl: ImplSpec
    tt_metal_commit: str
    inference_engine: str
    devices: tuple[DeviceModelSpec, ...]
    vllm_commit: str | None = None
    status: str = "EXPERIMENTAL"
    model_type: str = "LLM"
    docker_image: str | None = None
    system_requirements: Mapping[str, Any] | None = None
    env_vars: Mapping[str, Any] = field(default_factory=dict)
    supported_modalities: tuple[str, ...] = ("text",)
    uses_tensor_model_cache: bool = True
    subdevice_type: str | None = None
    repacked: int = 0
    min_disk_gb: int | None = None
    min_ram_gb: int | None = None
    param_count: int | None = None
    display_name: str | None = None

    @property
    def label(self) -> str:
        """How messages name the template: its position and first weight."""
        first = self.weights[0] if self.weights else "?"
        return f"template {self.index} ({first})"

    def model_ids(self) -> Iterator[tuple[str, str, str]]:
        """(model_id, weight, device) in expansion order."""
        for weight in self.weights:
            for dev in self.devices:
                yield make_model_id(self.impl.impl_name, weight, dev.device), weight, dev.device


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    template_index: int
    impl: ImplSpec
    hf_model_repo: str
    model_name: str
    inference_engine: str
    device_type: str
    tt_metal_commit: str
    vllm_commit: str | None
    docker_image: str
    has_explicit_image: bool
    status: str
    default_impl: bool
    version: str
    code_link: str
    param_count: int | None
    min_disk_gb: int
    min_ram_gb: int
    model_type: str
    device_model_spec: Mapping[str, Any]
    env_vars: Mapping[str, Any]
    system_requirements: Mapping[str, Any] | None
    repacked: int
    supported_modalities: tuple[str, ...]
    subdevice_type: str | None
    uses_tensor_model_cache: bool
    display_name: str | None

    @property
    def dev_image(self) -> str:
        """The `-dev-` variant of the image; explicit images (media, forge) are used as they are."""
        if self.has_explicit_image:
            return self.docker_image
        return self.docker_image.replace("-release-", "-dev-")

    def image_for(self, *, dev: bool) -> str:
        return self.dev_image if dev else self.docker_image

    def to_json(self) -> dict[str, Any]:
        """The serialization of model_specs_output.json (key order as in the original)."""
        dms = self.device_model_spec
        return {
            "model_id": self.model_id,
            "impl": self.impl.to_json(),
            "hf_model_repo": self.hf_model_repo,
            "model_name": self.model_name,
            "inference_engine": self.inference_engine,
            "device_type": self.device_type,
            "tt_metal_commit": self.tt_metal_commit,
            "device_model_spec": _plain(dms),
            "system_requirements": _plain(self.system_requirements),
            "env_vars": _plain(self.env_vars),
            "vllm_commit": self.vllm_commit,
            "param_count": self.param_count,
            "min_disk_gb": self.min_disk_gb,
            "min_ram_gb": self.min_ram_gb,
            "model_type": self.model_type,
            "repacked": self.repacked,
            "version": self.version,
            "docker_image": self.docker_image,
            "status": self.status,
            "code_link": self.code_link,
            "override_tt_config": _plain(dms["override_tt_config"]),
            "supported_modalities": list(self.supported_modalities),
            "subdevice_type": self.subdevice_type,
            "uses_tensor_model_cache": self.uses_tensor_model_cache,
            "cli_args": {},
            "display_name": self.display_name,
        }


@dataclass(frozen=True)
class Catalogue:
    path: Path
    version: str
    impls: Mapping[str, ImplSpec]
    templates: tuple[ModelSpecTemplate, ...]
    specs: Mapping[str, ModelSpec]

    def to_json(self) -> dict[str, Any]:
        return {model_id: spec.to_json() for model_id, spec in self.specs.items()}


# --------------------------------------------------------------------------------------------------- naming


def make_model_id(impl_name: str, weight: str, device: str) -> str:
    return f"id_{impl_name}_{weight_basename(weight)}_{device.lower()}"


def weight_basename(weight: str) -> str:
    return weight.rstrip("/").rsplit("/", 1)[-1]


def default_image(version: str, tt_metal_commit: str, vllm_commit: str | None) -> str:
    """The release image of a template without an explicit `docker_image` (commits truncated to 12)."""
    tag = f"{version}-{tt_metal_commit[:12]}"
    if vllm_commit:
        tag += f"-{vllm_commit[:12]}"
    return f"{RELEASE_IMAGE_REPO}:{tag}"


def param_count_from_name(name: str) -> int | None:
    """The last `<n>B` in a repo name, as an integer (`AFM-4.5B` → 4, `gemma-3-27b-it` → 27)."""
    found = _PARAM_COUNT.findall(name)
    return int(float(found[-1])) if found else None


# --------------------------------------------------------------------------------------------------- loading


def load_catalogue(path: Path, *, version: str, text: str | None = None) -> Catalogue:
    """Parse, validate and expand the catalogue. Raises CatalogueInvalid naming file, template and field."""
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CatalogueInvalid(path, "", "file not found") from None
    doc = _parse_toml(path, text)
    unknown = set(doc) - {"impls", "templates"}
    if unknown:
        raise CatalogueInvalid(path, "", f"unknown top-level key(s) {sorted(unknown)} (expected impls, templates)")
    impls = _load_impls(path, doc.get("impls", []))
    raw_templates = doc.get("templates", [])
    if not isinstance(raw_templates, list):
        raise CatalogueInvalid(path, "", "templates must be an array of tables ([[templates]])")
    templates = tuple(_load_template(path, i, raw, impls) for i, raw in enumerate(raw_templates))
    specs: dict[str, ModelSpec] = {}
    for template in templates:
        for spec in expand_template(template, version):
            if spec.model_id in specs:
                other = templates[specs[spec.model_id].template_index]
                raise CatalogueInvalid(
                    path, template.label, f"duplicate model_id {spec.model_id} (also in {other.label})"
                )
            specs[spec.model_id] = spec
    return Catalogue(path=path, version=version, impls=impls, templates=templates, specs=specs)


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    """Read-only parse (edits go through tomlkit in release/spec_edit.py, which keeps the layout)."""
    try:
        if tomllib is not None:
            return tomllib.loads(text)
        return tomlkit.parse(text).unwrap()
    except (TOMLKitError, ValueError) as e:
        raise CatalogueInvalid(path, "", f"not valid TOML ({e})") from None


def _load_impls(path: Path, raw: Any) -> dict[str, ImplSpec]:
    if not isinstance(raw, list):
        raise CatalogueInvalid(path, "", "impls must be an array of tables ([[impls]])")
    impls: dict[str, ImplSpec] = {}
    for i, item in enumerate(raw):
        where = f"impl {i}"
        if not isinstance(item, dict):
            raise CatalogueInvalid(path, where, "must be a table")
        _no_unknown_keys(path, where, item, _IMPL_KEYS)
        values = {k: _require(path, where, item, k, str) for k in ("impl_id", "impl_name", "repo_url", "code_path")}
        impl = ImplSpec(**values)
        if impl.impl_id in impls:
            raise CatalogueInvalid(path, where, f"impl_id: duplicate {impl.impl_id!r}")
        impls[impl.impl_id] = impl
    return impls


def _load_template(path: Path, index: int, raw: Any, impls: Mapping[str, ImplSpec]) -> ModelSpecTemplate:
    where = f"template {index}"
    if not isinstance(raw, dict):
        raise CatalogueInvalid(path, where, "must be a table")
    weights = raw.get("weights")
    if isinstance(weights, list) and weights and isinstance(weights[0], str):
        where = f"template {index} ({weights[0]})"
    _no_unknown_keys(path, where, raw, _TEMPLATE_KEYS)
    if not isinstance(weights, list) or not weights or not all(isinstance(w, str) and w for w in weights):
        raise CatalogueInvalid(path, where, "weights: must be a non-empty list of HF repo names")
    impl_id = _require(path, where, raw, "impl", str)
    if impl_id not in impls:
        raise CatalogueInvalid(path, where, f"impl: unknown impl {impl_id!r} (known: {', '.join(impls)})")
    engine = _require(path, where, raw, "inference_engine", str)
    if engine not in ENGINES:
        raise CatalogueInvalid(path, where, f"inference_engine: {engine!r} is not one of {', '.join(ENGINES)}")
    tt_metal_commit = raw.get("tt_metal_commit")
    if not isinstance(tt_metal_commit, str) or not tt_metal_commit.strip():
        raise CatalogueInvalid(path, where, "tt_metal_commit: missing (a SHA or a tag such as v0.61.1-rc1)")
    vllm_commit = raw.get("vllm_commit")
    if engine == "vLLM" and (not isinstance(vllm_commit, str) or not vllm_commit.strip()):
        raise CatalogueInvalid(path, where, "vllm_commit: missing (required for inference_engine = vLLM)")
    if vllm_commit is not None and not isinstance(vllm_commit, str):
        raise CatalogueInvalid(path, where, "vllm_commit: must be a string")
    status = raw.get("status", "EXPERIMENTAL")
    if status not in STATUSES:
        raise CatalogueInvalid(path, where, f"status: {status!r} is not one of {', '.join(STATUSES)}")
    model_type = raw.get("model_type", "LLM")
    if model_type not in MODEL_TYPES:
        raise CatalogueInvalid(path, where, f"model_type: {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    raw_devices = raw.get("devices")
    if not isinstance(raw_devices, list) or not raw_devices:
        raise CatalogueInvalid(path, where, "devices: must be a non-empty array of tables ([[templates.devices]])")
    devices = tuple(_load_device(path, f"{where} device {j}", d) for j, d in enumerate(raw_devices))
    optional_ints = {k: _optional(path, where, raw, k, int) for k in ("min_disk_gb", "min_ram_gb", "param_count")}
    return ModelSpecTemplate(
        index=index,
        weights=tuple(weights),
        impl=impls[impl_id],
        tt_metal_commit=tt_metal_commit,
        vllm_commit=vllm_commit,
        inference_engine=engine,
        status=status,
        model_type=model_type,
        docker_image=_optional(path, where, raw, "docker_image", str),
        system_requirements=_optional(path, where, raw, "system_requirements", dict),
        env_vars=_optional(path, where, raw, "env_vars", dict) or {},
        supported_modalities=tuple(_optional(path, where, raw, "supported_modalities", list) or ["text"]),
        uses_tensor_model_cache=raw.get("uses_tensor_model_cache", True),
        subdevice_type=_optional(path, where, raw, "subdevice_type", str),
        repacked=raw.get("repacked", 0),
        display_name=_optional(path, where, raw, "display_name", str),
        devices=devices,
        **optional_ints,
    )


def _load_device(path: Path, where: str, raw: Any) -> DeviceModelSpec:
    if not isinstance(raw, dict):
        raise CatalogueInvalid(path, where, "must be a table")
    _no_unknown_keys(path, where, raw, _DEVICE_KEYS)
    device = _require(path, where, raw, "device", str)
    if device not in DEVICE_TYPES:
        raise CatalogueInvalid(path, where, f"device: {device!r} is not a known device ({', '.join(DEVICE_TYPES)})")
    where = f"{where} ({device})"
    return DeviceModelSpec(
        device=device,
        max_concurrency=_require(path, where, raw, "max_concurrency", int),
        max_context=_require(path, where, raw, "max_context", int),
        default_impl=raw.get("default_impl", True),
        perf_targets_map=_optional(path, where, raw, "perf_targets_map", dict) or {},
        perf_reference=tuple(_optional(path, where, raw, "perf_reference", list) or []),
        vllm_args=_optional(path, where, raw, "vllm_args", dict) or {},
        override_tt_config=_optional(path, where, raw, "override_tt_config", dict) or {},
        env_vars=_optional(path, where, raw, "env_vars", dict) or {},
        subdevice_type=_optional(path, where, raw, "subdevice_type", str),
    )


def _no_unknown_keys(path: Path, where: str, raw: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CatalogueInvalid(path, where, f"{unknown[0]}: unknown field (known: {', '.join(sorted(known))})")


def _require(path: Path, where: str, raw: Mapping[str, Any], key: str, kind: type) -> Any:
    if key not in raw:
        raise CatalogueInvalid(path, where, f"{key}: missing")
    return _checked(path, where, key, raw[key], kind)


def _optional(path: Path, where: str, raw: Mapping[str, Any], key: str, kind: type) -> Any:
    if key not in raw:
        return None
    return _checked(path, where, key, raw[key], kind)


def _checked(path: Path, where: str, key: str, value: Any, kind: type) -> Any:
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise CatalogueInvalid(path, where, f"{key}: must be {kind.__name__}, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------------- expansion


def expand_template(template: ModelSpecTemplate, version: str) -> Iterator[ModelSpec]:
    """One ModelSpec per (weight, device), in order."""
    explicit = template.docker_image is not None
    image = template.docker_image or default_image(version, template.tt_metal_commit, template.vllm_commit)
    impl = template.impl
    code_link = f"{impl.repo_url}/tree/{template.tt_metal_commit}/{impl.code_path}"
    for weight in template.weights:
        name = weight_basename(weight)
        param_count = template.param_count if template.param_count is not None else param_count_from_name(name)
        disk, ram = _resources(template, param_count)
        for dev in template.devices:
            dms = _device_model_spec(dev, weight)
            env = {**DEFAULT_ENV_VARS, **template.env_vars, **dev.env_vars}
            yield ModelSpec(
                model_id=make_model_id(impl.impl_name, weight, dev.device),
                template_index=template.index,
                impl=impl,
                hf_model_repo=weight,
                model_name=name,
                inference_engine=template.inference_engine,
                device_type=dev.device,
                tt_metal_commit=template.tt_metal_commit,
                vllm_commit=template.vllm_commit,
                docker_image=image,
                has_explicit_image=explicit,
                status=template.status,
                default_impl=dev.default_impl,
                version=version,
                code_link=code_link,
                param_count=param_count,
                min_disk_gb=disk,
                min_ram_gb=ram,
                model_type=template.model_type,
                device_model_spec=dms,
                env_vars=env,
                system_requirements=template.system_requirements,
                repacked=template.repacked,
                supported_modalities=template.supported_modalities,
                subdevice_type=dev.subdevice_type or template.subdevice_type,
                uses_tensor_model_cache=template.uses_tensor_model_cache,
                display_name=template.display_name,
            )


def _resources(template: ModelSpecTemplate, param_count: int | None) -> tuple[int, int]:
    """Disk and RAM needs: explicit values win; vLLM models scale with their parameter count."""
    disk, ram = DEFAULT_MIN_DISK_GB, DEFAULT_MIN_RAM_GB
    if template.inference_engine == "vLLM" and param_count:
        disk, ram = 20 + 2 * param_count, 4 * param_count
    if template.min_disk_gb is not None:
        disk = template.min_disk_gb
    if template.min_ram_gb is not None:
        ram = template.min_ram_gb
    return disk, ram


def _device_model_spec(dev: DeviceModelSpec, weight: str) -> dict[str, Any]:
    vllm_args: dict[str, Any] = {
        "model": weight,
        "block_size": "64",
        "max_model_len": str(dev.max_context),
        "max_num_seqs": str(dev.max_concurrency),
        "max_num_batched_tokens": str(dev.max_context),
        "num_scheduler_steps": "10",
        "max-log-len": "32",
        "seed": "9472",
        "override_tt_config": json.dumps(_plain(dev.override_tt_config)),
    }
    vllm_args.update(dev.vllm_args)
    return {
        "device": dev.device,
        "max_concurrency": dev.max_concurrency,
        "max_context": dev.max_context,
        "perf_targets_map": _plain(dev.perf_targets_map),
        "default_impl": dev.default_impl,
        "perf_reference": [_perf_reference(item) for item in dev.perf_reference],
        "vllm_args": vllm_args,
        "override_tt_config": _plain(dev.override_tt_config),
        "env_vars": _plain(dev.env_vars),
    }


def _perf_reference(item: Mapping[str, Any]) -> dict[str, Any]:
    """A perf reference with every key present (TOML has no null: absent keys serialize as null)."""
    out: dict[str, Any] = {}
    for key in PERF_REFERENCE_KEYS:
        value = item.get(key)
        if key == "targets" and isinstance(value, Mapping):
            value = {level: {k: t.get(k) for k in TARGET_KEYS} for level, t in value.items()}
        out[key] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    """Copy mappings and lists into plain dicts and lists (safe to serialize and to mutate)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
