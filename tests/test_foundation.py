"""Config, versions, atomic writes, and the rule that pure modules import no I/O."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from release import fsio
from release.config import Config, Secret, parse_registry_rewrite
from release.errors import ConfigError, InputError
from release.version import Version

ROOT = Path(__file__).resolve().parent.parent
PURE_MODULES = [
    "workflows.model_spec",
    "release.version",
    "release.spec_outputs",
    "release.config",
    "release.notes",
    "release.gitflow",  # the whole package: its clients come in as arguments
    "release.gitflow.names",
    "release.gitflow.plan",
    "release.gitflow.facts",
    "release.gitflow.branching",
    "release.gitflow.publishing",
    "release.redact",
    "release.oci",
    "release.imagetags",
    "release.ci_hardware",
    "release.branch_point",
    "release.spec_plan",
    "release.events",
    "release.undo.evidence",
    "release.undo.plan",
    "release.undo.ledger",
]
IO_MODULES = {"requests", "docker", "urllib3", "release.github", "release.registry", "release.docker_engine",
              "release.git"}  # fmt: skip


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_import_no_io(module):
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not (loaded & IO_MODULES), f"{module} pulls in {sorted(loaded & IO_MODULES)}"


# What `inv --list` and `inv TASK --help` must not load: tasks.py imports them inside the tasks that use them.
HEAVY_FOR_STARTUP = {
    "docker", "jinja2", "requests", "urllib3", "tabulate", "release.gitflow", "release.wiring", "release.registry",
    "release.docker_engine", "release.build", "release.pipeline", "release.ci_read",
    "release.images", "release.spec_update",
    "release.catalogue", "release.github", "release.git", "workflows.model_spec",
}  # fmt: skip


def test_importing_tasks_loads_no_heavy_module():
    """A property, not a timing: after `import tasks` in a fresh interpreter none of the heavy modules is loaded
    (measured with `python -X importtime -c "import tasks"`: about 80 ms, most of it invoke)."""
    code = "import sys, json, tasks; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = {m for m in json.loads(out.stdout) if m in HEAVY_FOR_STARTUP or m.split(".")[0] in HEAVY_FOR_STARTUP}
    assert not loaded, f"importing tasks.py loads {sorted(loaded)}: import them inside the task that needs them"


def test_config_layers_defaults_toml_env(tmp_path):
    toml = tmp_path / "release.toml"
    toml.write_text('[ci]\nrepo = "tt-shield-fork"\n[registry.rewrite]\n"ghcr.io" = "127.0.0.1:1"\n')
    env = {"GITHUB_API_URL": "http://127.0.0.1:9/", "GITHUB_TOKEN": "tok-abc", "RELEASE_REGISTRY_REWRITE":
           "ghcr.io=127.0.0.1:5000"}  # fmt: skip
    cfg = Config.from_env(env, path=toml)
    assert cfg.ci_repo == "tt-shield-fork"
    assert cfg.github_api_url == "http://127.0.0.1:9"
    assert cfg.ci_token is not None and cfg.ci_token.secret == Secret("tok-abc")
    assert cfg.ci_token.variable == "GITHUB_TOKEN"  # the only token serves both roles
    assert cfg.registry_rewrite == (("ghcr.io", "127.0.0.1:5000"),)  # the environment wins over the file
    assert cfg.catalogue_path == tmp_path.resolve() / "workflows" / "model_specs.toml"
    assert (
        "tok-abc" not in repr(cfg) and "tok-abc" not in repr(cfg.ci_token) and "tok-abc" not in str(cfg.project_token)
    )
    assert cfg.with_overrides(ci_repo=None, ci_owner="me").ci_owner == "me"


def test_each_token_role_has_its_variable_first():
    cfg = Config.from_env({"GH_PAT": "a", "GITHUB_TOKEN": "b"}, repo_root=ROOT)
    assert cfg.ci_token is not None and (cfg.ci_token.variable, cfg.ci_token.reveal()) == ("GH_PAT", "a")
    assert cfg.project_token is not None and (cfg.project_token.variable, cfg.project_token.reveal()) == (
        "GITHUB_TOKEN",
        "b",
    )
    only_pat = Config.from_env({"GH_PAT": "a"}, repo_root=ROOT)
    assert only_pat.project_token is not None and only_pat.project_token.variable == "GH_PAT"
    with pytest.raises(ConfigError, match=r"read Models CI: set GH_PAT \(or GITHUB_TOKEN\)"):
        Config.from_env({}, repo_root=ROOT).require_ci_token("Actions read on tt-shield")
    with pytest.raises(ConfigError, match=r"write tenstorrent/tt-inference-server: set GITHUB_TOKEN \(or GH_PAT\)"):
        Config.from_env({}, repo_root=ROOT).require_project_token("Contents: write")


@pytest.mark.parametrize("text", ["ghcr.io", "=x", "ghcr.io="])
def test_bad_registry_rewrite(text):
    with pytest.raises(ConfigError, match="RELEASE_REGISTRY_REWRITE"):
        parse_registry_rewrite(text)


def test_bad_release_toml(tmp_path):
    toml = tmp_path / "release.toml"
    toml.write_text("[ci]\nrepos = 1\n")
    with pytest.raises(ConfigError, match="unknown key 'repos' in \\[ci\\]"):
        Config.from_env({}, path=toml)


@pytest.mark.parametrize(
    ("old", "increment", "new"),
    [
        ("0.5.0", "major", "1.0.0"),
        ("0.5.3", "minor", "0.6.0"),
        ("0.5.3", "patch", "0.5.4"),
        ("9.9.9", "minor", "9.10.0"),
    ],
)
def test_version_bump(old, increment, new):
    assert str(Version.parse(old).bump(increment)) == new


@pytest.mark.parametrize("text", ["0.5", "v0.5.0", "0.5.0-rc1", "", "01.2.3"])
def test_bad_version(text):
    with pytest.raises(InputError, match="not a MAJOR.MINOR.PATCH"):
        Version.parse(text)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "out.json"
    fsio.write_json(target, {"a": 1})
    fsio.atomic_write(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]
    assert fsio.write_if_changed(target, "new") is False


def test_atomic_write_fsyncs_the_folder_after_the_rename(tmp_path, monkeypatch):
    """Without the folder's fsync a power loss can undo the rename (an old VERSION back after the tags exist)."""
    import os
    import stat

    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        calls.append(("fsync", "folder" if stat.S_ISDIR(mode) else "file"))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append(("rename", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    fsio.atomic_write(tmp_path / "VERSION", "0.6.0\n")
    assert calls == [("fsync", "file"), ("rename", "VERSION"), ("fsync", "folder")]


def test_writing_where_a_folder_or_a_file_is_in_the_way_is_one_error(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match="dir: is a folder"):
        fsio.atomic_write(tmp_path / "dir", "x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"file is a file, not a folder"):
        fsio.atomic_write(tmp_path / "file" / "sub" / "out.json", "x")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "is a folder, not a file"),
        (lambda p: p.write_bytes(b"\xff\xfe{}"), "is not UTF-8 text"),
        (lambda p: None, "file not found"),
    ],
    ids=["folder", "not-utf8", "missing"],
)
def test_reading_a_user_file_is_one_error(tmp_path, make, message):
    path = tmp_path / "given.json"
    make(path)
    for read in (fsio.read_json, fsio.read_text):
        with pytest.raises(InputError, match=message):
            read(path)
    assert fsio.read_text_if_exists(tmp_path / "nothing.md") is None


def test_read_json_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(InputError, match="bad.json: not valid JSON"):
        fsio.read_json(bad)
    with pytest.raises(InputError, match="missing.json: file not found"):
        fsio.read_json(tmp_path / "missing.json")
