"""Real OCI registries on 127.0.0.1: Debian's `docker-registry` (CNCF distribution 2.8), for rehearsals (the
demo) and the tests.

- `start_registry(workdir, name)`: htpasswd (Basic) auth (bcrypt through the system's libcrypt), storage in
  `workdir/name`, a free port; `stop_registry(reg)`.
- `start_token_registry(workdir)`: the same with the distribution token flow and its `TokenServer`.
- `Seeder`: pushes small images (and multi-arch indexes) through the kit's own registry client.
- `ensure_registry_binary(install=...)`: installs `docker-registry` with apt-get when missing and allowed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from release.config import Secret
from release.errors import ServiceError
from release.http import make_session
from release.imageref import ImageRef
from release.oci import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest
from release.registry import RegistryClient
from release.registry_auth import Keychain
from release.sim import packages

REGISTRY_BINARY = "/usr/bin/docker-registry"
USERNAME = "releaser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bcrypt_hash(password: str) -> str:
    """bcrypt through the system's libcrypt (libxcrypt), as `htpasswd -B` would write it."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = lib.crypt_gensalt(b"$2b$", 5, None, 0)
    hashed = lib.crypt(password.encode(), setting)
    if not hashed or not hashed.startswith(b"$2"):
        raise ServiceError("libcrypt cannot compute bcrypt hashes (libcrypt1 / libxcrypt is needed)")
    return str(hashed.decode())


@dataclass
class Registry:
    """A running registry: `host` is `127.0.0.1:PORT`; `env` gives the kit its credentials."""

    host: str
    username: str
    password: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return {"REGISTRY_USERNAME": self.username, "REGISTRY_PASSWORD": self.password}

    def keychain(self) -> Keychain:
        return Keychain(username=self.username, password=Secret(self.password), hosts=(self.host,))

    def client(self, **kwargs: object) -> RegistryClient:
        return RegistryClient(make_session(), self.keychain(), **kwargs)  # type: ignore[arg-type]

    def ref(self, text: str) -> ImageRef:
        return ImageRef.parse(f"{self.host}/{text}")

    def raw_get(self, path: str) -> requests.Response:
        return requests.get(f"http://{self.host}{path}", auth=(self.username, self.password), timeout=10)

    def raw_delete(self, path: str) -> requests.Response:
        return requests.delete(f"http://{self.host}{path}", auth=(self.username, self.password), timeout=10)

    def catalog(self) -> list[str]:
        """Every repository (the catalog API, page by page: the registry serves at most 1000 a page)."""
        repos: list[str] = []
        path: str | None = "/v2/_catalog?n=1000"
        while path:
            resp = self.raw_get(path)
            resp.raise_for_status()
            repos.extend(resp.json().get("repositories") or [])
            nxt = resp.links.get("next", {}).get("url")
            path = urlsplit(nxt)._replace(scheme="", netloc="").geturl() if nxt else None
        return repos

    def tags(self, repository: str) -> list[str]:
        resp = self.raw_get(f"/v2/{repository}/tags/list")
        return [] if resp.status_code == 404 else sorted(resp.json().get("tags") or [])

    def snapshot(self) -> dict[str, list[str]]:
        """Every repository and its tags."""
        return {repo: self.tags(repo) for repo in sorted(self.catalog())}

    def requests_logged(self) -> list[str]:
        """The request lines of the access log ("PUT /v2/... HTTP/1.1"), oldest first."""
        text = (self.root / "registry.log").read_text(errors="replace")
        return re.findall(r'"((?:GET|HEAD|POST|PUT|PATCH|DELETE) [^"]*)"', text)

    def writes_logged(self) -> list[str]:
        return [r for r in self.requests_logged() if r.split(" ", 1)[0] in ("POST", "PUT", "PATCH", "DELETE")]


def ensure_registry_binary(*, install: bool, on_event: Callable[[str], None] | None = None) -> str:
    """The registry binary. Missing, with `install` and as root with apt-get: `apt-get install -y
    docker-registry` (after `apt-get update` when the package lists do not know it yet)."""
    packages.ensure(
        [dataclasses.replace(packages.REGISTRY, binary=REGISTRY_BINARY)], install=install, on_event=on_event
    )
    return REGISTRY_BINARY


def _serve(root: Path, config: dict[str, object], *, what: str) -> subprocess.Popen[bytes]:
    """Start `docker-registry serve` with `config` and wait until /v2/ answers 401 (auth required)."""
    if not Path(REGISTRY_BINARY).exists():
        raise ServiceError(f"{REGISTRY_BINARY} is missing: apt-get install -y docker-registry")
    # JSON is YAML: no YAML writer needed.
    (root / "config.yml").write_text(json.dumps(config))
    addr = str(config["http"]["addr"])  # type: ignore[index]
    with (root / "registry.log").open("wb") as log:
        proc = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(root / "config.yml")], stdout=log, stderr=subprocess.STDOUT, cwd=root
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited: {(root / 'registry.log').read_text()[-2000:]}")
        try:
            if requests.get(f"http://{addr}/v2/", timeout=1).status_code == 401:
                return proc
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    raise ServiceError(f"{what} did not start within 20 s (log: {root / 'registry.log'})")


