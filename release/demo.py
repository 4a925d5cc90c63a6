"""`python -m release.demo` (`nox -s demo`): the whole release flow on this machine, without internet.

A rehearsal of a real release, on local stand-ins for every outside system:
1. a fresh workspace (default `.demo/` in the checkout, deleted and made again on every run);
2. a bare git origin made from this checkout's HEAD (branches `dev` and `main`) and a working clone of it with a
   git identity, where the kit runs as a release engineer would run it;
3. a stand-in tt-metal origin (release/sim/tt_metal_origin.py) whose commits the simulated CI images carry, so
   the offline build recipe can resolve them;
4. the Models CI simulator: a GitHub-compatible server on 127.0.0.1 (release/sim/github_server.py) serving a
   generated nightly history (release/sim/history.py) for the real catalogue, and the project's pulls, releases
   and refs over the bare origin (release/sim/github_project.py);
5. a local registry (`docker-registry`, installed with apt-get when missing and running as root) seeded with tiny
   images: every image the simulated CI names and the catalogue's explicit (media, forge) images, except the CI
   images of the tt-metal/vLLM commits the fewest templates will carry (found by running the kit's own ci.read
   and spec.update planning against the simulator first), so those dev and release images must be BUILT while
   the others are promoted;
6. a private dockerd (release/sim/dockerd.py) when running as root, for those builds; without one, nothing is
   left to build (what only a build provides is seeded as if built earlier) and the demo says why;
then it runs `inv prerelease --increment minor`, merges the pre-release PR into dev with a merge commit through
the simulator (the human step), runs `inv release`, prints where every output is and stops every service.
Until the composite tasks exist in the checkout, it runs the step tasks they are made of (`--steps` forces that).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from release import artifacts_summary, catalogue, ci_read, ci_report, release_inputs, spec_plan, spec_update, wiring
from release.config import ENV_VARIABLES, SECRET_VARIABLES, Config, Secret
from release.errors import ConfigError, ReleaseError, ServiceError
from release.github_types import RepoRef
from release.http import make_session
from release.imageref import ImageRef
from release.imagetags import parse_commit_tag, same_commit
from release.last_good_file import parse_last_good
from release.notes import KIT_TRAILER
from release.redact import redact_text
from release.sim import dockerd as sim_dockerd
from release.sim import packages
from release.sim import registry as sim_registry
from release.sim.github_packages import PackagesSim, install_packages
from release.sim.github_project import ProjectSim
from release.sim.github_server import GitHubServer, install_project
from release.sim.history import CI_IMAGE, SimHistory, SimModel, generate_history
from release.sim.tt_metal_origin import Origin, make_origin
from release.version import Increment, Version, parse_increment
from workflows.model_spec import Catalogue

MARKER = ".release-kit-demo"
PROJECT = RepoRef("tenstorrent", "tt-inference-server")
IDENTITY = ("Demo Release Engineer", "release-engineer@example.com")
# Configuration the kit reads from the environment: never inherited from the caller's shell in a rehearsal.
KIT_VARIABLES = ENV_VARIABLES


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    repo_root: Path
    workspace: Path
    runs: int = 8
    seed: int = 1
    increment: Increment = "minor"
    install: bool = True  # apt-get install docker-registry when missing (root only)
    build: bool = True  # leave images to build when a private dockerd can run
    steps: bool | None = None  # True: step tasks; False: composites; None: composites when the checkout has them


def say(text: str = "") -> None:
    print(text, flush=True)


def banner(text: str) -> None:
    say(f"\n=== {text} " + "=" * max(3, 95 - len(text)))


# ------------------------------------------------------------------------------------------------ workspace


def fresh_workspace(path: Path, repo_root: Path) -> Path:
    """Delete and make again the demo workspace; refuse to delete a folder the demo did not make."""
    path = path.resolve()
    root = repo_root.resolve()
    if path == root or path in root.parents:
        raise ConfigError(f"the demo workspace {path} would contain the checkout; choose another --workspace")
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise ConfigError(
                f"{path} exists and was not made by the demo (no {MARKER} in it); choose another --workspace "
                "or delete it yourself"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("made by `python -m release.demo`; deleted and made again on every run\n")
    return path


def _git(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=dict(env) if env else None, check=False
    )
    if proc.returncode != 0:
        raise ServiceError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def git_env() -> dict[str, str]:
    """The caller's environment without GIT_* variables (a hook or a worktree must not leak into the demo)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


