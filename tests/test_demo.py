"""`python -m release.demo`: the whole flow on local services, end to end, and its workspace and seeding rules."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from release.demo.run import main as demo_main
from release.demo.seeding import commits_to_build, images_to_seed
from release.demo.workspace import MARKER, fresh_workspace
from release.errors import ConfigError, ServiceError
from release.sim import dockerd as sim_dockerd
from release.sim import registry as sim_registry
from release.sim.history import SimModel, default_models, generate_history
from release.sim.tt_metal_origin import make_origin
from tests.record_checks import assert_outputs_agree_with_the_record

ROOT = Path(__file__).resolve().parents[1]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and str(os.getpid()) != proc.name:
            found.append(cmdline)
    return found


def _demo(ws: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "release.demo", "--workspace", str(ws), "--runs", "6", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "100"},  # a normal terminal
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    # the workspace as a user's checkout would have it, not pytest's long temporary path
    lines = _messages(out.replace(str(ws), "/home/user/tt-inference-server/.demo").splitlines())
    too_long = [line for line in lines if len(line) > 100]
    assert not too_long, "lines wider than the terminal:\n" + "\n".join(too_long[:10])
    return out


def _messages(lines: list[str]) -> list[str]:
    """The lines that are messages: tables of data (a header, a `----  ---` rule, rows up to a blank line), whose
    width follows their longest model or image name, are left out."""
    out: list[str] = []
    in_table = False
    for line in lines:
        if re.fullmatch(r"-{3,}( +-{3,})+", line.strip()):
            in_table = True
            if out:
                out.pop()  # the table's header
            continue
        in_table = in_table and bool(line.strip())
        if not in_table:
            out.append(line)
    return out


def _assert_stopped(ws: Path, out: str) -> None:
    assert not _processes_mentioning(str(ws))
    socket = re.search(r"dockerd on unix://(\S+)/docker\.sock", out)
    if socket:
        assert not Path(socket[1]).exists()
        assert not _processes_mentioning(socket[1])


@pytest.mark.slow
def test_demo_rehearses_prerelease_merge_and_release(tmp_path: Path) -> None:
    can_build = os.geteuid() == 0
    if can_build and sim_dockerd.unavailable_reason():  # as root the demo builds; say why it cannot, not a symptom
        pytest.fail(f"the demo cannot build images here: {sim_dockerd.unavailable_reason()}")
    ws = tmp_path / "demo"
    ws.mkdir()
    (ws / MARKER).write_text("")
    (ws / "left-over").write_text("from an earlier run")  # re-running starts clean
    out = _demo(ws)
    assert not (ws / "left-over").exists()

    # the flow: pre-release PR merged into dev with a merge commit, rc branch, rc PR open, notes drafted
    origin = ws / "origin" / "tt-inference-server.git"
    heads = _git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    assert {"dev", "main", "pre-release-v0.6.0", "rc-v0.6.0"} <= set(heads)
    pre = _git(origin, "rev-parse", "pre-release-v0.6.0").strip()
    merge_parents = _git(origin, "log", "-1", "--format=%P", "dev").split()
    assert len(merge_parents) == 2 and merge_parents[1] == pre
    assert _git(origin, "show", "rc-v0.6.0:VERSION").strip() == "0.6.0"

    clone = ws / "tt-inference-server"
    logs = clone / "release_logs"
    for name in ("dev_artifacts_summary.json", "release_artifacts_summary.json", "release_notes_v0.6.0.md"):
        assert (logs / name).is_file(), name
    dev_summary = json.loads((logs / "dev_artifacts_summary.json").read_text())
    build_logs = clone / "workflow_logs" / "docker_build_logs"
    if can_build:
        skipped = re.search(r"^nothing is left to build: .*$|^.*builds skipped.*$", out, re.MULTILINE)
        assert skipped is None, f"the demo built nothing: {skipped[0] if skipped else ''}"
        summaries = sorted(build_logs.glob("build_summary_*.json"))
        assert summaries, "the demo wrote no build summary in workflow_logs/docker_build_logs/"
        built = json.loads(summaries[0].read_text())
        assert built["failure_count"] == 0 and built["success_count"] >= 1
        # what was left to build was built, and the summary says so
        assert dev_summary["built_images"] and dev_summary["images_to_build"] == []
        record = assert_outputs_agree_with_the_record(logs, "0.6.0")
        assert "built" in {i["how"] for i in record["images"]}
    else:
        assert "needs root" in out
    assert dev_summary["copied_images"], "the demo promotes the other images"
    assert "/github.com/tenstorrent/tt-inference-server/pull/" not in out  # rehearsal links point at the simulator

    # the report names every output; secrets stay hidden
    for text in ("release_logs/dev_artifacts_summary.md", "release_notes_v0.6.0.md", "/pull/1", "/pull/2"):
        assert text in out, text
    assert "REGISTRY_PASSWORD=<redacted>" in out and "GH_PAT=<redacted>" in out
    assert "ghp_demo_" not in out
    _assert_stopped(ws, out)

    # again, without a Docker engine and with the step tasks: a clean workspace, everything provided without a build
    out = _demo(ws, "--no-build", "--steps")
    assert "inv images.promote" in out and "inv git.pr --rc --version 0.6.0" in out
    assert "nothing is left to build: --no-build was given" in out
    assert not list(build_logs.glob("*"))
    assert json.loads((logs / "dev_artifacts_summary.json").read_text())["images_to_build"] == []
    assert (logs / "release_notes_v0.6.0.md").is_file()
    assert len(_git(origin, "log", "-1", "--format=%P", "dev").split()) == 2
    _assert_stopped(ws, out)


def test_workspace_is_made_again_only_when_the_demo_made_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    ws = fresh_workspace(tmp_path / "ws", repo)
    (ws / "x").write_text("old")
    assert fresh_workspace(ws, repo) == ws and not (ws / "x").exists() and (ws / MARKER).exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep").write_text("mine")
    with pytest.raises(ConfigError, match="was not made by the demo"):
        fresh_workspace(foreign, repo)
    assert (foreign / "keep").exists()
    with pytest.raises(ConfigError, match="would contain the checkout"):
        fresh_workspace(tmp_path, repo)


def test_seeding_leaves_out_the_commits_of_the_fewest_templates(tmp_path: Path) -> None:
    origin = make_origin(tmp_path, commits_count=3)
    models = [m for m in default_models() if m.engine == "vLLM"][:3]
    media = SimModel("id_media", "tt-transformers", "sdxl", "N150", "media", image="ghcr.io/t/media:0.4.0-abc1234")
    history = generate_history(
        [*models, media], runs=6, seed=4, tt_metal_commits=origin.commits[-2:], image_per_impl=True
    )
    newest = origin.commits[-1]
    pairs = Counter({(newest[:7], "aaaaaaa"): 5, (origin.commits[0][:7], "bbbbbbb"): 1, ("0000000", "ccccccc"): 1})
    assert commits_to_build(pairs, origin.commits) == (origin.commits[0][:7], "bbbbbbb")  # 0000000: not buildable
    assert commits_to_build(Counter(), origin.commits) is None
    vllm = next(i for i in history.runs[2].images if newest in i).rsplit("-", 2)[-2]
    seeded, left = images_to_seed(history, ["ghcr.io/t/explicit:1.0.0"], leave_out=(newest[:7], vllm))
    assert left and all(newest in image and f"-{vllm}-" in image for image in left)
    assert not set(left) & set(seeded)
    assert "ghcr.io/t/media:0.4.0-abc1234" in seeded and "ghcr.io/t/explicit:1.0.0" in seeded
    everything, none = images_to_seed(history, [], leave_out=None)
    assert not none and set(history.ci_images()) <= set(everything)


def test_a_missing_registry_is_one_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sim_registry, "REGISTRY_BINARY", str(tmp_path / "no-docker-registry"))
    code = demo_main(["--workspace", str(tmp_path / "ws"), "--no-install"], repo_root=ROOT)
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "apt-get install -y docker-registry" in err
    assert not (tmp_path / "ws").exists()


@pytest.mark.slow
def test_sigterm_stops_every_service(tmp_path: Path) -> None:
    ws = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "release.demo", "--workspace", str(ws), "--runs", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("rehearsing release"):
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=120)[0]
    out = "".join(seen) + rest
    assert proc.returncode == 130, out[-3000:]
    assert "interrupted; the services were stopped" in out
    _assert_stopped(ws, out)


def test_the_registry_is_installed_with_apt_get_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root with apt-get: install, and when the package lists do not know it yet, update first."""
    binary = tmp_path / "docker-registry"
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "apt-get"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        f'if [ "$1" = update ]; then touch {tmp_path}/updated; exit 0; fi\n'
        f"if [ -e {tmp_path}/updated ]; then touch {binary}; exit 0; fi\n"
        'echo "E: Unable to locate package docker-registry" >&2; exit 100\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(sim_registry, "REGISTRY_BINARY", str(binary))
    if os.geteuid() != 0:  # the tests run as root (.ci/run); elsewhere the demo only explains
        with pytest.raises(ServiceError, match="sudo apt-get install -y docker-registry"):
            sim_registry.ensure_registry_binary(install=True)
        return
    seen: list[str] = []
    assert sim_registry.ensure_registry_binary(install=True, on_event=seen.append) == str(binary)
    assert calls.read_text().splitlines() == [
        "install -y -q docker-registry",
        "update -q",
        "install -y -q docker-registry",
    ]
    assert seen[0] == "$ apt-get install -y -q docker-registry"
    binary.unlink()
    (tmp_path / "updated").unlink()
    fake.write_text('#!/bin/sh\necho "E: no network" >&2; exit 100\n')
    with pytest.raises(ServiceError, match=r"apt-get install -y docker-registry failed \(E: no network\)"):
        sim_registry.ensure_registry_binary(install=True)
