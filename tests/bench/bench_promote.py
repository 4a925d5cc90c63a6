"""`inv images.promote` versus `skopeo copy --all` once per image (what the original did with `crane copy`).

Setup: one distribution registry on 127.0.0.1 behind a TCP proxy adding 15 ms each way (30 ms round trip);
15 CI images of 4 layers × 8 MB (one base layer shared by all, as real images share their OS layers).
Measured: wall time of the whole promotion, bytes sent to the registry through the proxy (against the bytes
of the images), and write requests (POST/PUT/PATCH/DELETE in the registry's access log) of a second run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.bench.__main__ import Row
from tests.conftest import REPO_ROOT
from tests.services.latency_proxy import LatencyProxy
from tests.services.registry import Registry, Seeder, start_registry, stop_registry

IMAGES = 15
LAYERS = 4
LAYER_BYTES = 8 * 1024 * 1024
ONE_WAY_DELAY = 0.015
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


def commits(i: int) -> tuple[str, str]:
    return f"{0xA000000 + i:07x}", f"{0xB000000 + i:07x}"


def catalogue_text() -> str:
    parts = [
        '[[impls]]\nimpl_id = "tt_transformers"\nimpl_name = "tt-transformers"\n'
        'repo_url = "https://github.com/tenstorrent/tt-metal"\ncode_path = "models/tt_transformers"\n'
    ]
    for i in range(IMAGES):
        tm, vllm = commits(i)
        parts.append(
            f'[[templates]]\nweights = ["org/Model{i}-8B"]\nimpl = "tt_transformers"\ntt_metal_commit = "{tm}"\n'
            f'vllm_commit = "{vllm}"\ninference_engine = "vLLM"\nmodel_type = "LLM"\n\n'
            '[[templates.devices]]\ndevice = "N150"\nmax_concurrency = 32\nmax_context = 8192\n'
        )
    return "\n".join(parts)


def seed(reg: Registry) -> dict[str, dict]:
    seeder = Seeder(reg.client(blob_workers=4))
    base = os.urandom(LAYER_BYTES)
    last_good: dict[str, dict] = {}
    for i in range(IMAGES):
        tm, vllm = commits(i)
        ref = reg.ref(f"{CI_REPO}:0.0.5-{tm}{'0' * 33}-{vllm}-{5000 + i}")
        seeder.image(ref, [base] + [os.urandom(LAYER_BYTES) for _ in range(LAYERS - 1)], label=str(i))
        last_good[f"id_tt-transformers_Model{i}-8B_n150"] = {
            "docker_image": f"ghcr.io/{ref.repository}:{ref.tag}",
            "ci_run_number": 300 + i,
            "ci_run_url": f"https://github.com/tenstorrent/tt-shield/actions/runs/{9000 + i}",
        }
    seeder.client.close()
    return last_good


def promote(checkout: Path, env: dict[str, str], last_good: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "images.promote", str(last_good), "--dev"],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"images.promote failed:\n{proc.stdout}\n{proc.stderr}")
    return time.monotonic() - start, proc


def skopeo_all(reg: Registry, proxy_host: str, tags: list[str]) -> float:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise RuntimeError("skopeo is missing: apt-get install -y skopeo")
    creds = f"{reg.username}:{reg.password}"
    start = time.monotonic()
    for tag in tags:
        src_tag, dst_tag = tag.split(" ")
        subprocess.run(
            [skopeo, "copy", "--all", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
             "--src-creds", creds, "--dest-creds", creds,
             f"docker://{proxy_host}/{CI_REPO}:{src_tag}", f"docker://{proxy_host}/{BASELINE_REPO}:{dst_tag}"],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    return time.monotonic() - start


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-promote-") as tmp:
        root = Path(tmp)
        reg = start_registry(root, "bench")
        host, port = reg.host.split(":")
        proxy = CountingProxy((host, int(port)), ONE_WAY_DELAY)
        try:
            print(f"seeding {IMAGES} images of {LAYERS} × {LAYER_BYTES >> 20} MB ...", file=sys.stderr, flush=True)
            last_good = seed(reg)
            image_bytes = IMAGES * LAYERS * LAYER_BYTES
            checkout = root / "checkout"
            (checkout / "release_logs").mkdir(parents=True)
            (checkout / "VERSION").write_text("0.6.0\n")
            (checkout / "model_specs.toml").write_text(catalogue_text())
            (checkout / "release.toml").write_text('[paths]\ncatalogue = "model_specs.toml"\n')
            lg_path = checkout / "release_logs" / "models_ci_last_good_300_to_314.json"
            lg_path.write_text(json.dumps(last_good))
            env = {
                "PATH": os.environ["PATH"], "HOME": str(root), "RELEASE_REPO_ROOT": str(checkout),
                "RELEASE_REGISTRY_REWRITE": f"ghcr.io={proxy.host}", **reg.env,
            }  # fmt: skip

            writes0, sent0 = len(reg.writes_logged()), proxy.sent
            ours_s, _ = promote(checkout, env, lg_path)
            ours_sent = proxy.sent - sent0
            writes1 = len(reg.writes_logged())
            ours_writes = writes1 - writes0
            rerun_s, _ = promote(checkout, env, lg_path)
            ours_rerun_writes = len(reg.writes_logged()) - writes1

            pairs = []
            for i in range(IMAGES):
                tm, vllm = commits(i)
                pairs.append(f"0.0.5-{tm}{'0' * 33}-{vllm}-{5000 + i} 0.6.0-{tm}-{vllm}")
            writes2, sent2 = len(reg.writes_logged()), proxy.sent
            base_s = skopeo_all(reg, proxy.host, pairs)
            base_sent = proxy.sent - sent2
            writes3 = len(reg.writes_logged())
            base_writes = writes3 - writes2
            skopeo_all(reg, proxy.host, pairs)
            base_rerun_writes = len(reg.writes_logged()) - writes3
        finally:
            proxy.close()
            stop_registry(reg)
    name = f"promote {IMAGES}×{LAYERS}×{LAYER_BYTES >> 20}MB, 30ms RTT"
    return [
        Row(name, "wall time (s): skopeo copy --all per image vs inv images.promote", base_s, ours_s, "≤ 0.2"),
        Row(name, "bytes sent to the registry (MB)", base_sent / 1e6, ours_sent / 1e6),
        Row(name, "bytes sent / image bytes (MB)", image_bytes / 1e6, ours_sent / 1e6, "≤ 0.01"),
        Row(name, "write requests, first run", base_writes, ours_writes),
        Row(name, "write requests, second run (same arguments)", base_rerun_writes, ours_rerun_writes, "ours = 0"),
        Row(name, "wall time of the second run (s)", base_s, rerun_s),
    ]
