"""Pure: Models CI hardware names ↔ catalogue devices, in one table.

Models CI names its artifacts `workflow_logs_{type}_{model}_{hardware_name}` and its test jobs
`… / test ({type}, {model}, {hardware_name}, {hardware})` (§3.9). A hardware_name is either the catalogue
device in lower case (`n150`, `p150x4`, `galaxy_t3k`) or one of the CI's own names for a machine (`tg` for a
Galaxy, `llmbox` for a T3K, `galaxy-t3k`). Names compare loosely: case does not matter and `-` equals `_`.

Used by `ci_parse.match_job` (an artifact and a job that name the same device under two spellings belong
together) and by `ci_read`'s early stop (which catalogue models an artifact name may carry).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol

from workflows.model_spec import DEVICE_TYPES

ARTIFACT_PREFIX = "workflow_logs_"

# The CI's own names for machines, beyond `device.lower()` (which always counts).
CI_HARDWARE_NAMES: dict[str, tuple[str, ...]] = {
    "tg": ("GALAXY",),  # Tenstorrent Galaxy
    "galaxy": ("GALAXY",),
    "6u": ("GALAXY",),  # the 6U Galaxy chassis
    "llmbox": ("T3K",),  # T3000 LoudBox / QuietBox (4 × n300)
    "t3000": ("T3K",),
    "loudbox": ("T3K",),
    "galaxy-t3k": ("GALAXY_T3K",),  # a T3K-sized slice of a Galaxy
    "tg-t3k": ("GALAXY_T3K",),
    "n150-x4": ("N150X4",),
    "p150-x4": ("P150X4",),
    "p150-x8": ("P150X8",),
    "qb2": ("P150X4",),  # Blackhole QuietBox 2 (4 × p150)
}


def loose(name: str) -> str:
    """The spelling names are compared in: lower case, `_` as `-`, no surrounding blanks."""
    return name.strip().lower().replace("_", "-")


def devices_for(hardware_name: str) -> frozenset[str]:
    """The catalogue devices a CI hardware name may stand for (the name itself as a device, plus the table)."""
    key = loose(hardware_name)
    if not key:
        return frozenset()
    return frozenset({key.replace("-", "_").upper(), *CI_HARDWARE_NAMES.get(key, ())})


def hardware_names_for(device: str) -> frozenset[str]:
    """Every (loose) hardware name that may stand for `device`."""
    names = {loose(device)}
    names.update(name for name, devices in CI_HARDWARE_NAMES.items() if device in devices)
    return frozenset(names)


def same_device(a: str, b: str) -> bool:
    """Two hardware names that may stand for one device."""
    return bool(devices_for(a) & devices_for(b))


class CatalogueModel(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def device(self) -> str: ...

    @property
    def model_name(self) -> str: ...


@dataclass(frozen=True)
class _Known:
    model_id: str
    device: str


class ArtifactCandidates:
    """Which catalogue models an artifact name may carry: every model (all impls) whose model name and device
    the name spells, under any hardware name of that device. A hardware name that stands for no device the
    kit knows (DEVICE_TYPES) may stand for any, so then every model of that name counts. Answers are cached
    per name."""

    def __init__(self, models: Iterable[CatalogueModel]) -> None:
        self._by_name: dict[str, list[_Known]] = {}
        self._devices: set[str] = set(DEVICE_TYPES)
        for m in models:
            self._by_name.setdefault(loose(m.model_name), []).append(_Known(m.model_id, m.device))
            self._devices.add(m.device)
        self._cache: dict[str, frozenset[str]] = {}

    def __call__(self, artifact_name: str) -> frozenset[str]:
        found = self._cache.get(artifact_name)
        if found is None:
            found = self._cache[artifact_name] = self._compute(artifact_name)
        return found

    def _compute(self, artifact_name: str) -> frozenset[str]:
        out: set[str] = set()
        for model_part, hardware in split_points(artifact_name):
            models = self._by_name.get(loose(model_part))
            if not models:
                continue
            devices = devices_for(hardware) & self._devices
            out.update(m.model_id for m in models if not devices or m.device in devices)
        return frozenset(out)


def split_points(artifact_name: str) -> list[tuple[str, str]]:
    """Every way to read `workflow_logs_{type}_{rest}` as `{model}_{hardware}` (names and hardware names may
    both contain `_`): [(model, hardware), ...], longest model first."""
    rest = artifact_name.removeprefix(ARTIFACT_PREFIX) if artifact_name.startswith(ARTIFACT_PREFIX) else None
    if rest is None:
        return []
    _, sep, tail = rest.partition("_")
    if not sep:
        return []
    cuts = [i for i, ch in enumerate(tail) if ch == "_" and 0 < i < len(tail) - 1]
    return [(tail[:i], tail[i + 1 :]) for i in reversed(cuts)]


def model_name_from_id(model_id: str, impl_name: str, device: str) -> str:
    """`id_{impl}_{model}_{device lower}` → model (for references made without a model name)."""
    text = model_id.removeprefix(f"id_{impl_name}_")
    return text.removesuffix(f"_{device.lower()}")


def all_resolved(seen: AbstractSet[str], candidates: AbstractSet[str], resolved: AbstractSet[str]) -> bool:
    """The early stop: an artifact name is no longer read when it was seen before and every model it may carry
    (the ones it carried in newer runs, and every catalogue candidate) already has its last good."""
    if not seen:
        return False
    return seen <= resolved and candidates <= resolved
