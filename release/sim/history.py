"""A generated, deterministic history of the nightly Models CI ("On Nightly" in tenstorrent/tt-shield).

Used by the fake GitHub server (`release.sim.github_server`) for tests and benchmarks, and reusable as a
"Models CI simulator" for demos. Standard library only.

What it holds (all derived from a seed, so two calls with the same arguments give byte-identical data):
runs newest first with varied status/conclusion/branch/event (an in-progress and a queued run at the top, a
cancelled run, a workflow_dispatch run on another branch, a push on main), per-run test jobs in the four
job-name patterns plus build and filler jobs, ANSI-coloured timestamped logs with tt-smi JSON and the
`actions/checkout` steps of tt-shield, tt-inference-server and tt-metal (older and newer checkout output), one
`workflow_logs_*` artifact per model and run with a run spec and a report in many variants (target / complete /
functional / experimental, failing or missing evals, empty benchmarks, media reports without
`tput_user_check`, override images, malformed JSON, a zip-slip zip), filler artifacts, and expired artifacts
in the oldest runs. Optionally: the CI's own hardware names (`tg`, `llmbox`, `galaxy-t3k`) in job and artifact
names, models sharing one artifact name (two impls of one weight on one device: each run tests one of them),
and passing jobs that concluded `failure`.

`SimHistory.expected_last_good` says, from what was generated, which run holds each model's last good entry:
the truth a reader of the history must find.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from release.sim.joblogs import SimCheckout, iso, make_job_log
from release.sim.reports import CI_IMAGE, OUTCOMES, _artifact_zip, _outcome, _quirk, _zip, override_image, sha

MEDIA_IMAGE = "ghcr.io/tenstorrent/tt-media-inference-server"
BASE_TIME = datetime(2025, 10, 1, 2, 0, 5, tzinfo=timezone.utc)


# The names Models CI gives some machines in job and artifact names (the other devices go by `device.lower()`).
CI_HARDWARE_NAMES: dict[str, str] = {"GALAXY": "tg", "GALAXY_T3K": "galaxy-t3k", "T3K": "llmbox"}
PASSING_OUTCOMES = frozenset({"target", "complete", "functional", "experimental", "na_accuracy", "no_benchmarks_key"})
UNREADABLE_QUIRKS = frozenset({"zip_slip", "malformed_report", "malformed_spec"})
PROJECT = "tenstorrent/tt-inference-server"


@dataclass(frozen=True)
class SimModel:
    model_id: str
    impl_name: str
    model_name: str
    device: str  # DeviceTypes name, e.g. "N150"
    engine: str = "vLLM"  # vLLM | media | forge
    image: str | None = None  # the image CI runs it with, when fixed (an explicit catalogue image)
    ci_hardware: str | None = None  # the CI's name for the machine, when not `device.lower()`

    @property
    def hardware_name(self) -> str:
        return self.ci_hardware or self.device.lower()

    @property
    def artifact_name(self) -> str:
        return f"workflow_logs_release_{self.model_name}_{self.hardware_name}"

    @classmethod
    def from_spec(cls, spec: Any, *, explicit_images: bool = False) -> SimModel:
        """From a catalogue ModelSpec (model_id, impl.impl_name, model_name, device_type, inference_engine).

        With `explicit_images`, a spec with an explicit `docker_image` (media, forge) is run with exactly that
        image, as the real CI does; otherwise with a CI image that changes with the tt-metal commit.
        """
        explicit = explicit_images and bool(getattr(spec, "has_explicit_image", False))
        return cls(
            spec.model_id,
            spec.impl.impl_name,
            spec.model_name,
            str(spec.device_type),
            str(getattr(spec, "inference_engine", "vLLM")),
            str(spec.docker_image) if explicit else None,
        )


def default_models() -> list[SimModel]:
    """A small catalogue-like list for tests that do not load the real catalogue."""
    rows = [
        ("tt-transformers", "Llama-3.1-8B-Instruct", "N150", "vLLM"),
        ("tt-transformers", "Llama-3.1-8B-Instruct", "N300", "vLLM"),
        ("tt-transformers", "Qwen2.5_Coder-7B", "T3K", "vLLM"),
        ("tt-transformers", "Llama-3.3-70B-Instruct", "GALAXY_T3K", "vLLM"),
        ("llama3-70b-galaxy", "Llama-3.3-70B-Instruct", "GALAXY", "vLLM"),
        ("tt-transformers", "stable-diffusion-xl-base-1.0", "N150", "media"),
        ("whisper", "whisper-large-v3", "N300", "media"),
        ("tt-transformers", "AFM-4.5B", "N300", "vLLM"),
    ]
    return [SimModel(f"id_{impl}_{name}_{dev.lower()}", impl, name, dev, eng) for impl, name, dev, eng in rows]


def widened(models: Sequence[SimModel], count: int) -> list[SimModel]:
    """`count` models: `models`, then copies of them under new weight names (`<name>-x2`, `-x3`...), as a
    catalogue grows (225 specs at HEAD of the original project, against 131 at the anchor)."""
    out = list(models)
    copy = 2
    while len(out) < count and models:
        for m in models:
            if len(out) >= count:
                break
            name = f"{m.model_name}-x{copy}"
            out.append(dataclasses.replace(m, model_id=f"id_{m.impl_name}_{name}_{m.device.lower()}", model_name=name))
        copy += 1
    return out


@dataclass
class SimJob:
    id: int
    name: str
    status: str
    conclusion: str | None
    created_at: str
    started_at: str
    completed_at: str | None
    runner_name: str | None
    run_attempt: int
    _log: Callable[[], bytes] = field(repr=False)

    @property
    def log(self) -> bytes:
        return self._log()


@dataclass
class SimArtifact:
    id: int
    name: str
    created_at: str
    expires_at: str
    expired: bool
    with_digest: bool
    _content: Callable[[], bytes] = field(repr=False)
    listed_size: int | None = None  # what the listing says instead of the real size (a lying listing)
    model_id: str | None = None  # the model whose report it carries (None: a filler)
    passes: bool = False  # generated with a passing, readable report
    job_id: int | None = None  # the job that produced it

    @property
    def content(self) -> bytes:
        return self._content()

    @property
    def size_in_bytes(self) -> int:
        return len(self.content) if self.listed_size is None else self.listed_size

    @property
    def digest(self) -> str | None:
        return f"sha256:{hashlib.sha256(self.content).hexdigest()}" if self.with_digest else None


@dataclass
class SimRun:
    id: int
    run_number: int
    workflow_id: int
    status: str
    conclusion: str | None
    head_branch: str
    event: str
    head_sha: str
    created_at: str
    updated_at: str
    run_attempt: int = 1
    jobs: list[SimJob] = field(default_factory=list)
    artifacts: list[SimArtifact] = field(default_factory=list)
    images: set[str] = field(default_factory=set)  # CI images named by this run's artifacts and logs
    override_images: set[str] = field(default_factory=set)  # run specs' override images (quirks), unexpired
    project_commit: str = ""  # the tt-inference-server commit its jobs checked out


@dataclass
class SimHistory:
    owner: str
    repo: str
    workflow_id: int
    workflow_path: str
    workflow_name: str
    runs: list[SimRun]  # newest first
    other_runs: list[SimRun] = field(default_factory=list)  # runs of another workflow in the same repo

    def run(self, run_id: int) -> SimRun | None:
        return next((r for r in [*self.runs, *self.other_runs] if r.id == run_id), None)

    def job(self, job_id: int) -> tuple[SimRun, SimJob] | None:
        return next(((run, j) for run in [*self.runs, *self.other_runs] for j in run.jobs if j.id == job_id), None)

    def ci_images(self) -> list[str]:
        """Every CI image the runs of the workflow name (override images of quirks excluded), sorted."""
        return sorted({image for run in self.runs for image in run.images})

    def named_images(self) -> list[str]:
        """Every image the runs name, the override images of unexpired artifacts' run specs included: `ci_images`,
        then those overrides, sorted."""
        ci = self.ci_images()
        return [*ci, *sorted({i for run in self.runs for i in run.override_images} - set(ci))]

    def artifact(self, artifact_id: int) -> tuple[SimRun, SimArtifact] | None:
        every = [*self.runs, *self.other_runs]
        return next(((run, a) for run in every for a in run.artifacts if a.id == artifact_id), None)

    def expected_last_good(self, max_runs: int) -> dict[str, tuple[int, int]]:
        """{model_id: (run number, artifact id)} of the newest passing, readable, unexpired artifact of each model
        among the newest `max_runs` completed runs: what was generated, computed without the kit."""
        completed = [r for r in self.runs if r.status == "completed"]
        chosen = sorted(completed, key=lambda r: r.run_number, reverse=True)[:max_runs]
        found: dict[str, tuple[int, int]] = {}
        for run in chosen:
            for art in run.artifacts:
                if art.model_id and art.passes and not art.expired and art.model_id not in found:
                    found[art.model_id] = (run.run_number, art.id)
        return found


def _job_name(model: SimModel, pattern: int) -> str:
    m, h = model.model_name, model.hardware_name
    return [
        f"run-release-models / test (release, {m}, {h}, {h})",
        f"run-release-models / test ({m}, {h}, {h})",
        f"run-release-models / run-tests (release, true, {m}, {h}, {h})",
        f"run-release-models / run-tests (true, {m}, {h}, {h})",
    ][pattern % 4]


def generate_history(
    models: Sequence[SimModel] | None = None,
    *,
    runs: int = 12,
    seed: int = 1,
    first_run_number: int = 100,
    owner: str = "tenstorrent",
    repo: str = "tt-shield",
    workflow_path: str = ".github/workflows/on-nightly.yml",
    expired_runs: int = 2,
    filler_artifacts: int = 2,
    filler_jobs: int = 2,
    special_runs: bool = True,
    outcomes: Sequence[tuple[str, int]] = OUTCOMES,
    tt_metal_commits: Sequence[str] = (),
    head_shas: Sequence[str] = (),
    image_per_impl: bool = False,
    project_commits: Sequence[str] = (),
    hardware_names: Mapping[str, str] | None = None,
    shared_names: bool = False,
    failed_conclusions: bool = False,
) -> SimHistory:
    """`runs` runs of the nightly workflow, newest first (see the module docstring).

    `outcomes` weighs the report variants of OUTCOMES (e.g. `[("target", 1)]` for a history where every
    model passes at target); `SimHistory.ci_images()` lists the CI images the runs name, to seed a registry.
    The tt-metal commit changes every three runs: run `idx` (0 = oldest) uses `tt_metal_commits[idx // 3]`
    (wrapping around) when given, else a made-up SHA; give real commits of a stand-in tt-metal origin when the
    images must be buildable. Likewise each run's `head_sha` is `head_shas[idx]` (wrapping) when given, else made
    up; give commits of the project's origin when the git flow must branch from them.
    With `image_per_impl`, each impl (in order of first appearance) has its own CI image per run, with its own
    commits (the n-th impl is n commit groups ahead), as when Models CI tests impls on different commits;
    otherwise every vLLM model of a run shares one CI image.
    Every test job checks out tt-shield (the run's head), tt-inference-server (`project_commits[idx]`, wrapping,
    else made up; give commits of the project's origin when the git flow must branch from them) and tt-metal.
    `hardware_names` ({device: CI name}, e.g. CI_HARDWARE_NAMES) names machines as the CI does. Models that share
    an artifact name (two impls of one weight on one device) are all kept with `shared_names` (each run tests
    one of them, chosen by the seed), else only the first. With `failed_conclusions`, some passing jobs
    conclude `failure` (a flaky teardown; their reports decide).
    """
    models = [
        dataclasses.replace(m, ci_hardware=(hardware_names or {}).get(m.device, m.ci_hardware))
        for m in (models if models is not None else default_models())
    ]
    groups: dict[str, list[SimModel]] = {}
    for m in models:  # one artifact name per run: GitHub refuses duplicates
        group = groups.setdefault(m.artifact_name, [])
        if shared_names or not group:
            group.append(m)
    streams: dict[str, int] = {}
    for m in models:
        streams.setdefault(m.impl_name, len(streams) if image_per_impl else 0)
    workflow_id = 4_100_000 + seed
    out: list[SimRun] = []
    for idx in range(runs):
        offset = runs - 1 - idx  # 0 = newest
        out.append(
            _make_run(
                list(groups.values()),
                idx=idx,
                offset=offset,
                seed=seed,
                number=first_run_number + idx,
                workflow_id=workflow_id,
                expired=idx < expired_runs,
                fillers=filler_artifacts,
                filler_jobs=filler_jobs,
                special=special_runs,
                owner=owner,
                repo=repo,
                outcomes=outcomes,
                tt_metal_commits=tt_metal_commits,
                streams=streams,
                head_sha=head_shas[idx % len(head_shas)] if head_shas else None,
                project_commit=project_commits[idx % len(project_commits)] if project_commits else None,
                failed_conclusions=failed_conclusions,
            )
        )
    out.reverse()
    other = SimRun(
        id=20_900_000_001,
        run_number=7,
        workflow_id=workflow_id + 1,
        status="completed",
        conclusion="success",
        head_branch="dev",
        event="push",
        head_sha=sha("other"),
        created_at=iso(BASE_TIME),
        updated_at=iso(BASE_TIME + timedelta(hours=1)),
    )
    return SimHistory(owner, repo, workflow_id, workflow_path, "On Nightly", out, [other])


def _make_run(
    groups: list[list[SimModel]],
    *,
    idx: int,
    offset: int,
    seed: int,
    number: int,
    workflow_id: int,
    expired: bool,
    fillers: int,
    filler_jobs: int,
    special: bool,
    owner: str,
    repo: str,
    outcomes: Sequence[tuple[str, int]],
    tt_metal_commits: Sequence[str] = (),
    streams: Mapping[str, int] | None = None,
    head_sha: str | None = None,
    project_commit: str | None = None,
    failed_conclusions: bool = False,
) -> SimRun:
    created = BASE_TIME + timedelta(days=idx)
    status, branch, event = "completed", "dev", "schedule"
    conclusion: str | None = "success"
    if special:
        if offset == 0:
            status, conclusion = "in_progress", None
        elif offset == 1:
            status, conclusion = "queued", None
        elif offset == 4:
            branch, event = "feature/faster-sampler", "workflow_dispatch"
        elif offset == 6:
            conclusion = "cancelled"
        elif offset == 8:
            branch, event = "main", "push"
    run_id = 19_000_000_000 + seed * 10_000_000 + idx * 1_000
    run = SimRun(
        id=run_id,
        run_number=number,
        workflow_id=workflow_id,
        status=status,
        conclusion=conclusion,
        head_branch=branch,
        event=event,
        head_sha=head_sha or sha(f"{seed}:{idx}:head"),
        created_at=iso(created),
        updated_at=iso(created + timedelta(hours=8) if status == "completed" else created),
        project_commit=project_commit or sha(f"{seed}:{idx}:tt-inference-server"),
    )
    if status == "queued":
        return run
    job_base = 50_000_000_000 + seed * 100_000_000 + idx * 10_000
    art_base = 3_000_000_000 + seed * 100_000_000 + idx * 10_000

    def commits(stream: int) -> tuple[str, str, str]:
        """(tt-metal, vLLM, CI image) of an impl stream in this run; stream 0 is the shared one."""
        suffix = f":{stream}" if stream else ""
        group = idx // 3 + stream
        tm = (
            tt_metal_commits[group % len(tt_metal_commits)]
            if tt_metal_commits
            else sha(f"{seed}:{idx // 3}:tt-metal{suffix}")
        )
        vllm = sha(f"{seed}:{idx // 3}:vllm{suffix}", 7)
        return tm, vllm, f"{CI_IMAGE}:0.0.5-{tm}-{vllm}-{job_base}"

    _, _, ci_image = commits(0)
    t0 = created + timedelta(hours=1)
    shield = SimCheckout(f"{owner}/{repo}", run.head_sha, subject="Nightly workflow")
    project = SimCheckout(PROJECT, run.project_commit, subject=f"Nightly {number}")
    build_log = functools.partial(
        make_job_log,
        runner="builder-03",
        image=ci_image,
        fw="0",
        kmd="0",
        variant="none",
        t=t0,
        checkouts=(shield, project),
    )
    run.jobs.append(
        SimJob(
            job_base,
            "build-inference-server / build",
            "completed",
            "success",
            iso(created),
            iso(t0),
            iso(t0 + timedelta(minutes=30)),
            "builder-03",
            1,
            build_log,
        )
    )
    for k in range(filler_jobs):
        run.jobs.append(
            SimJob(
                job_base + 5000 + k,
                f"prepare / matrix-{k}",
                "completed",
                "success",
                iso(created),
                iso(t0),
                iso(t0 + timedelta(minutes=1)),
                f"gh-hosted-{k}",
                1,
                functools.partial(lambda: b"nothing to see\n"),
            )
        )
    in_progress = status == "in_progress"
    for pos, group in enumerate(groups):
        model = group[0] if len(group) == 1 else random.Random(f"{seed}:{idx}:{group[0].artifact_name}").choice(group)
        rng = random.Random(f"{seed}:{idx}:{model.model_id}")
        outcome = _outcome(rng, outcomes)
        quirk = _quirk(special, offset, pos)
        if outcome == "not_run" or (in_progress and pos % 2 == 1):
            continue
        start = t0 + timedelta(minutes=40 + pos)
        done = start + timedelta(minutes=50 + rng.randrange(30))
        passing = outcome not in ("fail_accuracy", "no_evals", "no_bench")
        runner = f"tt-{model.hardware_name}-runner-{rng.randrange(1, 12):02d}"
        fw = f"18.{idx % 5}.{pos}"
        kmd = f"2.{idx % 3}.{pos % 4}"
        variant = ["plain", "plain", "none", "malformed_then_good", "two_blocks"][pos % 5]
        job_id = job_base + 1 + pos
        tm, _, model_ci_image = commits((streams or {}).get(model.impl_name, 0))
        image = model.image or (f"{MEDIA_IMAGE}:0.4.0-{tm}" if model.engine == "media" else model_ci_image)
        run.images.add(image)
        # older checkout output in some jobs; tt-metal checked out last (its section must not be taken)
        checkouts = (
            dataclasses.replace(shield, newer=pos % 3 != 0),
            dataclasses.replace(project, newer=pos % 3 != 1),
            SimCheckout("tenstorrent/tt-metal", tm if len(tm) == 40 else sha(tm), newer=pos % 2 == 0),
        )
        log = functools.partial(
            make_job_log, runner=runner, image=image, fw=fw, kmd=kmd, variant=variant, t=start, checkouts=checkouts
        )
        flaky = failed_conclusions and passing and rng.random() < 0.2
        run.jobs.append(
            SimJob(
                job_id,
                _job_name(model, pos),
                "completed",
                "success" if passing and not flaky else "failure",
                iso(start),
                iso(start),
                iso(done),
                runner,
                1,
                log,
            )
        )
        override = override_image(quirk)
        if override is not None and not expired:
            run.override_images.add(override)
        content = functools.cache(
            functools.partial(
                _artifact_zip, model=model, outcome=outcome, quirk=quirk, image=image, idx=idx, created=created
            )
        )
        run.artifacts.append(
            SimArtifact(
                art_base + 1 + pos,
                model.artifact_name,
                iso(done),
                iso(done + timedelta(days=90)),
                expired,
                idx % 3 != 0,
                content,
                model_id=model.model_id,
                passes=outcome in PASSING_OUTCOMES and quirk not in UNREADABLE_QUIRKS,
                job_id=job_id,
            )
        )
    for k in range(fillers):
        data = functools.cache(functools.partial(_zip, {"perf.csv": f"run,{idx},{k}\n".encode()}))
        run.artifacts.append(
            SimArtifact(
                art_base + 5000 + k, f"perf-data_{k:03d}", iso(t0), iso(t0 + timedelta(days=90)), expired, True, data
            )
        )
    return run
