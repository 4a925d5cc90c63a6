"""The Docker engine client: a thin wrapper over the docker SDK (build, push, image exists, repo digest).

One `DockerEngine` per engine (`DOCKER_HOST` or each `--docker-host`). Build and push output is streamed line by
line to a callback; errors come back as `DockerEngineError` (engine unreachable or refusing a request) or
`BuildError` (the Dockerfile failed). Registry credentials are sent with pushes only, and never logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from release.errors import BuildError, DockerEngineError, EngineUnreachable
from release.imageref import ImageRef
from release.registry_auth import Credential

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class DockerEngine:
    """One Docker engine, reached at `base_url` (unix://, tcp://, ssh://); the SDK client is made on first use."""

    def __init__(
        self,
        base_url: str | None,
        *,
        name: str | None = None,
        credentials: Callable[[str], Credential | None] | None = None,
        timeout: float = 300.0,
    ) -> None:
        self.base_url = base_url or DEFAULT_SOCKET
        self.name = name or self.base_url
        self._credentials = credentials
        self._timeout = timeout
        self._client: docker.APIClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DockerEngine({self.base_url!r})"

    # -- connection ----------------------------------------------------------------------------------------
    def _unreachable(self, e: Exception) -> EngineUnreachable:
        return EngineUnreachable(
            f"Docker engine {self.name} is unreachable ({type(e).__name__}: {_short(e)}): start dockerd there, "
            "check DOCKER_HOST / --docker-host, or leave this engine out"
        )

    def _api(self) -> docker.APIClient:
        with self._lock:
            if self._client is None:
                try:
                    self._client = docker.APIClient(base_url=self.base_url, version="auto", timeout=self._timeout)
                except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
                    raise self._unreachable(e) from None
            return self._client

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except requests.exceptions.ConnectionError as e:
            raise self._unreachable(e) from None
        except docker.errors.APIError as e:
            raise DockerEngineError(f"Docker engine {self.name} refused {what}: {_explain(e)}") from None

    def ping(self) -> None:
        """Raise DockerEngineError unless the engine answers."""
        self._call("ping", lambda: self._api().ping())

    # -- images --------------------------------------------------------------------------------------------
    def image_exists(self, ref: str) -> bool:
        api = self._api()

        def run() -> bool:
            try:
                api.inspect_image(ref)
            except docker.errors.NotFound:
                return False
            return True

        return bool(self._call(f"inspect {ref}", run))

    def repo_digest(self, ref: str) -> str | None:
        """The digest the engine recorded for `ref`'s repository when it last pushed or pulled it."""
        name, _tag = _split(ref)
        attrs = self._call(f"inspect {ref}", lambda: self._api().inspect_image(ref))
        for item in attrs.get("RepoDigests") or ():
            repo, _, digest = item.partition("@")
            if repo == name:
                return str(digest)
        return None

    def build(
        self,
        ref: str,
        *,
        context: Path,
        dockerfile: str,
        buildargs: Mapping[str, str],
        target: str | None = None,
        on_line: Callable[[str], None],
    ) -> str:
        """Build `context` with `dockerfile` (relative to it) and tag it `ref`; stream every output line to
        `on_line`. Returns the image id; raises BuildError when a step fails."""
        api = self._api()

        def run() -> str:
            image_id = ""
            stream = api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=ref,
                buildargs=dict(buildargs),
                target=target,
                rm=True,
                forcerm=True,
                decode=True,
                timeout=None,  # a step may stay silent for a long time
            )
            for chunk in stream:
                if "stream" in chunk:
                    for line in str(chunk["stream"]).splitlines():
                        if line.strip():
                            on_line(line)
                elif "status" in chunk:
                    on_line(f"{chunk.get('id', '')} {chunk['status']}".strip())
                if "error" in chunk:
                    message = str(chunk.get("errorDetail", {}).get("message") or chunk["error"]).strip()
                    on_line(f"ERROR: {message}")
                    raise BuildError(message)
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = str(aux["ID"])
            if not image_id:
                raise BuildError("the engine ended the build without an image id")
            return image_id

        return str(self._call(f"the build of {ref}", run))

    def _auth(self, ref: str) -> dict[str, str] | None:
        if self._credentials is None:
            return None
        cred = self._credentials(ImageRef.parse(ref).registry)
        if cred is None:
            return None
        return {"username": cred.username, "password": cred.password.reveal()}

    def pull(self, ref: str, *, on_line: Callable[[str], None]) -> None:
        """Pull `ref` with the registry credentials (if any)."""
        name, tag = _split(ref)
        api = self._api()
        auth = self._auth(ref)

        def run() -> None:
            for chunk in api.pull(name, tag=tag, stream=True, decode=True, auth_config=auth):
                if "error" in chunk:
                    message = str(chunk.get("errorDetail", {}).get("message") or chunk["error"]).strip()
                    raise DockerEngineError(f"pull of {ref} failed: {message}")
                if "status" in chunk and "id" not in chunk:
                    on_line(str(chunk["status"]))

        self._call(f"the pull of {ref}", run)

    def push(self, ref: str, *, on_line: Callable[[str], None]) -> str:
        """Push `ref` with the registry credentials (if any); return the manifest digest the engine pushed."""
        name, tag = _split(ref)
        api = self._api()
        auth = self._auth(ref)

        def run() -> str:
            digest = ""
            for chunk in api.push(name, tag=tag, stream=True, decode=True, auth_config=auth):
                if "error" in chunk:
                    message = str(chunk.get("errorDetail", {}).get("message") or chunk["error"]).strip()
                    raise DockerEngineError(f"push of {ref} failed: {message}")
                if "status" in chunk:
                    on_line(f"{chunk.get('id', '')} {chunk['status']}".strip())
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = str(aux["Digest"])
            return digest

        digest = str(self._call(f"the push of {ref}", run))
        return digest or (self.repo_digest(ref) or "")


def _split(ref: str) -> tuple[str, str]:
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, "latest"


def _short(e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:200]


def _explain(e: docker.errors.APIError) -> str:
    status = getattr(e, "status_code", None)
    detail = getattr(e, "explanation", None) or str(e)
    return f"{detail} (HTTP {status})" if status else str(detail)