@dataclass(frozen=True)
class ProjectRepo:
    origin: Path  # bare repository: the project's "GitHub" remote
    clone: Path  # the release engineer's checkout
    head: str  # the commit dev and main start at


def make_project(repo_root: Path, workspace: Path) -> ProjectRepo:
    """A bare origin with `dev` and `main` at this checkout's HEAD, and a clone of `dev` with a git identity."""
    env = git_env()
    head = _git("rev-parse", "HEAD", cwd=repo_root, env=env)
    origin = workspace / "origin" / f"{PROJECT.name}.git"
    origin.parent.mkdir(parents=True)
    _git("init", "-q", "--bare", "-b", "main", str(origin), env=env)
    # Fetched by the bare repository: nothing runs in (or is written to) the caller's checkout.
    _git("--git-dir", str(origin), "fetch", "-q", "--no-tags", str(repo_root), f"{head}:refs/heads/main", env=env)
    _git("--git-dir", str(origin), "update-ref", "refs/heads/dev", head, env=env)
    clone = workspace / PROJECT.name
    _git("clone", "-q", "-b", "dev", str(origin), str(clone), env=env)
    _git("config", "user.name", IDENTITY[0], cwd=clone, env=env)
    _git("config", "user.email", IDENTITY[1], cwd=clone, env=env)
    return ProjectRepo(origin, clone, head)


# ------------------------------------------------------------------------------------------------ CI images


def artifact_images(history: SimHistory) -> list[str]:
    """Every image the runs' model artifacts name, override images included (`SimHistory.ci_images()` leaves
    those out): the run spec's docker_image and cli_args.override_docker_image."""
    seen: dict[str, None] = dict.fromkeys(history.ci_images())
    for run in history.runs:
        for art in run.artifacts:
            if art.expired or not art.name.startswith("workflow_logs_"):
                continue
            try:
                with zipfile.ZipFile(io.BytesIO(art.content)) as zf:
                    for name in zf.namelist():
                        if name.startswith("run_specs/") and name.endswith(".json"):
                            _spec_images(zf.read(name), seen)
            except zipfile.BadZipFile:  # the simulator's damaged artifacts
                continue
    return list(seen)


def _spec_images(raw: bytes, seen: dict[str, None]) -> None:
    try:
        spec = json.loads(raw)
    except ValueError:  # the simulator's malformed run specs
        return
    if isinstance(spec, dict):
        override = (spec.get("cli_args") or {}).get("override_docker_image")
        for image in (spec.get("docker_image"), override):
            if image:
                seen[str(image)] = None


def preview_spec_update(
    cat: Catalogue, *, api_url: str, token: Secret, runs: int, clone: Path, scratch: Path
) -> spec_plan.SpecUpdatePlan:
    """What `spec.update` will do to the catalogue: the kit's own CI reading and catalogue planning, run against
    the simulator in a scratch folder (nothing in the clone is touched)."""
    cfg = Config.from_env({"GITHUB_API_URL": api_url, "GH_PAT": token.reveal()}, repo_root=clone)
    github = wiring.ci_github_client(cfg, cache_root=scratch)
    opts = ci_read.ReadRequest(max_runs=runs).options(cfg)
    result = ci_read.read_ci(
        opts, github=github, models=ci_read.models_from_specs(cat.specs.values()), out_root=scratch
    )
    records = parse_last_good(ci_report.last_good(result), source="the CI preview")
    return spec_update.plan_spec_update(cat, records)


