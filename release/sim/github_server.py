"""The fake GitHub, assembled: a GitHub-compatible HTTP server (standard library only) for tests, benchmarks and
the demo, on 127.0.0.1.

- release/sim/github_routing.py: the HTTP layer (two listeners, route table, auth, faults, ETags, pagination,
  the OpenAPI validation hook);
- release/sim/github_actions.py: Models CI, the Actions API over a generated `SimHistory` (`GitHubServer` serves
  one from the start);
- release/sim/github_project.py, github_pulls.py, github_releases.py: the project's pull requests, releases, refs
  and commits over a bare git repository (`install_project`);
- release/sim/github_packages.py: ghcr.io container packages over a registry (`install_packages`).
"""

from __future__ import annotations

import threading
from typing import Any

from release.sim import github_project, github_pulls, github_releases
from release.sim.github_actions import ActionsApi
from release.sim.github_project import ProjectSim
from release.sim.github_routing import Reply, RoutingServer
from release.sim.history import SimHistory


class GitHubServer(RoutingServer):
    """The fake GitHub serving `history` as Models CI (its job logs and artifact zips on the blob host)."""

    def __init__(self, history: SimHistory, **options: Any) -> None:
        super().__init__(**options)
        self.history = history
        self.actions = ActionsApi(history)
        self.actions.install(self)

    def blob(self, path: str) -> Reply:
        return self.actions.blob(path)


def install_project(server: RoutingServer, project: ProjectSim) -> ProjectSim:
    """Serve `project`'s pulls, releases, refs and commits from `server` (its other routes are unchanged), with the
    project's web pages under the server's own base."""
    server.project = project  # type: ignore[attr-defined]
    project.web_base = server.api_url
    for method, template, fn in (*github_pulls.ROUTES, *github_releases.ROUTES, *github_project.ROUTES):
        server.add_route(method, template, fn)
    return project


def main(argv: list[str] | None = None) -> int:
    """Serve a generated Models CI on 127.0.0.1 until interrupted (a "Models CI simulator" for demos).

    python -m release.sim.github_server --catalogue workflows/model_specs.toml --runs 40 --port 8765
    """
    import argparse
    from pathlib import Path

    from release.sim.history import SimModel, default_models, generate_history

    ap = argparse.ArgumentParser(description="Serve a generated Models CI history through a fake GitHub API.")
    ap.add_argument(
        "--catalogue", type=Path, help="model_specs.toml whose model_ids the CI runs (default: a small list)"
    )
    ap.add_argument("--version", default=None, help="VERSION for the catalogue (default: the VERSION file next to it)")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    ap.add_argument("--token", default="ghp_demo_token")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    args = ap.parse_args(argv)
    models = default_models()
    if args.catalogue:
        from workflows.model_spec import load_catalogue

        version = args.version or (args.catalogue.resolve().parents[1] / "VERSION").read_text().strip()
        models = [SimModel.from_spec(s) for s in load_catalogue(args.catalogue, version=version).specs.values()]
    history = generate_history(models, runs=args.runs, seed=args.seed)
    server = GitHubServer(history, token=args.token, latency=args.latency, port=args.port).start()
    print(f"export GITHUB_API_URL={server.api_url} GH_PAT={args.token}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
