"""One settings object: defaults ← release.toml ← environment ← task flags.

`Config.from_env(environ, path=...)` takes the environment as a mapping (tests pass a dict). Task flags are
applied by the task layer with `cfg.with_overrides(...)`. Secrets are wrapped in `Secret`, whose repr and str
never show the value.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.exceptions import TOMLKitError

from release import fsio
from release.errors import ConfigError

DEFAULT_GITHUB_API_URL = "https://api.github.com"
TOKEN_VARIABLES = ("GH_PAT", "GITHUB_TOKEN")
# Every environment variable the kit reads (noxfile.py's passthrough list repeats them: nox cannot import the kit).
ENV_VARIABLES: tuple[str, ...] = (
    *TOKEN_VARIABLES,
    "GITHUB_API_URL",
    "RELEASE_REGISTRY_REWRITE",
    "REGISTRY_USERNAME",
    "REGISTRY_PASSWORD",
    "DOCKER_CONFIG",
    "DOCKER_HOST",
    "RELEASE_DOCKER_HOSTS",
    "RELEASE_BUILD_RECIPE",
    "RELEASE_TT_METAL_REPO",
    "GITHUB_STEP_SUMMARY",
)
SECRET_VARIABLES: tuple[str, ...] = (*TOKEN_VARIABLES, "REGISTRY_PASSWORD")


class Secret:
    """A credential. Only `.reveal()` gives the value; printing it shows `<redacted>`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    def __str__(self) -> str:
        return "<redacted>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def parse_registry_rewrite(text: str) -> tuple[tuple[str, str], ...]:
    """`"ghcr.io=127.0.0.1:5000,docker.io=127.0.0.1:5001"` → (("ghcr.io", "127.0.0.1:5000"), ...)."""
    pairs: list[tuple[str, str]] = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise ConfigError(f"RELEASE_REGISTRY_REWRITE: {item!r} is not HOST=HOST (e.g. ghcr.io=127.0.0.1:5000)")
        pairs.append((src.strip(), dst.strip()))
    return tuple(pairs)


def api_url(value: object, *, source: str) -> str:
    """A GitHub API root: https://HOST[:PORT][/PATH], or http:// on a loopback host (a local test server)."""
    text = str(value).strip().rstrip("/")
    try:
        url = urlsplit(text)
        host = url.hostname
        _ = url.port  # a port that is not a number raises ValueError
    except ValueError:
        host = None
    if host and "@" in url.netloc:
        raise ConfigError(f"{source}: the URL must not carry credentials (the token comes from GH_PAT/GITHUB_TOKEN)")
    if url.scheme not in ("http", "https") or not host or url.query or url.fragment:
        raise ConfigError(f"{source}: {text!r} is not an API URL like {DEFAULT_GITHUB_API_URL}")
    if url.scheme == "http" and not _is_loopback(host):
        raise ConfigError(f"{source}: plain http is allowed only on this machine (127.0.0.1, ::1, localhost)")
    return text


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class Config:
    repo_root: Path
    # GitHub
    github_api_url: str = DEFAULT_GITHUB_API_URL
    github_token: Secret | None = field(default=None, repr=False)
    github_token_variable: str | None = None
    ci_owner: str = "tenstorrent"
    ci_repo: str = "tt-shield"
    ci_workflow_file: str = "on-nightly.yml"
    project_owner: str = "tenstorrent"
    project_repo: str = "tt-inference-server"
    # registries
    registry_rewrite: tuple[tuple[str, str], ...] = ()
    registry_username: str | None = None
    registry_password: Secret | None = field(default=None, repr=False)
    docker_config: Path | None = None
    # docker engines
    docker_host: str | None = None
    docker_hosts: tuple[str, ...] = ()
    build_recipe: str = "real"
    ubuntu_version: str = "22.04"
    tt_metal_repo: str = "https://github.com/tenstorrent/tt-metal.git"
    # git
    git_remote: str = "origin"
    dev_branch: str = "dev"
    main_branch: str = "main"
    # files
    catalogue_path: Path = Path("workflows/model_specs.toml")
    version_file: Path = Path("VERSION")
    readme_path: Path = Path("README.md")
    output_json_path: Path = Path("model_specs_output.json")
    release_logs: Path = Path("release_logs")
    workflow_logs: Path = Path("workflow_logs")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, path: Path | None = None, repo_root: Path | None = None) -> Config:
        """Build the settings from `release.toml` (if present) and the environment mapping."""
        root = Path(repo_root) if repo_root is not None else (path.parent if path else Path.cwd())
        values: dict[str, Any] = {"repo_root": root.resolve()}
        if path is not None and Path(path).exists():
            values.update(_read_toml(Path(path)))
        values.update(_read_environ(environ))
        for key in (
            "catalogue_path",
            "version_file",
            "readme_path",
            "output_json_path",
            "release_logs",
            "workflow_logs",
        ):
            if key in values:
                values[key] = Path(values[key])
        cfg = cls(**values)
        return cfg.resolved()

    def resolved(self) -> Config:
        """Make file paths absolute against repo_root."""

        def rel(p: Path | str) -> Path:
            p = Path(p)  # task flags arrive as text
            return p if p.is_absolute() else self.repo_root / p

        return dataclasses.replace(
            self,
            catalogue_path=rel(self.catalogue_path),
            version_file=rel(self.version_file),
            readme_path=rel(self.readme_path),
            output_json_path=rel(self.output_json_path),
            release_logs=rel(self.release_logs),
            workflow_logs=rel(self.workflow_logs),
        )

    def with_overrides(self, **changes: Any) -> Config:
        """Apply task flags; `None` means "flag not given"."""
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **given).resolved()

    def require_github_token(self, permission: str) -> Secret:
        if self.github_token is None:
            raise ConfigError(f"no GitHub token: set GH_PAT (or GITHUB_TOKEN) to a token with {permission}")
        return self.github_token