def template_commits(plan: spec_plan.SpecUpdatePlan) -> Counter[tuple[str, str]]:
    """(tt-metal, vLLM) → how many vLLM templates (default images) will carry those commits."""
    return Counter((u.tt_metal_after, u.vllm_after) for u in plan.updates if u.explicit_image is None and u.vllm_after)


def commits_to_build(pairs: Counter[tuple[str, str]], tt_metal_commits: Sequence[str]) -> tuple[str, str] | None:
    """Among the commits of the stand-in tt-metal (the others cannot be built), those of the fewest templates
    (ties: the smallest): their images are built, the others promoted."""
    buildable = [kv for kv in pairs.items() if any(same_commit(kv[0][0], c) for c in tt_metal_commits)]
    return min(buildable, key=lambda kv: (kv[1], kv[0]))[0] if buildable else None


def unprovided_images(cat: Catalogue, plan: spec_plan.SpecUpdatePlan) -> list[str]:
    """The dev and release images (at `cat`'s VERSION) of the templates no simulated CI run passed: only a build
    can provide them."""
    updated = {u.template_index for u in plan.updates}
    out: dict[str, None] = {}
    for spec in cat.specs.values():
        if spec.template_index not in updated and not spec.has_explicit_image:
            out[spec.dev_image] = None
            out[spec.docker_image] = None
    return list(out)


def images_to_seed(
    history: SimHistory, explicit: Sequence[str], *, leave_out: tuple[str, str] | None
) -> tuple[list[str], list[str]]:
    """(seeded, left out): the CI images the history names plus the catalogue's explicit images (they exist
    upstream); the vLLM CI images whose tag carries the `leave_out` commits are left out (their dev and release
    images must then be built)."""
    seeded: list[str] = []
    left: list[str] = []
    ci_repo = ImageRef.parse(CI_IMAGE).repository
    for image in [*artifact_images(history), *explicit]:
        ref = ImageRef.parse(image)
        tag = parse_commit_tag(ref.tag or "", has_vllm=True) if ref.repository == ci_repo else None
        if (
            leave_out
            and tag is not None
            and same_commit(leave_out[0], tag.tt_metal)
            and same_commit(leave_out[1], tag.vllm or "")
        ):
            left.append(image)
        elif image not in seeded:
            seeded.append(image)
    return seeded, left


def seed_registry(reg: sim_registry.Registry, images: Sequence[str], rewrite: tuple[tuple[str, str], ...]) -> None:
    """Push one tiny single-layer image per name (deterministic content, a distinct digest per name)."""
    client = reg.client()
    try:
        seeder = sim_registry.Seeder(client)
        for image in images:
            ref = ImageRef.parse(image).rewrite(rewrite)
            seeder.image(ref, [sim_registry.random_layer(512, seed=image)], label=image)
    finally:
        client.close()


# ------------------------------------------------------------------------------------------------ services


@dataclass(frozen=True)
class SeedPlan:
    """What goes into the registry before the flow, and what is left for `images.build`."""

    images: tuple[str, ...]  # pushed, tiny
    left_out: tuple[str, ...] = ()  # CI images kept out, so the images of their commits must be built
    build_commits: tuple[str, str] | None = None  # (tt-metal, vLLM) of those
    templates: tuple[int, int] = (0, 0)  # (templates carrying build_commits, vLLM templates)
    as_if_built: tuple[str, ...] = ()  # without an engine: what only a build provides, seeded instead
    explicit: int = 0

    def lines(self, skipped: str | None) -> list[str]:
        out = []
        if self.build_commits:
            tm, vllm = self.build_commits
            out.append(
                f"left out the {len(self.left_out)} CI image(s) of tt-metal {tm} / vLLM {vllm} ({self.templates[0]} of "
                f"{self.templates[1]} vLLM templates)"
            )
            out.append("  so their dev and release images are built (offline recipe); the others are promoted")
        else:
            out.append(f"nothing is left to build: {skipped}")
            if self.as_if_built:
                out.append(
                    f"  ({len(self.as_if_built)} dev/release image(s) no simulated run provides were seeded as if "
                    "built earlier)"
                )
        return out


