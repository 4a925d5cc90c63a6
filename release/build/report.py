"""Pure renderers for `inv images.build`: the decision table, progress lines, the result table and
`build_summary_{YYYYmmdd_HHMMSS}.json` (the keys of the original's §6.4, plus engine, duration and push digest per
image)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from tabulate import tabulate

from release.build.plan import BuildPlan, UnitPlan
from release.build.result import BuildEvent, BuildResult, UnitOutcome
from release.build.units import KINDS, PUSHABLE, Unbuildable
from release.redact import redact_text


def _cell(unit: UnitPlan, kind: str) -> str:
    image = unit.images[kind]
    if not image.requested:
        return "-"
    presence = unit.presence[kind]
    if image.build:
        text = "BUILD"
    elif presence.local:
        text = "on engine"
    elif presence.remote:
        text = "in registry"
    else:
        text = "not needed"
    if image.push:
        text += " +PUSH"
    return text


def decision_table(plan: BuildPlan) -> str:
    """One row per unit: what happens to each image of its chain, and why."""
    if not plan.units:
        lines = ["No image chains to consider."]
    else:
        rows = []
        for unit in plan.units:
            rows.append(
                [
                    unit.unit.combination_id,
                    unit.engine or "any",
                    *(_cell(unit, k) for k in KINDS),
                    len(unit.unit.model_ids),
                ]
            )
        lines = [tabulate(rows, headers=["unit (tt-metal-vLLM)", "engine", *KINDS, "models"])]
        work = plan.work
        lines.append("")
        lines.append(
            f"{len(work)} of {len(plan.units)} units have work: "
            f"{sum(len(u.builds) for u in work)} builds, {sum(len(u.pushes) for u in work)} pushes."
        )
        reasons = [
            f"  {u.unit.combination_id} {k}: {u.images[k].reason}"
            for u in plan.units
            for k in KINDS
            if u.images[k].requested and (u.images[k].build or u.images[k].push)
        ]
        if reasons:
            lines.append("Why:")
            lines.extend(reasons)
    if plan.unbuildable:
        lines.append("")
        lines.append("Not built by this recipe:")
        for item in plan.unbuildable:
            mark = "FAILED " if item.failed else ""
            lines.append(f"  {mark}{item.image} ({len(item.model_ids)} models): {item.reason}")
    return "\n".join(lines) + "\n"


def plan_json(plan: BuildPlan) -> dict[str, Any]:
    """The plan as data (`--dry-run --json`)."""
    return {
        "dry_run": True,
        "force_build": plan.flags.force_build,
        "release": plan.flags.release,
        "push": plan.flags.push,
        "ubuntu_version": plan.flags.ubuntu_version,
        "combinations": [
            {
                "combination_id": u.unit.combination_id,
                "tt_metal_commit": u.unit.tt_metal_commit,
                "vllm_commit": u.unit.vllm_commit,
                "engine": u.engine,
                "model_ids": list(u.unit.model_ids),
                "images": {
                    k: {
                        "tag": u.images[k].ref,
                        "local_exists": u.presence[k].local,
                        "remote_exists": u.presence[k].remote,
                        "build": u.images[k].build,
                        "push": u.images[k].push,
                        "reason": u.images[k].reason,
                    }
                    for k in KINDS
                    if u.images[k].requested
                },
            }
            for u in plan.units
        ],
        "unbuildable": [_unbuildable(i) for i in plan.unbuildable],
    }


def _unbuildable(item: Unbuildable) -> dict[str, Any]:
    return {"image": item.image, "model_ids": list(item.model_ids), "reason": item.reason, "failed": item.failed}


def _combination(outcome: UnitOutcome) -> dict[str, Any]:
    plan = outcome.plan
    unit = plan.unit
    images: dict[str, Any] = {}
    for kind in KINDS:
        decision = plan.images[kind]
        if not decision.requested:
            continue
        done = outcome.images.get(kind)
        images[kind] = {
            "tag": decision.ref,
            "local_exists": plan.presence[kind].local,
            "remote_exists": plan.presence[kind].remote,
            "build_attempted": bool(done and done.build_attempted),
            "build_succeeded": done.build_succeeded if done and done.build_attempted else None,
            "pushed": bool(done and done.pushed),
            "digest": done.digest if done else None,
            "engine": outcome.engine if done and (done.build_attempted or done.pushed) else None,
            "duration_s": done.duration_s if done else None,
            "log_file": done.log_file if done else None,
            "decision": decision.reason,
        }
    record: dict[str, Any] = {
        "success": outcome.success,
        "combination_id": unit.combination_id,
        "tt_metal_commit": unit.tt_metal_commit,
        "tt_metal_sha": outcome.tt_metal_sha,
        "vllm_commit": unit.vllm_commit,
        "engine": outcome.engine,
        "duration_s": outcome.duration_s if outcome.engine else None,
        "model_ids": list(unit.model_ids),
        "images": images,
    }
    if outcome.error:
        record["error"] = redact_text(outcome.error)
    return record


def build_summary(result: BuildResult, *, timestamp: str, recipe: str) -> dict[str, Any]:
    """`build_summary_{timestamp}.json`: the original's keys, then engine, duration and digests."""
    flags = result.plan.flags
    combos = [_combination(u) for u in result.units]

    def tags(pred: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {k: [] for k in PUSHABLE}
        for combo in combos:
            for kind in PUSHABLE:
                image = combo["images"].get(kind)
                if image is not None and pred(image):
                    out[kind].append(image["tag"])
        return {k: sorted(v) for k, v in out.items()}

    failures = [u for u in result.units if not u.success]
    failed_unbuildable = [i for i in result.plan.unbuildable if i.failed]
    return {
        "timestamp": timestamp,
        "dry_run": False,
        "ubuntu_version": flags.ubuntu_version,
        "force_build": flags.force_build,
        "release": flags.release,
        "push": flags.push,
        "recipe": recipe,
        "engines": list(result.engines),
        "duration_s": result.duration_s,
        "success_count": len(result.units) - len(failures),
        "failure_count": len(failures) + len(failed_unbuildable),
        "build_attempted": tags(lambda i: i["build_attempted"]),
        "build_succeeded": tags(lambda i: i["build_succeeded"] is True),
        "remote_exists": tags(lambda i: i["remote_exists"] is True),
        "pushed": tags(lambda i: i["pushed"]),
        "combinations": combos,
        "unbuildable": [_unbuildable(i) for i in result.plan.unbuildable],
    }


def result_table(result: BuildResult) -> str:
    rows = []
    for u in result.units:
        if not u.plan.has_work:
            continue
        done = [k for k in KINDS if (img := u.images.get(k)) and img.build_succeeded]
        pushed = [k for k in KINDS if (img := u.images.get(k)) and img.pushed]
        rows.append(
            [
                u.plan.unit.combination_id,
                u.engine or "-",
                "ok" if u.success else "FAILED",
                ", ".join(done) or "-",
                ", ".join(pushed) or "-",
                f"{u.duration_s:.1f}s",
            ]
        )
    if not rows:
        return "Nothing to build or push: every image exists.\n"
    table = tabulate(rows, headers=["unit", "engine", "result", "built", "pushed", "time"])
    failed = [f"  {u.plan.unit.combination_id}: {redact_text(u.error or '')}" for u in result.failures]
    return table + "\n" + ("\nFailures:\n" + "\n".join(failed) + "\n" if failed else "")


def outcome_line(result: BuildResult) -> str:
    """What a run did: `built 6 (2 base, 2 cloud, 2 dev), pushed 4, kept local: 2 base` (base images are never
    pushed; without --push nothing is)."""
    built = Counter(k for u in result.units for k, i in u.images.items() if i.build_succeeded)
    pushed = Counter(k for u in result.units for k, i in u.images.items() if i.pushed)
    if not built and not pushed:
        return "nothing built or pushed: every image exists"
    local = built - pushed

    def kinds(c: Counter[str]) -> str:
        return ", ".join(f"{c[k]} {k}" for k in KINDS if c[k])

    text = f"built {sum(built.values())}" + (f" ({kinds(built)})" if built else "") + f", pushed {sum(pushed.values())}"
    return text + (f", kept local: {kinds(local)}" if local else "")


def engine_label(name: str) -> str:
    """A short name for an engine in progress lines: `unix:///tmp/dk-demo-r9mx5ct0/docker.sock` → `dk-demo-r9mx5ct0`
    (the socket's folder), the machine's own socket → `local`, `tcp://10.0.0.5:2376` → `10.0.0.5`."""
    if name.startswith("unix://"):
        path = PurePosixPath(name[len("unix://") :])
        if str(path) in ("/var/run/docker.sock", "/run/docker.sock"):
            return "local"
        return path.parent.name if path.parent.name not in ("", "run", "tmp", "var", "docker") else path.name
    if "://" in name:
        return urlsplit(name).hostname or name
    return name


def short_refs(text: str) -> str:
    """Image references in a progress message shortened to their tag (and a 12-hex digest): the unit and kind in
    front of the message already say which image it is; the build log and summary keep the full names."""
    words = []
    for word in text.split(" "):
        ref, _, digest = word.partition("@")
        if "/" in ref and ref.rfind(":") > ref.rfind("/"):
            word = ref.rsplit(":", 1)[1] + (f"@{digest[:19]}" if digest else "")
        words.append(word)
    return " ".join(words)


_STEP = re.compile(r"^Step (\d+/\d+) :")


def progress_line(event: BuildEvent) -> str | None:
    """One short line per build event, prefixed with the engine so parallel engines stay readable; None for an
    output line of the build (it is in the image's build log), except a `Step N/M` marker, shown as `step N/M`."""
    where = f"[{engine_label(event.engine)}] {event.combination_id}"
    if event.kind:
        where += f" {event.kind}"
    if event.phase == "line":
        step = _STEP.match(event.message)
        return f"{where}: step {step[1]}" if step else None
    labels = {
        "unit": "start",
        "start": "building",
        "built": "built",
        "pushing": "pushing",
        "pulling": "pulling",
        "pushed": "pushed",
        "failed": "FAILED",
        "done": "done",
    }
    label = labels.get(event.phase, event.phase)
    message = event.message if event.phase == "failed" else short_refs(event.message)
    return f"{where}: {label + ' ' if label else ''}{message}".rstrip()


class ProgressBoard:
    """What each engine is doing now, for a live display: `update(event)` returns a line worth keeping (built,
    pushed, failed...) or None; `lines()` renders one status line per engine."""

    _KEEP = frozenset({"unit", "built", "pulling", "pushed", "failed", "done"})

    def __init__(self, engines: list[str]) -> None:
        self._status: dict[str, str] = {name: "idle" for name in engines}

    def update(self, event: BuildEvent) -> str | None:
        where = f"{event.combination_id} {event.kind}".strip()
        if event.phase in ("start", "pushing", "pulling"):
            self._status[event.engine] = f"{where}: {event.phase if event.phase != 'start' else 'building'}"
        elif event.phase == "line":
            self._status[event.engine] = f"{where}: {event.message}"
        elif event.phase in ("done", "failed") and not event.kind:
            self._status[event.engine] = "idle"
        return progress_line(event) if event.phase in self._KEEP else None

    def lines(self) -> list[str]:
        width = max((len(engine_label(n)) for n in self._status), default=0)
        return [f"{engine_label(name).ljust(width)}  {short_refs(status)}" for name, status in self._status.items()]
