"""Registry credentials (our `pkg/authn`): who we are to each registry host, and to which hosts that goes.

Every credential is bound to the hosts it is for:
- `REGISTRY_USERNAME` / `REGISTRY_PASSWORD`: only the hosts given as `hosts` (the kit passes the release registry
  and the source registries of RELEASE_SOURCE_REGISTRIES, after RELEASE_REGISTRY_REWRITE);
- the Docker client configuration (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: `credHelpers`,
  `auths`, `credsStore`): each entry for its own host only;
- a GitHub token (the project's: GITHUB_TOKEN, else GH_PAT): `ghcr.io` only.
Any other host is spoken to anonymously. `token_host_allowed` says whether a token server (the `realm` of a
Bearer challenge) may receive the credential of a registry. Passwords are `Secret`s: never printed or logged.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from release.config import Secret
from release.errors import ConfigError

log = logging.getLogger(__name__)

GHCR = "ghcr.io"
_DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
# Registries whose token server is on another host, as their operators publish it.
_KNOWN_TOKEN_HOSTS = {"docker.io": frozenset({"auth.docker.io"})}


@dataclass(frozen=True)
class Credential:
    username: str
    password: Secret = field(repr=False)
    source: str = ""  # where it came from, for error messages ("REGISTRY_USERNAME", "~/.docker/config.json"...)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


class Keychain:
    """Resolve a registry host (`ghcr.io`, `127.0.0.1:5000`) to a Credential, or None for anonymous."""

    def __init__(
        self,
        *,
        username: str | None = None,
        password: Secret | None = None,
        hosts: Iterable[str] = (),
        docker_config: Path | None = None,
        github_token: Secret | None = None,
        github_token_source: str = "GITHUB_TOKEN",
        github_user: str | None = None,
    ) -> None:
        self._explicit = (
            Credential(username, password, "REGISTRY_USERNAME/REGISTRY_PASSWORD") if (username and password) else None
        )
        self._explicit_hosts = frozenset(h.lower() for h in hosts)
        self._docker_config = docker_config
        self._github_token = github_token
        self._github_token_source = github_token_source
        self._github_user = github_user or "release-kit"
        self._config_cache: Mapping[str, object] | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, hosts: Iterable[str] = (), **kwargs: object) -> Keychain:
        """Convenience for scripts and tests; the kit itself builds keychains in `release.wiring`."""
        token_var = next((v for v in ("GITHUB_TOKEN", "GH_PAT") if environ.get(v)), None)
        return cls(
            username=environ.get("REGISTRY_USERNAME") or None,
            password=Secret(environ["REGISTRY_PASSWORD"]) if environ.get("REGISTRY_PASSWORD") else None,
            hosts=hosts,
            docker_config=Path(environ["DOCKER_CONFIG"]) if environ.get("DOCKER_CONFIG") else None,
            github_token=Secret(environ[token_var]) if token_var else None,
            github_token_source=token_var or "GITHUB_TOKEN",
            github_user=environ.get("GH_ID") or environ.get("GITHUB_ACTOR"),
        )

    @property
    def explicit_hosts(self) -> frozenset[str]:
        """The hosts REGISTRY_USERNAME/REGISTRY_PASSWORD are bound to."""
        return self._explicit_hosts

    def resolve(self, registry: str) -> Credential | None:
        """The credential for `registry` (a host with its port), or None: nothing goes to unbound hosts."""
        if self._explicit is not None and registry.lower() in self._explicit_hosts:
            return self._explicit
        found = self._from_docker_config(registry)
        if found is not None:
            return found
        if registry.lower() == GHCR and self._github_token is not None:
            return Credential(self._github_user, self._github_token, self._github_token_source)
        return None

    def token_host_allowed(self, registry: str, token_host: str) -> bool:
        """May the token server on `token_host` (a host with its port) receive `registry`'s credential?

        Yes when it is the registry's own host name (any port), a token host the registry's operator publishes
        (docker.io → auth.docker.io), or a host the very same credential is configured for. A registry cannot
        send the credential it holds to a third host by pointing its `realm` there.
        """
        if _hostname(token_host) == _hostname(registry):
            return True
        if _hostname(token_host) in _KNOWN_TOKEN_HOSTS.get(registry.lower(), frozenset()):
            return True
        mine = self.resolve(registry)
        return mine is not None and self.resolve(token_host) == mine

    # -- Docker client configuration -----------------------------------------------------------------------

    def _config_path(self) -> Path:
        base = self._docker_config if self._docker_config is not None else Path.home() / ".docker"
        return base / "config.json"

    def _config(self) -> Mapping[str, object]:
        if self._config_cache is None:
            path = self._config_path()
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                data = {}
            except (OSError, json.JSONDecodeError) as e:
                raise ConfigError(f"{path}: cannot read Docker credentials ({e}); fix or remove the file") from None
            self._config_cache = data if isinstance(data, dict) else {}
        return self._config_cache

    def _from_docker_config(self, registry: str) -> Credential | None:
        cfg = self._config()
        keys = _DOCKER_HUB_KEYS if registry == "docker.io" else (registry,)
        helpers = cfg.get("credHelpers")
        if isinstance(helpers, dict):
            for key in keys:
                if isinstance(helpers.get(key), str):
                    return self._from_helper(str(helpers[key]), key)
        auths = cfg.get("auths")
        if isinstance(auths, dict):
            for raw_key, entry in auths.items():
                if _auth_key_host(raw_key) in keys and isinstance(entry, dict):
                    cred = self._from_auth_entry(entry)
                    if cred is not None:
                        return cred
        store = cfg.get("credsStore")
        if isinstance(store, str) and store:
            for key in keys:
                cred = self._from_helper(store, key)
                if cred is not None:
                    return cred
        return None

    def _from_auth_entry(self, entry: Mapping[str, object]) -> Credential | None:
        source = str(self._config_path())
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, password = base64.b64decode(str(entry["auth"])).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ConfigError(f"{source}: an 'auth' entry is not base64 of USER:PASSWORD") from None
            return Credential(user, Secret(password), source)
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credential(str(entry["username"]), Secret(str(entry["password"])), source)
        if isinstance(entry.get("identitytoken"), str):
            return Credential("<token>", Secret(str(entry["identitytoken"])), source)
        return None

    def _from_helper(self, helper: str, server: str) -> Credential | None:
        program = f"docker-credential-{helper}"
        try:
            proc = subprocess.run(
                [program, "get"], input=server, capture_output=True, text=True, timeout=30, check=False
            )
        except FileNotFoundError:
            raise ConfigError(
                f"{self._config_path()} names credential helper {helper!r}, but {program} is not on PATH"
            ) from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"{program} did not answer within 30 s") from None
        if proc.returncode != 0:
            # Helpers exit non-zero with "credentials not found" when they have nothing for this host.
            log.debug("%s has no credentials for %s", program, server)
            return None
        try:
            data = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise ConfigError(f"{program} printed something that is not JSON") from None
        user, secret = data.get("Username"), data.get("Secret")
        if not isinstance(user, str) or not isinstance(secret, str) or not secret:
            return None
        return Credential(user, Secret(secret), program)


def _auth_key_host(key: str) -> str:
    """`https://ghcr.io/v1/` → `ghcr.io`, as Docker stores keys in several shapes."""
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key.split("/", 1)[0]


def _hostname(host: str) -> str:
    """`127.0.0.1:5000` → `127.0.0.1`, `[::1]:5000` → `[::1]`, lower-case."""
    host = host.lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]
