"""`inv images.promote` versus `skopeo copy --all` once per image (what the original did with `crane copy`).

The workload of issue 15: one distribution registry with token auth (the token server of release/sim/registry.py)
behind a TCP proxy adding 15 ms each way (30 ms round trip); 8 promotions: 5 images and 3 two-platform indexes
(14 manifests), 52 blobs (11 configs and 41 layers of 6.5 MB, one base layer shared by every image), ~268 MB.

Measured: wall time of the whole promotion (the kit as a process, like skopeo); registry requests from the
registry's access log, without the `/v2/` pings (token requests go to the token server, not counted), against the
budget one per blob + two per manifest + two per destination; blob upload requests and bytes sent to the
registry; and the second run (same arguments): its requests and writes. skopeo is skipped with a note when absent.
Wall times are the median (and the best) of BENCH_PROMOTE_RUNS runs each (default 3; the machine is shared): the
kit's later runs go to new tags (another VERSION), skopeo's to a repository of their own.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.__main__ import Row
from tests.builders import catalogue_toml, last_good_record, template
from tests.conftest import REPO_ROOT
from tests.services.latency_proxy import LatencyProxy
from tests.services.registry import Registry, Seeder, start_token_registry, stop_registry

SINGLE = 5  # promotions of one image
INDEXES = 3  # promotions of a two-platform index
LAYER_BYTES = 6_500_000
ONE_WAY_DELAY = 0.015
RUNS = int(os.environ.get("BENCH_PROMOTE_RUNS", "3"))  # wall times: each side this many times, to fresh tags
CI_REPO = "tenstorrent/tt-shield/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"
DEV_REPO = "tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"
BASELINE_REPO = "baseline/vllm-tt-metal-src-dev-ubuntu-22.04-amd64"


class CountingProxy(LatencyProxy):
    """The latency proxy, counting the bytes clients send upstream."""

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.sent = 0
        self._count_lock = threading.Lock()
        super().__init__(upstream, delay)

    def _read(self, sock, q):  # type: ignore[no-untyped-def]
        upstream = sock.getpeername()[1] != self.upstream[1]  # a client socket: its bytes go upstream
        while True:
            try:
                data = sock.recv(262144)
            except OSError:
                data = b""
            if upstream and data:
                with self._count_lock:
                    self.sent += len(data)
            q.put((time.monotonic(), data))
            if not data:
                return


@dataclass
class Workload:
    last_good: dict[str, dict]
    pairs: list[tuple[str, str]]  # (CI tag, destination tag)
    manifests: int = 0
    blobs: int = 0
    image_bytes: int = 0

    @property
    def destinations(self) -> int:
        return len(self.pairs)

    @property
    def budget(self) -> int:
        return self.blobs + 2 * self.manifests + 2 * self.destinations


def commits(i: int) -> tuple[str, str]:
    return f"{0xA000000 + i:07x}", f"{0xB000000 + i:07x}"


def catalogue_text(count: int) -> str:
    return catalogue_toml(
        *(
            template(f"org/Model{i}-8B", tt_metal=commits(i)[0], vllm=commits(i)[1], model_type="LLM")
            for i in range(count)
        )
    )


def seed(reg: Registry) -> Workload:
    """8 CI images: 5 images of 4 layers, 3 indexes whose amd64 child has 4 layers and arm64 child 3."""
    seeder = Seeder(reg.client(blob_workers=4))
    base = os.urandom(LAYER_BYTES)
    work = Workload({}, [])

    def layers(n: int) -> list[bytes]:
        work.blobs += n + 1  # and the config
        work.manifests += 1
        work.image_bytes += n * LAYER_BYTES
        return [base] + [os.urandom(LAYER_BYTES) for _ in range(n - 1)]

    for i in range(SINGLE + INDEXES):
        tm, vllm = commits(i)
        tag = f"0.0.5-{tm}{'0' * 33}-{vllm}-{5000 + i}"
        ref = reg.ref(f"{CI_REPO}:{tag}")
        if i < SINGLE:
            seeder.image(ref, layers(4), label=str(i))
        else:
            seeder.index(ref, {"amd64": layers(4), "arm64": layers(3)}, label=str(i))
            work.manifests += 1
        work.pairs.append((tag, f"0.6.0-{tm}-{vllm}"))
        work.last_good[f"id_tt-transformers_Model{i}-8B_n150"] = last_good_record(
            f"ghcr.io/{ref.repository}:{tag}", 300 + i, tt_metal=f"{tm}{'0' * 33}", vllm=vllm
        )
    seeder.client.close()
    return work


class AccessLog:
    """Requests the registry logged since the last `take()`, without the `/v2/` pings."""

    def __init__(self, reg: Registry) -> None:
        self._reg = reg
        self._seen = len(reg.requests_logged())

    def take(self) -> list[str]:
        lines = self._reg.requests_logged()
        new, self._seen = lines[self._seen :], len(lines)
        return [r for r in new if not r.startswith("GET /v2/ ")]


def writes(requests: list[str]) -> int:
    return sum(r.split(" ", 1)[0] in ("POST", "PUT", "PATCH", "DELETE") for r in requests)


def blob_uploads(requests: list[str]) -> int:
    """Requests that carry blob bytes: PATCH or PUT of an upload session."""
    return sum(r.split(" ", 1)[0] in ("PATCH", "PUT") and "/blobs/uploads/" in r for r in requests)


def promote(checkout: Path, env: dict[str, str], last_good: Path) -> float:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "images.promote", str(last_good), "--dev"],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"images.promote failed:\n{proc.stdout}\n{proc.stderr}")
    return time.monotonic() - start


def process_start(checkout: Path, env: dict[str, str]) -> float:
    """What starting the kit costs before any request: `inv --list`."""
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "--list"],
        cwd=checkout, env=env, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return time.monotonic() - start


def skopeo_all(skopeo: str, reg: Registry, proxy_host: str, pairs: list[tuple[str, str]], repo: str) -> float:
    creds = f"{reg.username}:{reg.password}"
    start = time.monotonic()
    for src_tag, dst_tag in pairs:
        subprocess.run(
            [skopeo, "copy", "--all", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
             "--src-creds", creds, "--dest-creds", creds,
             f"docker://{proxy_host}/{CI_REPO}:{src_tag}", f"docker://{proxy_host}/{repo}:{dst_tag}"],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    return time.monotonic() - start


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-promote-") as tmp:
        root = Path(tmp)
        reg, tokens = start_token_registry(root)
        host, port = reg.host.split(":")
        proxy = CountingProxy((host, int(port)), ONE_WAY_DELAY)
        try:
            print(f"seeding {SINGLE} images and {INDEXES} indexes ...", file=sys.stderr, flush=True)
            work = seed(reg)
            checkout = root / "checkout"
            (checkout / "release_logs").mkdir(parents=True)
            (checkout / "VERSION").write_text("0.6.0\n")
            (checkout / "model_specs.toml").write_text(catalogue_text(work.destinations))
            (checkout / "release.toml").write_text('[paths]\ncatalogue = "model_specs.toml"\n')
            lg_path = checkout / "release_logs" / "models_ci_last_good_300_to_307.json"
            lg_path.write_text(json.dumps(work.last_good))
            env = {
                "PATH": os.environ["PATH"], "HOME": str(root), "RELEASE_REPO_ROOT": str(checkout),
                "RELEASE_REGISTRY_REWRITE": f"ghcr.io={proxy.host}", **reg.env,
            }  # fmt: skip
            start_s = process_start(checkout, env)

            # Ours: the first run (requests counted), the same command again, then more first runs to new tags.
            log = AccessLog(reg)
            sent0 = proxy.sent
            ours_s = [promote(checkout, env, lg_path)]
            ours_sent = proxy.sent - sent0
            ours = log.take()
            rerun_s = promote(checkout, env, lg_path)
            ours_rerun = log.take()
            for n in range(1, RUNS):
                (checkout / "VERSION").write_text(f"0.{6 + n}.0\n")
                ours_s.append(promote(checkout, env, lg_path))
            log.take()

            skopeo = shutil.which("skopeo")
            base_s: list[float] = []
            base: list[str] = []
            base_rerun: list[str] = []
            base_sent = 0
            if skopeo is None:
                print("note: skopeo is not installed; the baseline column is empty", file=sys.stderr)
            else:
                sent2 = proxy.sent
                base_s.append(skopeo_all(skopeo, reg, proxy.host, work.pairs, BASELINE_REPO))
                base_sent = proxy.sent - sent2
                base = log.take()
                skopeo_all(skopeo, reg, proxy.host, work.pairs, BASELINE_REPO)
                base_rerun = log.take()
                for n in range(1, RUNS):  # each into a repository of its own, as the first
                    base_s.append(skopeo_all(skopeo, reg, proxy.host, work.pairs, f"{BASELINE_REPO}-{n}"))
        finally:
            proxy.close()
            stop_registry(reg)
            tokens.close()
    name = (
        f"promote {work.destinations} ({work.manifests} manifests, {work.blobs} blobs, "
        f"{work.image_bytes / 1e6:.0f} MB), 30 ms RTT, token auth"
    )
    budget = f"registry requests: budget {work.budget} (blobs + 2×manifests + 2×dest.) vs ours"
    rerun_target = f"ours ≤ {2 * work.destinations}"
    base_wall = statistics.median(base_s) if base_s else 0.0
    wall = f"wall time (s, median of {RUNS}): skopeo copy --all per image vs inv images.promote"
    return [
        Row(name, wall, base_wall, statistics.median(ours_s), "≤ 0.125"),
        Row(name, f"wall time (s, best of {RUNS})", min(base_s, default=0.0), min(ours_s), "≤ 0.125"),
        Row(name, "  of which starting the kit (inv --list, s)", base_wall, start_s),
        Row(name, "registry requests (no /v2/ pings): skopeo vs ours", len(base), len(ours)),
        Row(name, budget, work.budget, len(ours), "≤ 1"),
        Row(name, "blob upload requests (PATCH/PUT of an upload)", blob_uploads(base), blob_uploads(ours), "ours = 0"),
        Row(name, "bytes sent to the registry (MB)", base_sent / 1e6, ours_sent / 1e6),
        Row(name, "write requests, first run", writes(base), writes(ours)),
        Row(name, "requests, second run (same arguments)", len(base_rerun), len(ours_rerun), rerun_target),
        Row(name, "write requests, second run", writes(base_rerun), writes(ours_rerun), "ours = 0"),
        Row(name, "wall time of the second run (s)", base_wall, rerun_s),
    ]