def plan_seeding(
    history: SimHistory,
    cat: Catalogue,
    plan: spec_plan.SpecUpdatePlan,
    *,
    tt_metal_commits: Sequence[str],
    can_build: bool,
    target: Catalogue,
) -> SeedPlan:
    """Seed what the simulated CI names and the explicit images; leave out the commits of the fewest templates
    when an engine can build them, else also seed (from `target`, the catalogue at the bumped VERSION) the images
    only a build could provide."""
    explicit = sorted({s.docker_image for s in cat.specs.values() if s.has_explicit_image})
    pairs = template_commits(plan)
    build = commits_to_build(pairs, tt_metal_commits) if can_build else None
    seeded, left = images_to_seed(history, explicit, leave_out=build)
    as_if_built = [] if can_build else unprovided_images(target, plan)
    return SeedPlan(
        images=tuple(dict.fromkeys([*seeded, *as_if_built])),
        left_out=tuple(left),
        build_commits=build,
        templates=(pairs[build] if build else 0, sum(pairs.values())),
        as_if_built=tuple(as_if_built),
        explicit=len(explicit),
    )


@dataclass
class Services:
    """Everything the demo started, with what the kit needs to reach it."""

    workspace: Path
    project: ProjectRepo
    tt_metal: Origin
    server: GitHubServer
    sim: ProjectSim
    registry: sim_registry.Registry
    token: Secret
    dockerd: sim_dockerd.Dockerd | None
    build_skipped: str | None  # why nothing is left to build

    @property
    def rewrite(self) -> tuple[tuple[str, str], ...]:
        return (("ghcr.io", self.registry.host),)

    def environment(self) -> dict[str, str]:
        """The environment the kit runs with: the caller's, without its kit settings, plus the demo's."""
        env = {k: v for k, v in git_env().items() if k not in KIT_VARIABLES}
        env.update(
            GITHUB_API_URL=self.server.api_url,
            GH_PAT=self.token.reveal(),
            RELEASE_REGISTRY_REWRITE=",".join(f"{a}={b}" for a, b in self.rewrite),
            REGISTRY_USERNAME=self.registry.username,
            REGISTRY_PASSWORD=self.registry.password,
            DOCKER_CONFIG=str(self.workspace / "services" / "docker-config"),
            RELEASE_BUILD_RECIPE="offline",
            RELEASE_TT_METAL_REPO=self.tt_metal.url,
            PYTHONUNBUFFERED="1",
        )
        if self.dockerd is not None:
            env["DOCKER_HOST"] = self.dockerd.url
        return env

    def shown_environment(self) -> str:
        env = self.environment()
        return "\n".join(
            f"  {n}={'<redacted>' if n in SECRET_VARIABLES else redact_text(env[n])}" for n in KIT_VARIABLES if n in env
        )


