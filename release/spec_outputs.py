"""Pure renderers of the catalogue's generated outputs: model_specs_output.json and the README table."""

from __future__ import annotations

import json

from release.errors import InputError
from release.markdown import table
from workflows.model_spec import DEVICE_TYPES, STATUS_LABELS, Catalogue, ModelSpecTemplate, default_image

README_COLUMNS = ("Model Weights", "Hardware", "Status", "tt-metal commit", "vLLM commit", "Docker Image")
README_HEADER, README_SEPARATOR = table(README_COLUMNS, (), wide_rule=True)
VLLM_REPO_URL = "https://github.com/tenstorrent/vllm"
_WORMHOLE = "https://tenstorrent.com/hardware/wormhole"
_BLACKHOLE = "https://tenstorrent.com/hardware/blackhole"
HARDWARE_LINKS: dict[str, str] = {
    "N150": f"[n150]({_WORMHOLE})",
    "N300": f"[n300]({_WORMHOLE})",
    "T3K": "[WH-QuietBox](https://tenstorrent.com/hardware/tt-quietbox)/"
    "[WH-LoudBox](https://tenstorrent.com/hardware/tt-loudbox) (T3K)",
    "GALAXY": "[Galaxy](https://tenstorrent.com/hardware/galaxy)",
    "P100": f"[p100]({_BLACKHOLE})",
    "P150": f"[p150]({_BLACKHOLE})",
    "P150X4": "[BH-QuietBox](https://tenstorrent.com/hardware/tt-quietbox) (P150X4)",
}


def output_json(catalogue: Catalogue) -> str:
    """model_specs_output.json: indent 2, ASCII-escaped, no trailing newline (as the original wrote it)."""
    return json.dumps(catalogue.to_json(), indent=2)


def hardware_cell(template: ModelSpecTemplate) -> str:
    """Default-impl devices in device-type order; devices without a hardware page are listed by name."""
    devices = {d.device for d in template.devices if d.default_impl}
    ordered = [name for name in DEVICE_TYPES if name in devices]
    return ", ".join(HARDWARE_LINKS.get(name, name) for name in ordered)


def template_image(template: ModelSpecTemplate, version: str) -> str:
    return template.docker_image or default_image(version, template.tt_metal_commit, template.vllm_commit)


def readme_row(template: ModelSpecTemplate, version: str) -> tuple[str, ...] | None:
    hardware = hardware_cell(template)
    if not hardware:  # no default-impl device: the README lists default impls only
        return None
    weights = "<br/>".join(f"[{w.rsplit('/', 1)[-1]}](https://huggingface.co/{w})" for w in template.weights)
    tm = template.tt_metal_commit
    impl = template.impl
    metal = f"[{tm[:16]}]({impl.repo_url}/tree/{tm}/{impl.code_path})"
    vllm = (
        f"[{template.vllm_commit[:8]}]({VLLM_REPO_URL}/tree/{template.vllm_commit})" if template.vllm_commit else "N/A"
    )
    image = template_image(template, version)
    tag = image.rsplit(":", 1)[-1]
    status = STATUS_LABELS[template.status]
    return (weights, hardware, status, metal, vllm, f"[{tag}](https://{image})")


def readme_table(catalogue: Catalogue) -> str:
    rows = [readme_row(t, catalogue.version) for t in catalogue.templates]
    return "\n".join(table(README_COLUMNS, [r for r in rows if r is not None], wide_rule=True)) + "\n"


def replace_readme_table(readme: str, table: str, *, source: str = "README.md") -> str:
    """Replace the Model Support table (header line + following `|` lines) with `table`."""
    lines = readme.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == README_HEADER)
    except StopIteration:
        raise InputError(
            f"{source}: no Model Support table found (add the line {README_HEADER!r} where it should go)"
        ) from None
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "".join(lines[:start]) + table + "".join(lines[end:])
