"""The demo's options and its command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from release.errors import ConfigError
from release.version import Increment, parse_increment


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