_TOML_KEYS: dict[str, dict[str, str]] = {
    "github": {"api_url": "github_api_url"},
    "ci": {"owner": "ci_owner", "repo": "ci_repo", "workflow_file": "ci_workflow_file"},
    "project": {"owner": "project_owner", "repo": "project_repo"},
    "build": {
        "recipe": "build_recipe",
        "ubuntu_version": "ubuntu_version",
        "docker_hosts": "docker_hosts",
        "tt_metal_repo": "tt_metal_repo",
    },
    "git": {"remote": "git_remote", "dev_branch": "dev_branch", "main_branch": "main_branch"},
    "paths": {
        "catalogue": "catalogue_path",
        "version_file": "version_file",
        "readme": "readme_path",
        "output_json": "output_json_path",
        "release_logs": "release_logs",
        "workflow_logs": "workflow_logs",
    },
}


_TOML_LISTS = frozenset({"docker_hosts"})


def _toml_value(path: Path, where: str, value: object, *, many: bool) -> str | tuple[str, ...]:
    """Every setting in release.toml is a string; the list settings are lists of strings."""
    if many:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f'{path}: {where} must be a list of strings (e.g. ["unix:///var/run/docker.sock"])')
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {where} must be a string (in quotes)")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        doc = tomlkit.parse(fsio.read_text(path, what="settings file")).unwrap()
    except TOMLKitError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    out: dict[str, Any] = {}
    for table, body in doc.items():
        known = [*_TOML_KEYS, "registry"]
        if table not in known:
            raise ConfigError(f"{path}: unknown table [{table}] (known: {', '.join(known)})")
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: {table} must be a table ([{table}] followed by its keys)")
        if table == "registry":
            rewrite = body.get("rewrite", {})
            if not isinstance(rewrite, dict) or not all(isinstance(v, str) for v in rewrite.values()):
                raise ConfigError(f"{path}: [registry] rewrite must be a table of HOST = HOST")
            out["registry_rewrite"] = tuple((str(k), v) for k, v in rewrite.items())
            continue
        keys = _TOML_KEYS[table]
        for key, value in body.items():
            if key not in keys:
                raise ConfigError(f"{path}: unknown key {key!r} in [{table}] (known: {', '.join(keys)})")
            out[keys[key]] = _toml_value(path, f"[{table}] {key}", value, many=keys[key] in _TOML_LISTS)
    if out.get("build_recipe", "real") not in ("real", "offline"):
        raise ConfigError(f"{path}: [build] recipe must be 'real' or 'offline'")
    if "github_api_url" in out:
        out["github_api_url"] = api_url(out["github_api_url"], source=f"{path}: [github] api_url")
    return out


def _read_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if environ.get("GITHUB_API_URL"):
        out["github_api_url"] = api_url(environ["GITHUB_API_URL"], source="GITHUB_API_URL")
    for var in TOKEN_VARIABLES:
        if environ.get(var):
            out["github_token"] = Secret(environ[var])
            out["github_token_variable"] = var
            break
    if environ.get("RELEASE_REGISTRY_REWRITE"):
        out["registry_rewrite"] = parse_registry_rewrite(environ["RELEASE_REGISTRY_REWRITE"])
    if environ.get("REGISTRY_USERNAME"):
        out["registry_username"] = environ["REGISTRY_USERNAME"]
    if environ.get("REGISTRY_PASSWORD"):
        out["registry_password"] = Secret(environ["REGISTRY_PASSWORD"])
    if environ.get("DOCKER_CONFIG"):
        out["docker_config"] = Path(environ["DOCKER_CONFIG"])
    if environ.get("DOCKER_HOST"):
        out["docker_host"] = environ["DOCKER_HOST"]
    if environ.get("RELEASE_DOCKER_HOSTS"):
        out["docker_hosts"] = tuple(h.strip() for h in environ["RELEASE_DOCKER_HOSTS"].split(",") if h.strip())
    if environ.get("RELEASE_TT_METAL_REPO"):
        out["tt_metal_repo"] = environ["RELEASE_TT_METAL_REPO"]
    if environ.get("RELEASE_BUILD_RECIPE"):
        recipe = environ["RELEASE_BUILD_RECIPE"]
        if recipe not in ("real", "offline"):
            raise ConfigError("RELEASE_BUILD_RECIPE must be 'real' or 'offline'")
        out["build_recipe"] = recipe
    return out