def simulated_ci(cat: Catalogue, project: ProjectRepo, workspace: Path, opts: DemoOptions) -> tuple[Origin, SimHistory]:
    """The stand-in tt-metal origin and a nightly history of `cat` whose CI images carry its commits and whose runs
    tested the project's HEAD. The catalogue's own tt-metal commits become tags of the stand-in, so that a
    template no simulated run passed (it keeps them) can still be built offline."""
    groups = max(1, (opts.runs + 2) // 3)
    named = sorted({t.tt_metal_commit for t in cat.templates if t.tt_metal_commit})
    tt_metal = make_origin(workspace / "tt-metal", commits_count=groups, extra_tags=named)
    history = generate_history(
        [SimModel.from_spec(s, explicit_images=True) for s in cat.specs.values()],
        runs=opts.runs,
        seed=opts.seed,
        tt_metal_commits=tt_metal.commits[-groups:],
        head_shas=(project.head,),
        project_commits=(project.head,),
        image_per_impl=True,
    )
    return tt_metal, history


@contextmanager
def started_services(opts: DemoOptions, workspace: Path) -> Iterator[Services]:
    """Start every service (stopped again on exit, whatever happens)."""
    with ExitStack() as stack:
        say("making the project's bare origin, the release engineer's clone and a stand-in tt-metal origin ...")
        project = make_project(opts.repo_root, workspace)
        catalogue_path = project.clone / "workflows" / "model_specs.toml"
        version = catalogue.read_version(project.clone / "VERSION")
        cat = catalogue.load_path(catalogue_path, version=str(version))
        tt_metal, history = simulated_ci(cat, project, workspace, opts)
        token = Secret("ghp_demo_" + secrets.token_hex(16))
        server = GitHubServer(history, token=token.reveal()).start()
        stack.callback(server.stop)
        sim = install_project(server, ProjectSim(PROJECT.owner, PROJECT.name, project.origin))
        say(
            f"GitHub simulator on {server.api_url}: Models CI ({len(history.runs)} nightly runs of {len(cat.specs)} "
            "models),\n  and the project's pull requests and releases over the bare origin"
        )

        registry = sim_registry.start_registry(workspace / "services", "registry")
        stack.callback(sim_registry.stop_registry, registry)
        install_packages(server, PackagesSim(registry.client(), registry.host))  # ghcr.io packages, for an undo
        say(f"registry on {registry.host} (htpasswd auth)\n  data: {registry.root}")

        engine: sim_dockerd.Dockerd | None = None
        skipped = sim_dockerd.unavailable_reason() if opts.build else "--no-build was given"
        if skipped is None:
            say("starting a private dockerd (vfs, no iptables, no bridge) ...")
            engine = sim_dockerd.start_dockerd("demo")
            stack.callback(sim_dockerd.stop_dockerd, engine)
            say(f"dockerd on {engine.url}")

        preview = preview_spec_update(cat, api_url=server.api_url, token=token, runs=opts.runs, clone=project.clone,
                                      scratch=workspace / "services" / "ci-preview")  # fmt: skip
        target = catalogue.load_path(catalogue_path, version=str(version.bump(opts.increment)))
        seeding = plan_seeding(history, cat, preview, tt_metal_commits=tt_metal.commits, can_build=engine is not None,
                               target=target)  # fmt: skip
        services = Services(workspace, project, tt_metal, server, sim, registry, token, engine, skipped)
        t0 = time.monotonic()
        seed_registry(registry, seeding.images, services.rewrite)
        say(
            f"seeded {len(seeding.images)} tiny image(s) in {time.monotonic() - t0:.1f} s: the simulated runs' CI "
            f"images and {seeding.explicit} explicit catalogue image(s)"
        )
        for line in seeding.lines(skipped):
            say(line)
        (workspace / "services" / "docker-config").mkdir(parents=True, exist_ok=True)
        yield services


# ------------------------------------------------------------------------------------------------ the flow


class StepFailed(ReleaseError):
    """A command of the flow failed; its own output above says why."""


class Interrupts:
    """SIGTERM handling that never leaves a task running: while a task runs, SIGTERM terminates it (and the demo
    stops after it); otherwise it interrupts the demo like Ctrl-C. A SIGTERM that arrives while a task is being
    started is held until the task is known, so it cannot escape."""

    def __init__(self) -> None:
        self.requested = False
        self.child: subprocess.Popen[bytes] | None = None
        self.spawning = False

    def on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self.child is not None:
            self.child.terminate()
        elif not self.spawning:
            raise KeyboardInterrupt

    def run(self, cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> int:
        self.spawning = True
        try:
            proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env))
            self.child = proc
        finally:
            self.spawning = False
        try:
            if self.requested:
                proc.terminate()
            return proc.wait()
        finally:
            self.child = None
            if proc.poll() is None:  # Ctrl-C or an error in the demo itself
                proc.kill()
                proc.wait()
            if self.requested:
                raise KeyboardInterrupt


INTERRUPTS = Interrupts()


