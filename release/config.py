"""One settings object: defaults ← release.toml ← environment ← task flags.

`Config.from_env(environ, path=...)` takes the environment as a mapping (tests pass a dict). Task flags are
applied by the task layer with `cfg.with_overrides(...)`. Secrets are wrapped in `Secret`, whose repr and str
never show the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.exceptions import TOMLKitError

from release import fsio
from release.environment import (
    CI_TOKEN_VARIABLES,
    PROJECT_TOKEN_VARIABLES,
)
from release.errors import ConfigError
from release.imageref import ImageRefError, RepoPrefix, SourceAllowList, is_loopback_host, rewrite_registry

DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_RELEASE_REGISTRY = "ghcr.io"
DEFAULT_SOURCE_REGISTRIES = ("ghcr.io/tenstorrent/",)


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


@dataclass(frozen=True)
class Token:
    """A GitHub token and the environment variable it came from (error messages name the variable)."""

    secret: Secret = field(repr=False)
    variable: str

    def reveal(self) -> str:
        return self.secret.reveal()


def _token_for(environ: Mapping[str, str], variables: tuple[str, ...]) -> Token | None:
    for var in variables:
        if environ.get(var):
            return Token(Secret(environ[var]), var)
    return None


def at_least(value: int, minimum: int, flag: str) -> int:
    """A number a flag gives, checked against its lower bound (ConfigError naming the flag)."""
    if value < minimum:
        raise ConfigError(f"{flag} must be at least {minimum}")
    return value


def variables_hint(variables: tuple[str, ...]) -> str:
    """`("GH_PAT", "GITHUB_TOKEN")` → "GH_PAT (or GITHUB_TOKEN)"."""
    return f"{variables[0]} (or {', '.join(variables[1:])})" if len(variables) > 1 else variables[0]


def parse_source_registries(text: str) -> tuple[str, ...]:
    """`"ghcr.io/tenstorrent/, 127.0.0.1:5000/"` → ("ghcr.io/tenstorrent/", "127.0.0.1:5000/"), each checked."""
    entries = tuple(item.strip() for item in text.split(",") if item.strip())
    for entry in entries:
        try:
            RepoPrefix.parse(entry)
        except ImageRefError as e:
            raise ConfigError(f"RELEASE_SOURCE_REGISTRIES: {e}") from None
    return entries


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
    if url.scheme == "http" and not is_loopback_host(host):
        raise ConfigError(f"{source}: plain http is allowed only on this machine (127.0.0.1, ::1, localhost)")
    return text


def _required(token: Token | None, what: str, variables: tuple[str, ...], permission: str) -> Token:
    if token is None:
        raise ConfigError(f"no GitHub token {what}: set {variables_hint(variables)} to a token with {permission}")
    return token


@dataclass(frozen=True, kw_only=True)
class Config:
    repo_root: Path
    # GitHub
    github_api_url: str = DEFAULT_GITHUB_API_URL
    ci_token: Token | None = field(default=None, repr=False)  # reading Models CI: GH_PAT, else GITHUB_TOKEN
    project_token: Token | None = field(default=None, repr=False)  # writing this repository: GITHUB_TOKEN, else GH_PAT
    ci_owner: str = "tenstorrent"
    ci_repo: str = "tt-shield"
    ci_workflow_file: str = "on-nightly.yml"
    project_owner: str = "tenstorrent"
    project_repo: str = "tt-inference-server"
    # registries
    registry_rewrite: tuple[tuple[str, str], ...] = ()
    release_registry: str = DEFAULT_RELEASE_REGISTRY  # where the catalogue's images live (before the rewrite)
    source_registries: tuple[str, ...] = DEFAULT_SOURCE_REGISTRIES  # allow-list of CI image prefixes
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

    def require_ci_token(self, permission: str) -> Token:
        """The token that reads Models CI, or advice naming its variables."""
        return _required(self.ci_token, "to read Models CI", CI_TOKEN_VARIABLES, permission)

    def require_project_token(self, permission: str) -> Token:
        """The token that writes this repository (PRs, releases, tags), or advice naming its variables."""
        what = f"to write {self.project_owner}/{self.project_repo}"
        return _required(self.project_token, what, PROJECT_TOKEN_VARIABLES, permission)

    def source_allow_list(self) -> SourceAllowList:
        """RELEASE_SOURCE_REGISTRIES as values, matched as written and after RELEASE_REGISTRY_REWRITE."""
        return SourceAllowList.parse(self.source_registries, registry_map=self.registry_rewrite)

    def credential_registries(self) -> tuple[str, ...]:
        """The registry hosts REGISTRY_USERNAME/REGISTRY_PASSWORD may go to: the release registry and the
        source registries, after RELEASE_REGISTRY_REWRITE."""
        release = rewrite_registry(self.release_registry, self.registry_rewrite)
        return tuple(dict.fromkeys((release, *self.source_allow_list().registries)))


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
            out.update(_read_registry_table(path, body))
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


def _read_registry_table(path: Path, body: Any) -> dict[str, Any]:
    """`[registry]`: rewrite = {HOST = HOST}, sources = [PREFIX, ...], release = HOST."""
    known = ("rewrite", "sources", "release")
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "rewrite":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{path}: [registry] rewrite must be a table of HOST = HOST")
            out["registry_rewrite"] = tuple((str(k), v) for k, v in value.items())
        elif key == "sources":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{path}: [registry] sources must be a list of prefixes like 'ghcr.io/tenstorrent/'")
            out["source_registries"] = parse_source_registries(",".join(value))
        elif key == "release":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f'{path}: [registry] release must be a registry host like "ghcr.io"')
            out["release_registry"] = value.strip()
        else:
            raise ConfigError(f"{path}: unknown key {key!r} in [registry] (known: {', '.join(known)})")
    return out


def _build_recipe(value: str) -> str:
    if value not in ("real", "offline"):
        raise ConfigError("RELEASE_BUILD_RECIPE must be 'real' or 'offline'")
    return value


# Environment variable → (Config field, how its text is read); a variable that is unset or empty is not applied.
_FROM_ENVIRON: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("GITHUB_API_URL", "github_api_url", lambda v: api_url(v, source="GITHUB_API_URL")),
    ("RELEASE_REGISTRY_REWRITE", "registry_rewrite", parse_registry_rewrite),
    ("RELEASE_SOURCE_REGISTRIES", "source_registries", parse_source_registries),
    ("REGISTRY_USERNAME", "registry_username", str),
    ("REGISTRY_PASSWORD", "registry_password", Secret),
    ("DOCKER_CONFIG", "docker_config", Path),
    ("DOCKER_HOST", "docker_host", str),
    ("RELEASE_DOCKER_HOSTS", "docker_hosts", lambda v: tuple(h.strip() for h in v.split(",") if h.strip())),
    ("RELEASE_TT_METAL_REPO", "tt_metal_repo", str),
    ("RELEASE_BUILD_RECIPE", "build_recipe", _build_recipe),
)


def _read_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ci_token": _token_for(environ, CI_TOKEN_VARIABLES),
        "project_token": _token_for(environ, PROJECT_TOKEN_VARIABLES),
    }
    for variable, name, read in _FROM_ENVIRON:
        if environ.get(variable):
            out[name] = read(environ[variable])
    return out
