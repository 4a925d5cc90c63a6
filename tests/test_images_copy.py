"""`inv images.copy SRC DST` and `--from-summary` against a real registry."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from release.errors import InputError
from release.imageref import ImageRef
from release.images import copy as images_copy
from tests.cli import run_inv
from tests.conftest import REPO_ROOT
from tests.services.registry import Registry, Seeder, random_layer, skopeo_digest


def run(reg: Registry, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    checkout = tmp_path / "checkout"
    checkout.mkdir(exist_ok=True)
    # The registry is the allowed source (and so gets REGISTRY_USERNAME/PASSWORD); DST is on the same host.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "RELEASE_REPO_ROOT": str(checkout), **reg.env,
           "RELEASE_SOURCE_REGISTRIES": f"{reg.host}/"}  # fmt: skip
    return run_inv("--search-root", str(REPO_ROOT), "images.copy", *args, cwd=checkout, env=env, timeout=120)


def writes_to(reg: Registry, repo: str) -> int:
    return sum(1 for w in reg.writes_logged() if f"/v2/{repo}/" in w)


def test_copy_by_tag_with_https_prefix(registry: Registry, seeder: Seeder, unique_repo: str, tmp_path: Path) -> None:
    src = registry.ref(f"{unique_repo}/ci:0.0.5-abc")
    digest = seeder.image(src, [random_layer(2048), random_layer(1024)])
    proc = run(registry, tmp_path, f"https://{src}", f"https://{registry.host}/{unique_repo}/dev:0.6.0")
    assert proc.returncode == 0, proc.stderr
    assert digest in proc.stdout
    assert "3 blobs mounted, 0 uploaded" in proc.stdout
    assert skopeo_digest(registry.ref(f"{unique_repo}/dev:0.6.0"), registry) == digest


def test_copy_by_digest_and_index(registry: Registry, seeder: Seeder, unique_repo: str, tmp_path: Path) -> None:
    src = registry.ref(f"{unique_repo}/multi:1")
    digest = seeder.index(src, {"amd64": [random_layer(1024)], "arm64": [random_layer(1024)]})
    proc = run(
        registry,
        tmp_path,
        f"{registry.host}/{unique_repo}/multi@{digest}",
        f"{registry.host}/{unique_repo}/out:1",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and data["pairs"][0]["result"] == "copied" and data["pairs"][0]["digest"] == digest
    assert skopeo_digest(registry.ref(f"{unique_repo}/out:1"), registry) == digest


def test_conflict_refused_with_both_digests(
    registry: Registry, seeder: Seeder, unique_repo: str, tmp_path: Path
) -> None:
    src = registry.ref(f"{unique_repo}/ci:1")
    dst = registry.ref(f"{unique_repo}/dev:1")
    mine = seeder.image(src, [random_layer(512)])
    theirs = seeder.image(dst, [random_layer(512)])
    proc = run(registry, tmp_path, str(src), str(dst))
    assert proc.returncode == 3
    assert mine in proc.stderr and theirs in proc.stderr
    assert registry.client().digest(dst) == theirs


def test_same_digest_is_a_no_op_unless_forced(
    registry: Registry, seeder: Seeder, unique_repo: str, tmp_path: Path
) -> None:
    src = registry.ref(f"{unique_repo}/ci:1")
    digest = seeder.image(src, [random_layer(512)])
    dst = f"{registry.host}/{unique_repo}/dev:1"
    assert run(registry, tmp_path, str(src), dst).returncode == 0
    before = writes_to(registry, f"{unique_repo}/dev")
    proc = run(registry, tmp_path, str(src), dst)
    assert proc.returncode == 0 and "already holds" in proc.stdout and digest in proc.stdout
    assert writes_to(registry, f"{unique_repo}/dev") == before
    proc = run(registry, tmp_path, str(src), dst, "--force-same-digest-only")
    assert proc.returncode == 0, proc.stderr
    assert writes_to(registry, f"{unique_repo}/dev") > before  # the manifest was put again (same digest)
    assert registry.client().digest(ImageRef.parse(dst)) == digest


def test_dry_run_writes_nothing(registry: Registry, seeder: Seeder, unique_repo: str, tmp_path: Path) -> None:
    src = registry.ref(f"{unique_repo}/ci:1")
    seeder.image(src, [random_layer(4096), random_layer(4096)])
    proc = run(registry, tmp_path, str(src), f"{registry.host}/{unique_repo}/dev:1", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "estimated:" in proc.stdout and "3 blob mounts" in proc.stdout
    assert writes_to(registry, f"{unique_repo}/dev") == 0
    assert registry.tags(f"{unique_repo}/dev") == []


@pytest.mark.parametrize(
    ("src", "dst", "message"),
    [
        ("ghcr.io/Bad/x:1", "ghcr.io/a/b:1", "'Bad'"),
        ("ghcr.io/a/b:1", "ghcr.io/a/b@sha256:123", "digest 'sha256:123'"),
        ("ghcr.io/a/b:-x", "ghcr.io/a/b:1", "tag '-x'"),
    ],
)
def test_bad_refs_name_the_bad_part(registry: Registry, tmp_path: Path, src: str, dst: str, message: str) -> None:
    proc = run(registry, tmp_path, src, dst)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_source(registry: Registry, unique_repo: str, tmp_path: Path) -> None:
    proc = run(registry, tmp_path, f"{registry.host}/{unique_repo}/nothing:1", f"{registry.host}/{unique_repo}/dev:1")
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_from_summary(registry: Registry, seeder: Seeder, unique_repo: str, tmp_path: Path) -> None:
    digests = {}
    pairs = {}
    for name in ("a", "b", "c"):
        src = registry.ref(f"{unique_repo}/ci-{name}:1")
        digests[name] = seeder.image(src, [random_layer(1024, "shared"), random_layer(512)])
        pairs[f"https://{registry.host}/{unique_repo}/dev-{name}:1"] = f"https://{src}"
    summary = tmp_path / "dev_artifacts_summary.json"
    summary.write_text(json.dumps({"images_to_build": [], "copied_images": pairs}))
    proc = run(registry, tmp_path, "--from-summary", str(summary))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "checkout" / "release_logs"
    data = json.loads((out / "copy_artifacts_summary.json").read_text())
    assert data["summary"]["total_copied"] == 3
    md = (out / "copy_artifacts_summary.md").read_text()
    assert md.startswith("# Image Copy Summary") and "**Total:** 3" in md
    for name in ("a", "b", "c"):
        assert registry.client().digest(registry.ref(f"{unique_repo}/dev-{name}:1")) == digests[name]
    again = run(registry, tmp_path, "--from-summary", str(summary), "--json")
    assert again.returncode == 0 and {p["result"] for p in json.loads(again.stdout)["pairs"]} == {"present"}


def test_pairs_from_document_shapes() -> None:
    as_list = images_copy.pairs_from_document(
        [["ghcr.io/a/b:1", "ghcr.io/c/d:1"], {"src": "ghcr.io/e/f:1", "dst": "ghcr.io/g/h:1"}], source="x"
    )
    assert [str(p.dst) for p in as_list] == ["ghcr.io/c/d:1", "ghcr.io/g/h:1"]
    rewritten = images_copy.pairs_from_document(
        {"pairs": [{"src": "ghcr.io/a/b:1", "dst": "ghcr.io/c/d:1"}]},
        source="x",
        registry_map=[("ghcr.io", "127.0.0.1:1")],
    )
    assert rewritten[0].src.registry == "127.0.0.1:1"
    with pytest.raises(InputError, match="pair 1"):
        images_copy.pairs_from_document([{"src": "ghcr.io/A/b:1", "dst": "ghcr.io/c/d:1"}], source="x")
    with pytest.raises(InputError, match="no \\(src, dst\\) pairs"):
        images_copy.pairs_from_document({"copied_images": {}}, source="x")
    with pytest.raises(InputError):
        images_copy.pairs_from_document({"nothing": 1}, source="x")