def run_inv(services: Services, *args: str, label: str | None = None) -> None:
    """`inv ARGS` in the clone (its own tasks.py and release package) with the demo's environment."""
    banner(f"inv {' '.join(args)}" if label is None else label)
    cmd = [sys.executable, "-m", "invoke", *args]
    code = INTERRUPTS.run(cmd, cwd=services.project.clone, env=services.environment())
    if code != 0:
        raise StepFailed(f"`inv {' '.join(args)}` failed (exit {code}); see its output above", exit_code=code)


def has_composites(services: Services) -> bool:
    """Whether the clone's tasks.py has the top-level `prerelease` and `release` tasks."""
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "--list", "--list-format=json"],
        cwd=services.project.clone,
        env=services.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StepFailed(f"`inv --list` failed in {services.project.clone}: {proc.stderr.strip()[-500:]}")
    names = {t.get("name") for t in json.loads(proc.stdout).get("tasks", [])}
    return {"prerelease", "release"} <= names


def git_in_clone(services: Services, *args: str) -> str:
    return _git(*args, cwd=services.project.clone, env=services.environment())


def commit_and_push(services: Services, message: str, kit_step: str) -> None:
    """Commit what the steps changed (catalogue, outputs, summaries) with the kit's trailer, then push."""
    git_in_clone(services, "add", "-A")
    if git_in_clone(services, "status", "--porcelain", "--untracked-files=no"):
        git_in_clone(services, "commit", "-q", "-m", message, "--trailer", f"{KIT_TRAILER}: {kit_step}")
    branch = git_in_clone(services, "rev-parse", "--abbrev-ref", "HEAD")
    git_in_clone(services, "push", "-q", "origin", f"{branch}:refs/heads/{branch}")
    say(f"committed and pushed {branch} ({git_in_clone(services, 'rev-parse', '--short', 'HEAD')})")


def newest_last_good(services: Services) -> str:
    path = release_inputs.newest_ci_file(services.project.clone / "release_logs", "last_good")
    if path is None:
        raise StepFailed("inv ci.read wrote no models_ci_last_good_*.json")
    return str(path.relative_to(services.project.clone))


def images_to_build(services: Services, summary: str) -> list[str]:
    found = artifacts_summary.read_if_exists(services.project.clone / "release_logs" / summary)
    return list(found.to_build) if found is not None else []


def build_step(services: Services, summary: str, *extra: str) -> None:
    wanted = images_to_build(services, summary)
    if not wanted:
        banner("images.build")
        say(f"nothing to build: release_logs/{summary} lists no images_to_build")
        return
    if services.dockerd is None:
        raise StepFailed(
            f"{len(wanted)} image(s) must be built but no Docker engine is available: {services.build_skipped}"
        )
    run_inv(services, "images.build", "--push", *extra, "--only-missing-from", f"release_logs/{summary}")


def prerelease_steps(services: Services, opts: DemoOptions, version: Version) -> None:
    """What `inv prerelease --increment minor` does, one step task at a time."""
    v = str(version)
    run_inv(services, "ci.read", "--max-runs", str(opts.runs))
    last_good = newest_last_good(services)
    run_inv(services, "git.prerelease", "--version", v)
    run_inv(services, "spec.update", last_good)
    run_inv(services, "images.promote", last_good, "--dev", "--increment", opts.increment)
    build_step(services, "dev_artifacts_summary.json")
    run_inv(services, "spec.update", "--output-only")
    banner("commit and push")
    commit_and_push(services, f"Pre-release v{v}: catalogue, outputs and artifact summaries", "prerelease")
    run_inv(services, "git.pr", "--prerelease", "--version", v)


def release_steps(services: Services, version: Version) -> None:
    """What `inv release` does, one step task at a time."""
    v = str(version)
    last_good = newest_last_good(services)
    run_inv(services, "git.rc", "--version", v)
    run_inv(services, "images.promote", last_good, "--release")
    build_step(services, "release_artifacts_summary.json", "--release")
    run_inv(services, "spec.update", last_good, "--against", "origin/main")
    banner("commit and push")
    commit_and_push(services, f"Release candidate v{v}: release artifact summary and models diff", "release")
    run_inv(services, "git.pr", "--rc", "--version", v)
    run_inv(services, "git.notes", "--version", v)


