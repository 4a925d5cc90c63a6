"""Pure: pull-request bodies and release notes (markdown) from the release's files, already read.

Inputs are plain values (the typed models diff, the parsed `*_artifacts_summary.json`, the
last-good and all-results records, the commits of a branch); nothing here reads a file or talks to a server.
Missing data renders as UNKNOWN (or a line saying which file is missing) instead of failing: notes are
reviewed by a person, who can fill a gap, while a crash helps nobody.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from release import models_diff
from release.ci_results_file import AllResults, ResultEntry
from release.git_types import Commit
from release.last_good_file import LastGoodRecords
from release.markdown import code, table
from release.models_diff import DiffRow, ModelsDiff

if TYPE_CHECKING:
    from workflows.model_spec import ModelSpec

T = TypeVar("T")

UNKNOWN = "UNKNOWN"

# Commits made by the kit carry this trailer (`Release-Kit: spec.update`); every other commit on a release
# branch is a "manual change" that the PR body lists for review.
KIT_TRAILER = "Release-Kit"

# The human-written part of the release notes, kept across re-renders.
HUMAN_START = "<!-- human:vllm-features:start -->"
HUMAN_END = "<!-- human:vllm-features:end -->"
PLACEHOLDER_TOKEN = "RELEASE-NOTES-PLACEHOLDER"
PLACEHOLDER = (
    f"<!-- {PLACEHOLDER_TOKEN}: replace these two lines with a summary of the new vLLM features. "
    "`inv git.notes --publish` refuses while they are here. -->\n"
    "_TODO: summarise the new vLLM features of this release._"
)


def kit_commit_message(step: str, subject: str, files: Sequence[str] = ()) -> str:
    """The message of a commit made by the kit: a short subject, the files in the body, and the trailer by which
    it is recognised later as not a manual change."""
    body = "".join(f"- {name}\n" for name in files)
    return f"{subject}\n\n{body + chr(10) if body else ''}{KIT_TRAILER}: {step}\n"


def kit_commit_subject(kind: str, version: str, files: Sequence[str]) -> str:
    """`Pre-release 0.6.0: catalogue, outputs and images` — what changed, in words, never the file list."""
    parts = []
    names = [name.rsplit("/", 1)[-1] for name in files]
    if "model_specs.toml" in names:
        parts.append("catalogue")
    if any(n in ("model_specs_output.json", "README.md") for n in names):
        parts.append("outputs")
    if "VERSION" in names:
        parts.append("VERSION")
    if any(n.endswith("_artifacts_summary.json") or n.endswith("_artifacts_summary.md") for n in names):
        parts.append("images")
    if any(n in ("release_models_diff.md", "release_models_diff.json") for n in names):
        parts.append("models diff")
    what = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else (parts[0] if parts else "release files")
    return f"{'Pre-release' if kind == 'prerelease' else 'Release'} {version}: {what}"


# ---------------------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ManualChange:
    sha: str
    subject: str
    author: str


@dataclass(frozen=True)
class CiRunRef:
    run_id: str
    run_number: str
    url: str


@dataclass(frozen=True)
class Waiver:
    model_id: str
    device: str
    reason: str
    link: str  # markdown link to the failing job, or UNKNOWN


@dataclass(frozen=True)
class ReleasedImage:
    image: str
    digest: str
    source: str
    kind: str  # "promoted", "existing", "built", "needs build" (release.record.HOW)


@dataclass(frozen=True)
class PrBodyInput:
    kind: str  # "prerelease" | "rc"
    version: str
    head: str
    base: str
    models_diff: ModelsDiff | None  # None: release_models_diff.json missing
    artifacts_summary_md: str | None
    artifacts_summary_name: str
    manual_changes: Sequence[ManualChange]
    waivers: Sequence[Waiver] | None  # None: no CI results available
    ci_runs: Sequence[CiRunRef] = ()
    ci_health_page: str | None = None  # file name of the CI health page (release_logs/, not committed)


@dataclass(frozen=True)
class NotesInput:
    version: str
    tag: str
    commit: str | None
    ci_runs: Sequence[CiRunRef]
    firmware: Mapping[str, int]  # version → models whose last good job ran it (hardware_versions)
    kmd: Mapping[str, int]
    changes: Sequence[DiffRow] | None  # None: release_models_diff.json missing
    waivers: Sequence[Waiver] | None
    images: Sequence[ReleasedImage] | None  # None: release_artifacts_summary.json missing
    extra: Mapping[str, str] = field(default_factory=dict)
    commit_note: str = ""  # e.g. that the commit is the rc branch's head until the release PR is merged


# ---------------------------------------------------------------------------------------------------------
# extraction from the kit's files (already parsed)
# ---------------------------------------------------------------------------------------------------------
def manual_changes(commits: Iterable[Commit]) -> list[ManualChange]:
    """Commits not made by the kit (no `Release-Kit:` trailer), oldest first as given; merges left out."""
    out: list[ManualChange] = []
    trailer = re.compile(rf"^{re.escape(KIT_TRAILER)}:\s*\S", re.MULTILINE)
    for c in commits:
        if c.is_merge or trailer.search(c.message):
            continue
        out.append(ManualChange(c.sha[:12], c.subject, c.author_name))
    return out


def ci_runs_used(last_good: LastGoodRecords) -> list[CiRunRef]:
    """The distinct CI runs that supplied a last-good record, newest run number first."""
    runs: dict[str, CiRunRef] = {}
    for record in last_good.values():
        if record is None:
            continue
        run_id = str(record.ci_run_id or UNKNOWN)
        number = str(record.ci_run_number or UNKNOWN)
        runs.setdefault(run_id, CiRunRef(run_id, number, record.ci_run_url or UNKNOWN))
    return sorted(runs.values(), key=lambda r: (_int(r.run_number), r.run_id), reverse=True)


def newest_run(last_good: LastGoodRecords) -> CiRunRef | None:
    runs = ci_runs_used(last_good)
    return runs[0] if runs else None


def hardware_versions(last_good: LastGoodRecords) -> tuple[dict[str, int], dict[str, int]]:
    """Firmware bundles and KMD versions the last-good jobs ran: {version: number of models} (UNKNOWN included)."""
    fw: dict[str, int] = {}
    kmd: dict[str, int] = {}
    for record in last_good.values():
        if record is not None:
            for seen, value in ((fw, record.firmware_bundle), (kmd, record.driver_version)):
                seen[value or UNKNOWN] = seen.get(value or UNKNOWN, 0) + 1
    return fw, kmd


def compact_versions(counts: Mapping[str, int], *, spread: int = 3) -> str:
    """`18.0.0–18.0.129 (79 versions, 95 models), 18.4.0 (2 models), UNKNOWN (2 models)`: sorted by version, and a
    release line (all parts but the last) with more than `spread` versions shown as a range. UNKNOWN stays visible.
    """
    known = sorted((v for v in counts if v != UNKNOWN), key=_version_key)
    lines: dict[tuple[Any, ...], list[str]] = {}
    for version in known:
        lines.setdefault(_version_key(version)[:-1], []).append(version)
    parts = []
    for versions in lines.values():
        if len(versions) > spread:
            models = sum(counts[v] for v in versions)
            parts.append(f"{versions[0]}–{versions[-1]} ({len(versions)} versions, {_models(models)})")
        else:
            parts += [f"{v} ({_models(counts[v])})" for v in versions]
    if counts.get(UNKNOWN):
        parts.append(f"{UNKNOWN} ({_models(counts[UNKNOWN])})")
    return ", ".join(parts) or UNKNOWN


def _version_key(version: str) -> tuple[tuple[int, Any], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+]", version))


def _models(n: int) -> str:
    return f"{n} model{'s' if n != 1 else ''}"


def find_waivers(all_results: AllResults, specs: Mapping[str, ModelSpec]) -> list[Waiver]:
    """Default-impl models whose newest CI result is not passing.

    `all_results` is the §8.1 file, read by its one reader (`ci_results_file`); `specs` are the catalogue's (the
    source of model_specs_output.json), which say which models are the default impl. A model the catalogue does not
    know is left out.
    """
    waivers: list[Waiver] = []
    for model_id, entries in all_results.by_key.items():
        spec = specs.get(model_id)
        if not entries or spec is None or not spec.default_impl:
            continue
        ordered = sorted(entries, key=_entry_order)
        newest = ordered[-1]
        if newest.is_passing:
            continue
        earlier = [e for e in ordered[:-1] if e.is_passing]
        run = _run_number(newest)
        if earlier:
            reason = f"failed in run {run} after passing in run {_run_number(earlier[-1])}"
        else:
            reason = f"failed in run {run}; no passing run"
        link = f"[job]({newest.job.url})" if newest.job is not None and newest.job.url else UNKNOWN
        waivers.append(Waiver(model_id, spec.device_type or UNKNOWN, reason, link))
    return sorted(waivers, key=lambda w: w.model_id)


KIND_ORDER = ("promoted", "built", "existing", "needs build")


def _kind_order(image: ReleasedImage) -> tuple[int, str, str]:
    rank = KIND_ORDER.index(image.kind) if image.kind in KIND_ORDER else len(KIND_ORDER)
    return (rank, image.kind, image.image)


def _commit_cell(commit: str | None, note: str) -> str:
    if not commit:
        return UNKNOWN
    return f"`{commit[:12]}`" + (f" ({note})" if note else "")


# ---------------------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------------------
MERGE_INSTRUCTION = {
    "prerelease": (
        "Merge this PR with **Create a merge commit** (not squash, not rebase). Conflict resolutions then stay "
        "on `{base}`, and the release continues from `{head}`: `inv git.rc --version {version}` checks for "
        "that merge commit before it cuts `rc-v{version}`."
    ),
    "rc": (
        "Merge this PR with **Create a merge commit** (not squash, not rebase), after one repo-owner approval, "
        "so that `{base}` and `dev` keep the same commit ids. Hot-fixes go to `dev` first "
        "(`inv git.hotfix`), then onto `{head}` with `inv git.hotfix --apply`."
    ),
}


def pr_title(kind: str, version: str) -> str:
    return f"Pre-release v{version}" if kind == "prerelease" else f"Release v{version}"


def render_pr_body(inp: PrBodyInput) -> str:
    instruction = MERGE_INSTRUCTION[inp.kind].format(base=inp.base, head=inp.head, version=inp.version)
    out: list[str] = [
        f"# {pr_title(inp.kind, inp.version)}: `{inp.head}` → `{inp.base}`",
        "",
        f"> [!IMPORTANT]\n> {instruction}",
        "",
    ]
    if inp.ci_runs:
        out += ["Models CI runs used: " + ", ".join(_run_link(r) for r in inp.ci_runs), ""]
    if inp.ci_health_page:
        out += [_health_page_line(inp.ci_health_page), ""]
    out += ["## Model spec changes", ""]
    diff_md = models_diff.render(inp.models_diff) if inp.models_diff is not None else None
    out += [_embed(diff_md, "release_logs/release_models_diff.json", "inv spec.update"), ""]
    out += ["## Docker image artifacts", ""]
    out += [
        _embed(inp.artifacts_summary_md, f"release_logs/{inp.artifacts_summary_name}", "inv images.promote"),
        "",
    ]
    out += ["## Manual changes", ""]
    if inp.manual_changes:
        out += ["Commits on this branch that the release kit did not make; review them by hand:", ""]
        out += [f"- `{c.sha[:7]}` {c.subject} ({c.author})" for c in inp.manual_changes]
    else:
        out += ["None: every commit on this branch since it was cut was made by the release kit."]
    out += ["", "## Model waivers", ""]
    out += _waiver_lines(inp.waivers)
    out += ["", "## How to merge", "", instruction, ""]
    return "\n".join(out)


def render_release_notes(inp: NotesInput, *, human: str | None = None) -> str:
    """The release notes; `human` is the text a person wrote in the vLLM-features section (kept on re-render)."""
    runs = ", ".join(_run_link(r) for r in inp.ci_runs) or UNKNOWN
    header = [
        ("Version", f"`{inp.version}`"),
        ("Git tag", f"`{inp.tag}`"),
        ("Commit", _commit_cell(inp.commit, inp.commit_note)),
        ("Models CI runs", runs),
        ("Firmware bundle", compact_versions(inp.firmware)),
        ("KMD", compact_versions(inp.kmd)),
        *inp.extra.items(),
    ]
    out = [f"# tt-inference-server v{inp.version}", "", *table(("", ""), header)]
    out += [
        "",
        "## New vLLM features",
        "",
        HUMAN_START,
        (human.strip("\n") if human else PLACEHOLDER),
        HUMAN_END,
        "",
    ]

    out += ["## Model support changes", ""]
    out += _section(
        inp.changes, "release_logs/release_models_diff.json was not found (run `inv spec.update`).",
        "No model spec changes in this release.", _changes_table,
    )  # fmt: skip
    out += ["", "## Status and performance changes", ""]
    if inp.changes is None:
        out += [UNKNOWN]
    else:
        moved = [c for c in inp.changes if c.status_changed]
        if not moved:
            out += ["No status changes."]
        for c in moved:
            arrow = {"up": "⬆️ ", "down": "⬇️ ", "new": "🆕 "}.get(c.direction, "")
            out.append(f"- {arrow}{code(c.model_arch)} on {c.devices_cell()}: {c.status_cell()} ({c.ci_cell()})")
    out += ["", "## Model waivers", ""]
    out += _waiver_lines(inp.waivers)
    out += ["", "## Release images", ""]
    out += _section(
        inp.images, "release_logs/release_artifacts_summary.json was not found (run `inv images.promote`).",
        "No images in this release.", _images_table,
    )  # fmt: skip
    out.append("")
    return "\n".join(out)


def _section(
    items: Sequence[T] | None, missing: str, empty: str, render: Callable[[Sequence[T]], list[str]]
) -> list[str]:
    """A notes section of a list: UNKNOWN when its file was missing, a sentence when it is empty, else rendered."""
    if items is None:
        return [f"{UNKNOWN}: {missing}"]
    return render(items) if items else [empty]


def _changes_table(changes: Sequence[DiffRow]) -> list[str]:
    rows = [
        (code(c.model_arch), c.weights_cell(), c.devices_cell(), c.tt_metal_cell(), c.vllm_cell(), c.status_cell(),
         c.ci_cell())
        for c in changes
    ]  # fmt: skip
    return table(("Model", "Weights", "Devices", "tt-metal", "vLLM", "Status", "CI"), rows)


def _images_table(released: Sequence[ReleasedImage]) -> list[str]:
    ordered = sorted(released, key=_kind_order)
    images = [
        (_link(img.image), code(img.digest) if img.digest != UNKNOWN else UNKNOWN,
         _link(img.source) if img.source != "—" else "—", img.kind)
        for img in ordered
    ]  # fmt: skip
    kinds = list(dict.fromkeys(i.kind for i in ordered))
    counts = ", ".join(f"{sum(i.kind == k for i in released)} {k}" for k in kinds)
    return [*table(("Image", "Digest", "Source", "State"), images), "", f"**Total:** {len(released)} ({counts})"]


def human_section(text: str) -> str | None:
    """What a person wrote between the markers of an existing notes file (None when there are no markers)."""
    start, end = text.find(HUMAN_START), text.find(HUMAN_END)
    if start < 0 or end < start:
        return None
    return text[start + len(HUMAN_START) : end].strip("\n")


def unfinished(text: str) -> str | None:
    """Why these notes cannot be published yet, or None when they can."""
    if PLACEHOLDER_TOKEN in text or "_TODO: summarise the new vLLM features" in text:
        return "the vLLM features placeholder is still there"
    section = human_section(text)
    if section is None:
        return f"the vLLM features section markers ({HUMAN_START} … {HUMAN_END}) are missing"
    if not section.strip():
        return "the vLLM features section is empty"
    return None


# ---------------------------------------------------------------------------------------------------------
def _waiver_lines(waivers: Sequence[Waiver] | None) -> list[str]:
    if waivers is None:
        return [f"{UNKNOWN}: no Models CI results were found (run `inv ci.read`)."]
    if not waivers:
        return ["None: no default-impl model regressed in the Models CI runs read."]
    lines = [
        "Default-impl models whose last Models CI result regressed. They ship with this release under a waiver:",
        "",
    ]
    rows = [(code(w.model_id), w.device, w.reason, w.link) for w in waivers]
    return lines + table(("Model", "Device", "Last CI result", "Job"), rows)


def _embed(md: str | None, name: str, producer: str) -> str:
    """Another markdown file inside a section: its title dropped, its headings moved one level down."""
    if md is None:
        return f"{UNKNOWN}: `{name}` was not found (run `{producer}`)."
    lines = md.strip("\n").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out = []
    for line in lines:
        m = re.match(r"^(#{1,4}) ", line)
        out.append("#" + line if m else line)
    return "\n".join(out).strip("\n") or "(empty)"


def _health_page_line(name: str) -> str:
    return (
        f"Models CI health (model × run grid, last good marked ★): `{name}`. It is not committed: open it from "
        "`release_logs/` of the checkout that ran `inv prerelease`, or from the `release_logs` artifact of the "
        "Release workflow run."
    )


def _run_link(r: CiRunRef) -> str:
    label = f"Run {r.run_number}" if r.run_number != UNKNOWN else f"Run id {r.run_id}"
    return f"[{label}]({r.url})" if r.url != UNKNOWN else label


def _link(image: str) -> str:
    if image.startswith(("ghcr.io/", "docker.io/")):
        return f"[{image}](https://{image})"
    return code(image)


def _run_number(entry: ResultEntry) -> str:
    return str(entry.run.run_number or UNKNOWN) if entry.run is not None else UNKNOWN


def _entry_order(entry: ResultEntry) -> tuple[int, str]:
    completed = entry.job.completed_at if entry.job is not None else None
    return (entry.run.run_number if entry.run is not None else -1, completed or "")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
