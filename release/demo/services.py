"""Every stand-in the demo starts (stopped again on exit, whatever happens), and the environment the kit runs
with in the clone."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from release import catalogue
from release.config import Secret
from release.demo.console import say
from release.demo.options import DemoOptions
from release.demo.seeding import plan_seeding, preview_spec_update, seed_registry
from release.demo.workspace import PROJECT, ProjectRepo, git_env, make_project
from release.environment import ENV_VARIABLES, SECRET_VARIABLES
from release.redact import redact_text
from release.sim import dockerd as sim_dockerd
from release.sim import registry as sim_registry
from release.sim.github_packages import PackagesSim, install_packages
from release.sim.github_project import ProjectSim
from release.sim.github_server import GitHubServer, install_project
from release.sim.history import SimHistory, SimModel, generate_history
from release.sim.tt_metal_origin import Origin, make_origin
from workflows.model_spec import Catalogue

# Configuration the kit reads from the environment: never inherited from the caller's shell in a rehearsal.
KIT_VARIABLES = ENV_VARIABLES


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