def start_registry(workdir: Path, name: str, *, password: str | None = None, delete: bool = True) -> Registry:
    """A registry with htpasswd auth for USERNAME (a random password unless given) in `workdir/name`. Manifests
    can be deleted (by digest: distribution 2.8 refuses to delete a tag) unless `delete` is False (then every DELETE
    answers 405 UNSUPPORTED)."""
    root = workdir / name
    (root / "data").mkdir(parents=True)
    password = password or secrets.token_urlsafe(12)
    (root / "htpasswd").write_text(f"{USERNAME}:{bcrypt_hash(password)}\n")
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": delete},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        "auth": {"htpasswd": {"realm": f"{name}-realm", "path": str(root / "htpasswd")}},
    }
    proc = _serve(root, config, what="docker-registry")
    return Registry(f"127.0.0.1:{port}", USERNAME, password, root, proc)


def stop_registry(reg: Registry) -> None:
    reg.process.terminate()
    try:
        reg.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        reg.process.kill()
        reg.process.wait(timeout=10)


# -- seeding ---------------------------------------------------------------------------------------------


def random_layer(size: int, seed: str | None = None) -> bytes:
    if seed is None:
        return os.urandom(size)
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return out[:size]


class Seeder:
    """Push test images through the kit's own client."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def image(
        self,
        ref: ImageRef,
        layers: list[bytes],
        *,
        arch: str = "amd64",
        media_type: str = OCI_MANIFEST,
        label: str | None = None,
    ) -> str:
        """An image manifest with these layers; returns its digest (stable for the same layers and label)."""
        docker = media_type != OCI_MANIFEST
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer) for layer in layers]},
                "config": {"Labels": {"seed": label or uuid.uuid4().hex}},
            }
        ).encode()
        config_digest = self.client.push_blob(ref, config)
        layer_type = (
            "application/vnd.docker.image.rootfs.diff.tar.gzip" if docker else "application/vnd.oci.image.layer.v1.tar"
        )
        descs = [
            {"mediaType": layer_type, "digest": self.client.push_blob(ref, layer), "size": len(layer)}
            for layer in layers
        ]
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json"
                if docker
                else "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": descs,
        }
        raw = json.dumps(manifest, indent=3).encode()
        digest = sha256_digest(raw)
        target = ref if ref.tag or ref.digest else ref.with_digest(digest)
        return self.client.put_manifest(target, Manifest(raw, media_type, digest))

    def index(
        self, ref: ImageRef, arch_layers: dict[str, list[bytes]], *, docker: bool = False, label: str | None = None
    ) -> str:
        """A multi-arch index (OCI, or a Docker manifest list) whose children are pushed by digest first."""
        children = []
        for arch, layers in arch_layers.items():
            child_type = "application/vnd.docker.distribution.manifest.v2+json" if docker else OCI_MANIFEST
            untagged = ImageRef(ref.registry, ref.repository)
            digest = self.image(untagged, layers, arch=arch, media_type=child_type, label=label)
            raw_child = self.client.get_manifest(untagged.with_digest(digest)).raw
            children.append(
                {
                    "mediaType": child_type,
                    "digest": digest,
                    "size": len(raw_child),
                    "platform": {"os": "linux", "architecture": arch},
                }
            )
        media_type = DOCKER_LIST if docker else OCI_INDEX
        raw = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": children}).encode()
        return self.client.put_manifest(ref, Manifest(raw, media_type, sha256_digest(raw)))


# -- a registry with token auth (the distribution token flow) -------------------------------------------------


class TokenServer:
    """The token endpoint of the distribution token flow: Basic credentials in, a signed JWT out.

    Keys and the certificate come from `openssl`; the JWT carries the certificate in `x5c`, which the registry
    checks against its `rootcertbundle`. It grants exactly the scopes asked for, to the one known user.
    """

    def __init__(self, workdir: Path, *, username: str, password: str, service: str, issuer: str) -> None:
        import http.server
        import threading

        self.username, self.password, self.service, self.issuer = username, password, service, issuer
        self.key = workdir / "token.key"
        self.cert = workdir / "token.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key), "-out",
             str(self.cert), "-days", "2", "-subj", "/CN=release-kit-test-token"],
            check=True, capture_output=True,
        )  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True, capture_output=True
        ).stdout
        import base64

        self._x5c = base64.b64encode(der).decode()
        self.requests: list[list[str]] = []  # the scopes of every token request
        self.authorizations: list[str | None] = []  # the Authorization header of every request, as received
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                from urllib.parse import parse_qs, urlsplit

                query = parse_qs(urlsplit(self.path).query)
                server.authorizations.append(self.headers.get("Authorization"))
                auth = self.headers.get("Authorization", "")
                expected = "Basic " + base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
                if auth != expected:
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                    return
                scopes = query.get("scope", [])
                server.requests.append(scopes)
                token = server.sign(scopes)
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._httpd.server_address[1])
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, scopes: list[str]) -> str:
        import base64

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer, "sub": self.username, "aud": self.service, "exp": now + 300, "nbf": now - 10,
            "iat": now, "jti": uuid.uuid4().hex, "access": access,
        }  # fmt: skip
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout  # fmt: skip
        return f"{signing_input}.{b64(signature)}"

    def close(self) -> None:
        self._httpd.shutdown()


def start_token_registry(workdir: Path) -> tuple[Registry, TokenServer]:
    """A registry whose auth is the token flow, with its token server."""
    root = workdir / "token-registry"
    (root / "data").mkdir(parents=True)
    password = secrets.token_urlsafe(12)
    tokens = TokenServer(root, username=USERNAME, password=password, service="release-kit-registry", issuer="kit")
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        "auth": {
            "token": {
                "realm": tokens.realm, "service": tokens.service, "issuer": tokens.issuer,
                "rootcertbundle": str(tokens.cert),
            }
        },
    }  # fmt: skip
    proc = _serve(root, config, what="docker-registry (token auth)")
    return Registry(f"127.0.0.1:{port}", USERNAME, password, root, proc), tokens
