"""The system programs rehearsals and tests need, installed with apt-get when missing (as root only).

`python -m release.sim.packages tests` (what `nox -s tests` runs first) and the demo use the same list and the
same installer: each missing program's Debian package is installed with `apt-get install -y` (after
`apt-get update` when the package lists do not know it yet), and every apt-get command is shown. Not root, or no
apt-get: one line naming what to install, exit code 2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.errors import ServiceError


@dataclass(frozen=True)
class Program:
    """A program found by absolute path or on PATH, and the Debian package that provides it."""

    binary: str
    package: str
    why: str

    def found(self) -> str | None:
        if os.path.isabs(self.binary):
            return self.binary if Path(self.binary).exists() else None
        return shutil.which(self.binary) or next(
            (str(p) for d in ("/usr/sbin", "/usr/bin", "/sbin") if (p := Path(d) / self.binary).exists()), None
        )


REGISTRY = Program("/usr/bin/docker-registry", "docker-registry", "the OCI registry images are pushed to")
DOCKERD = Program("dockerd", "docker.io", "the Docker engine images are built on")
SKOPEO = Program("skopeo", "skopeo", "a second registry client the tests compare digests with")
GIT = Program("git", "git", "git")
OPENSSL = Program("openssl", "openssl", "keys for the registry's token server")
CHROMIUM = Program("chromium", "chromium", "the headless browser the CI health page is tested in")

NEEDS: dict[str, tuple[Program, ...]] = {
    "tests": (REGISTRY, DOCKERD, SKOPEO, GIT, OPENSSL, CHROMIUM),
    "demo": (REGISTRY, GIT, OPENSSL),
    "demo-build": (REGISTRY, DOCKERD, GIT, OPENSSL),
}


def missing(programs: Sequence[Program]) -> list[Program]:
    return [p for p in programs if p.found() is None]


def can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure(programs: Sequence[Program], *, install: bool, on_event: Callable[[str], None] | None = None) -> None:
    """Make every program present: install the missing ones when allowed, else raise one line naming them."""
    absent = missing(programs)
    if not absent:
        return
    packages = list(dict.fromkeys(p.package for p in absent))
    if not (install and can_install()):
        names = ", ".join(f"{p.binary.rsplit('/', 1)[-1]} ({p.why})" for p in absent)
        raise ServiceError(f"missing {names}: install with `sudo apt-get install -y {' '.join(packages)}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> subprocess.CompletedProcess[str]:
        if on_event is not None:
            on_event(f"$ apt-get {' '.join(args)}")
        return subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env, check=False)

    proc = apt("install", "-y", "-q", *packages)
    if proc.returncode != 0:  # package lists not downloaded yet, or stale
        apt("update", "-q")
        proc = apt("install", "-y", "-q", *packages)
    still = missing(absent)
    if proc.returncode != 0 or still:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ServiceError(
            f"apt-get install -y {' '.join(packages)} failed ({tail[0]}); install it by hand, then run again"
        )


def main(argv: Sequence[str]) -> int:
    purpose = argv[0] if argv else "tests"
    if purpose not in NEEDS:
        print(f"error: usage: python -m release.sim.packages [{'|'.join(NEEDS)}]", file=sys.stderr)
        return 2
    try:
        ensure(NEEDS[purpose], install=True, on_event=lambda line: print(line, flush=True))
    except ServiceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