def merge_pull(services: Services, head: str, base: str) -> dict[str, Any]:
    """The human step: merge the open PR head → base with a merge commit, through the simulator's API."""
    banner(f"merge the PR {head} → {base} (the maintainer's step, on the simulator)")
    api = f"{services.server.api_url}/repos/{PROJECT.owner}/{PROJECT.name}"
    headers = {"Authorization": f"Bearer {services.token.reveal()}", "Accept": "application/vnd.github+json"}
    session = make_session()
    try:
        resp = session.get(
            f"{api}/pulls", params={"head": f"{PROJECT.owner}:{head}", "base": base, "state": "open"}, headers=headers
        )
        pulls = resp.json() if resp.status_code == 200 else []
        if not pulls:
            raise StepFailed(f"no open PR {head} → {base} on the simulator (HTTP {resp.status_code})")
        number = int(pulls[0]["number"])
        resp = session.put(f"{api}/pulls/{number}/merge", json={"merge_method": "merge"}, headers=headers)
        if resp.status_code != 200:
            raise StepFailed(f"merging PR #{number} failed: HTTP {resp.status_code} {resp.text[:200]}")
        merged = dict(resp.json())
    finally:
        session.close()
    say(f"merged PR #{number} with merge commit {merged['sha'][:12]}\n  {pulls[0]['html_url']}")
    return merged


def run_flow(services: Services, opts: DemoOptions) -> Version:
    clone = services.project.clone
    version = catalogue.read_version(clone / "VERSION").bump(opts.increment)
    composites = has_composites(services) if opts.steps is None else not opts.steps
    say(
        f"\nrehearsing release v{version} with "
        + ("the composite tasks" if composites else "the step tasks (no `inv prerelease` in this checkout yet)")
        + f"\n  in {clone}"
    )
    say("environment:\n" + services.shown_environment())
    if composites:
        run_inv(services, "prerelease", "--increment", opts.increment, "--max-runs", str(opts.runs))
    else:
        prerelease_steps(services, opts, version)
    merge_pull(services, f"pre-release-v{version}", "dev")
    if composites:
        run_inv(services, "release")
    else:
        release_steps(services, version)
    return version


# ------------------------------------------------------------------------------------------------ report


def outputs_report(services: Services, version: Version) -> str:
    clone = services.project.clone
    logs = clone / "release_logs"
    lines = [f"workspace: {services.workspace}", f"checkout (the release engineer's clone): {clone}"]

    def listing(title: str, paths: Sequence[Path]) -> None:
        if paths:
            lines.append(f"{title}:")
            lines.extend(f"  {p.relative_to(clone)}" for p in paths)

    listing("CI data (inv ci.read)", sorted(logs.glob("models_ci_*.json")))
    listing("CI health page (open in a browser)", sorted(logs.glob("models_ci_health_*.html")))
    listing("summaries", sorted({*logs.glob("*summary*.*"), *logs.glob("release_models_diff.md")}))
    listing("release state and record", sorted([*logs.glob("release_state_*.json"), *logs.glob("release_record_*")]))
    listing("release notes", sorted(logs.glob("release_notes_*.md")))
    listing("run logs (every progress line in full)", sorted(logs.glob("run_logs/*.log")))
    listing(
        "promotion plans and state", sorted([*logs.glob("*_promotion_plan.json"), *logs.glob("promote_state.json")])
    )
    build_logs = sorted((clone / "workflow_logs" / "docker_build_logs").glob("*"))
    if build_logs:
        listing("build logs", build_logs)
    elif services.build_skipped:
        lines.append(f"build logs: none (builds skipped: {services.build_skipped})")
    lines.append("pull requests (simulated GitHub):")
    for pr in sorted(services.sim.pulls.values(), key=lambda p: p.number):
        state = "merged" if pr.merged else pr.state
        lines.append(f"  #{pr.number} {pr.head} → {pr.base} ({state})")
        lines.append(f"      page: {services.sim.html(f'/pull/{pr.number}')}")
        lines.append(f"      API:  {services.server.api_url}/repos/{PROJECT.owner}/{PROJECT.name}/pulls/{pr.number}")
    for rel in services.sim.releases.values():
        lines.append(f"release {rel.tag_name} ({'draft' if rel.draft else 'published'})")
    branches = _git("--git-dir", str(services.project.origin), "for-each-ref", "--format=%(refname:short)",
                    "refs/heads", env=git_env()).split()  # fmt: skip
    lines.append(f"origin: {services.project.origin}")
    lines.append(f"  branches: {', '.join(branches)}")
    reg = services.registry
    tagged = {repo: reg.tags(repo) for repo in reg.catalog()}
    released = sorted(f"{repo}:{t}" for repo, tags in tagged.items() for t in tags if t.startswith(f"{version}-"))
    lines.append(f"registry {reg.host}: {sum(len(t) for t in tagged.values())} tag(s); v{version} images:")
    lines.extend(f"  {r}" for r in released)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ main


