"""`main`: options → a fresh workspace → every service started → the flow → the report; services stopped on the way
out, also on failure, Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from release.demo.console import banner, say
from release.demo.flow import INTERRUPTS, run_flow
from release.demo.options import DemoOptions, parse_args
from release.demo.report import outputs_report
from release.demo.services import started_services
from release.demo.workspace import fresh_workspace, git, git_env
from release.errors import ReleaseError, ServiceError
from release.sim import packages
from release.sim import registry as sim_registry


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
    if git("status", "--porcelain", "--untracked-files=no", cwd=opts.repo_root, env=git_env()):
        say("note: this checkout has uncommitted changes; the demo rehearses its last commit (HEAD)")
    with started_services(opts, workspace) as services:
        version = run_flow(services, opts)
        banner(f"release v{version} rehearsed in {time.monotonic() - t0:.0f} s; where everything is")
        say(outputs_report(services, version))
        say("\nstopping the services ...")
    say("done")
    return 0


def main(argv: Sequence[str] | None = None, *, repo_root: Path | None = None) -> int:
    root = repo_root or Path(__file__).resolve().parents[2]
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