def run(opts: DemoOptions) -> int:
    t0 = time.monotonic()
    sim_registry.ensure_registry_binary(install=opts.install, on_event=say)  # first: one clear message if missing
    if opts.build and opts.install and packages.can_install():
        try:  # the builds need an engine; without one the demo seeds what they would have pushed, and says so
            packages.ensure([packages.DOCKERD], install=True, on_event=say)
        except ServiceError as e:
            say(f"note: {e}")
    workspace = fresh_workspace(opts.workspace, opts.repo_root)
    say(f"demo workspace: {workspace} (made again on every run)")
    if _git("status", "--porcelain", "--untracked-files=no", cwd=opts.repo_root, env=git_env()):
        say("note: this checkout has uncommitted changes; the demo rehearses its last commit (HEAD)")
    with started_services(opts, workspace) as services:
        version = run_flow(services, opts)
        banner(f"release v{version} rehearsed in {time.monotonic() - t0:.0f} s; where everything is")
        say(outputs_report(services, version))
        say("\nstopping the services ...")
    say("done")
    return 0


def parse_args(argv: Sequence[str] | None, repo_root: Path) -> DemoOptions:
    ap = argparse.ArgumentParser(
        prog="python -m release.demo",
        description="Rehearse a whole release on local services (no internet): pre-release, merge, release.",
    )
    ap.add_argument("--workspace", type=Path, default=repo_root / ".demo",
                    help="folder for everything the demo makes; deleted and made again (default: .demo/)")  # fmt: skip
    ap.add_argument("--runs", type=int, default=8, help="nightly Models CI runs to simulate (default 8)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the simulated CI history (default 1)")
    ap.add_argument("--increment", choices=("major", "minor", "patch"), default="minor")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install docker-registry or docker.io")
    ap.add_argument("--no-build", action="store_true", help="start no dockerd; seed every image instead")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--steps", dest="steps", action="store_true", default=None,
                      help="run the step tasks (ci.read, spec.update, ...) instead of the composites")  # fmt: skip
    mode.add_argument("--composite", dest="steps", action="store_false",
                      help="run `inv prerelease` and `inv release` (default when the checkout has them)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.runs < 5:
        raise ConfigError(
            "--runs must be at least 5: the two newest simulated runs are unfinished and the two oldest expired"
        )
    return DemoOptions(
        repo_root=repo_root,
        workspace=args.workspace,
        runs=args.runs,
        seed=args.seed,
        increment=parse_increment(args.increment) or "minor",
        install=not args.no_install,
        build=not args.no_build,
        steps=args.steps,
    )


def main(argv: Sequence[str] | None = None, *, repo_root: Path | None = None) -> int:
    root = repo_root or Path(__file__).resolve().parents[1]
    previous = signal.signal(signal.SIGTERM, INTERRUPTS.on_sigterm)  # SIGTERM stops the services like Ctrl-C
    try:
        return run(parse_args(argv, root))
    except ReleaseError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; the services were stopped", file=sys.stderr, flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
