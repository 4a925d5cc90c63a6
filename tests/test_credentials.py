"""Credentials go only to the hosts they are for. Every server here records the Authorization headers it
receives (tests/services/recording.py, the fake GitHub's `seen`, the token server's `authorizations`); a
credential that reaches another host fails the test.

- CI records naming a host outside RELEASE_SOURCE_REGISTRIES are refused before any request goes there.
- REGISTRY_USERNAME/PASSWORD, docker config.json entries and the GitHub token each go to their own hosts only.
- The registry client sends no Authorization to an upload Location or a redirect on another host, and never
  hands a registry's credential to a token server on a third host; a token server over plain http is refused
  unless it is on loopback.
- The GitHub client keeps its token on the API origin (Link: next, redirects) and each token role reaches
  its own routes.
"""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from release import wiring
from release.config import Config, Secret
from release.errors import GitHubError, RegistryAuthError, RegistryError
from release.http import make_session, same_origin
from release.imageref import ImageRef
from release.registry import RegistryClient
from release.registry_auth import Keychain
from release.sim.github_routing import Reply
from release.sim.github_server import GitHubServer
from release.sim.history import generate_history
from tests.services.github_project import CI_TOKEN, TOKEN, GitHubProject
from tests.services.recording import RecordingProxy
from tests.services.recording import Reply as RawReply
from tests.services.registry import Registry, Seeder, random_layer
from tests.test_promotion import CI_REPO, TM_A, World, make_world

CI_TAG = f"0.0.5-{TM_A}-1111111-101"


def _basic(reg: Registry) -> str:
    return "Basic " + base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()


# ------------------------------------------------------------------------------ the source allow-list


@pytest.fixture
def world(tmp_path: Path, fresh_registry: Registry) -> World:
    return make_world(tmp_path, fresh_registry)


def _point_record_at(world: World, image: str) -> None:
    lg = json.loads(world.last_good.read_text())
    lg["id_tt-transformers_Alpha-8B_n300"]["docker_image"] = image
    world.last_good.write_text(json.dumps(lg))


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_ci_record_on_an_unlisted_registry_is_refused_before_any_request(
    world: World, recording_server, dry_run: bool
) -> None:
    other = recording_server(RawReply(401, {"WWW-Authenticate": 'Basic realm="x"'}))
    _point_record_at(world, f"{other.host}/tenstorrent/tt-shield/ci:{CI_TAG}")
    writes = len(world.registry.writes_logged())
    proc = world.run("images.promote", str(world.last_good), "--dev", "--increment", "minor",
                     *(["--dry-run"] if dry_run else []))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert error == [
        f"error: {world.last_good.name}: the CI record of id_tt-transformers_Alpha-8B_n300 names "
        f"{other.host}/tenstorrent/tt-shield/ci:{CI_TAG} on host {other.host}, outside RELEASE_SOURCE_REGISTRIES "
        "(ghcr.io/tenstorrent/); refusing to contact it"
    ]
    assert other.seen == []  # not one request, so no credential either
    assert len(world.registry.writes_logged()) == writes
    assert (world.checkout / "VERSION").read_text() == "0.5.0\n"


def test_allow_list_entries_match_whole_components_after_the_rewrite(world: World) -> None:
    # ghcr.io/tenstorrent-evil/ is rewritten onto the same registry, but is not under ghcr.io/tenstorrent/
    _point_record_at(world, f"ghcr.io/tenstorrent-evil/ci:{CI_TAG}")
    proc = world.run("images.promote", str(world.last_good), "--dev", "--dry-run")
    assert (
        proc.returncode == 2
        and "tenstorrent-evil/ci" in proc.stderr
        and "outside RELEASE_SOURCE_REGISTRIES" in proc.stderr
    )
    # written with the rehearsal host, the same record is allowed: the entry matches after the rewrite
    _point_record_at(world, f"{world.registry.host}/{CI_REPO}:{CI_TAG}")
    proc = world.run("images.promote", str(world.last_good), "--dev", "--dry-run")
    assert proc.returncode == 0, proc.stderr


def test_a_summary_pair_from_an_unlisted_registry_is_refused(
    registry: Registry, recording_server, tmp_path: Path
) -> None:
    from tests.test_images_copy import run

    other = recording_server()
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"copied_images": {f"{registry.host}/x/dev:1": f"{other.host}/x/ci:1"}}))
    proc = run(registry, tmp_path, "--from-summary", str(summary), "--dry-run")
    assert proc.returncode == 2
    assert f"pair 1 names {other.host}/x/ci:1 on host {other.host}" in proc.stderr
    assert other.seen == []


def test_source_registries_setting(tmp_path: Path) -> None:
    cfg = Config.from_env({"RELEASE_SOURCE_REGISTRIES": " ghcr.io/tenstorrent/ , quay.io/tt ",
                           "RELEASE_REGISTRY_REWRITE": "ghcr.io=127.0.0.1:5000"}, repo_root=tmp_path)  # fmt: skip
    assert cfg.source_registries == ("ghcr.io/tenstorrent/", "quay.io/tt")
    assert cfg.credential_registries() == ("127.0.0.1:5000", "quay.io")
    allow = cfg.source_allow_list()
    assert allow.allows(ImageRef.parse("127.0.0.1:5000/tenstorrent/a:1"))
    assert allow.allows(ImageRef.parse("quay.io/tt/a/b:1")) and not allow.allows(ImageRef.parse("quay.io/ttx/a:1"))
    toml = tmp_path / "release.toml"
    toml.write_text('[registry]\nsources = ["ghcr.io/tenstorrent/tt-shield/"]\nrelease = "ghcr.io"\n')
    assert Config.from_env({}, path=toml).source_registries == ("ghcr.io/tenstorrent/tt-shield/",)
    from release.errors import ConfigError

    with pytest.raises(ConfigError, match="RELEASE_SOURCE_REGISTRIES"):
        Config.from_env({"RELEASE_SOURCE_REGISTRIES": "not a host/"}, repo_root=tmp_path)


# ------------------------------------------------------------------------------ the keychain


def test_explicit_credentials_are_bound_to_the_release_and_source_registries(tmp_path: Path) -> None:
    env = {"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p4ss", "RELEASE_REGISTRY_REWRITE": "ghcr.io=127.0.0.1:5000",
           "DOCKER_CONFIG": str(tmp_path)}  # fmt: skip
    chain = wiring.keychain(Config.from_env(env, repo_root=tmp_path))
    assert chain.resolve("127.0.0.1:5000") is not None
    for host in ("ghcr.io", "127.0.0.1:5001", "localhost:5000", "evil.example.com", "docker.io"):
        assert chain.resolve(host) is None, host


def test_docker_config_entries_go_to_their_own_host_only(tmp_path: Path) -> None:
    auth = base64.b64encode(b"me:pw").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"https://ghcr.io/v1/": {"auth": auth}}}))
    chain = wiring.keychain(Config.from_env({"DOCKER_CONFIG": str(tmp_path)}, repo_root=tmp_path))
    assert chain.resolve("ghcr.io") is not None
    assert chain.resolve("ghcr.io.evil.com") is None and chain.resolve("quay.io") is None


def test_the_github_token_goes_to_ghcr_only_and_it_is_the_projects(tmp_path: Path) -> None:
    env = {"GH_PAT": "ghp_ci_read", "GITHUB_TOKEN": "ghs_project", "DOCKER_CONFIG": str(tmp_path),
           "RELEASE_REGISTRY_REWRITE": "ghcr.io=127.0.0.1:5000"}  # fmt: skip
    chain = wiring.keychain(Config.from_env(env, repo_root=tmp_path))
    cred = chain.resolve("ghcr.io")
    assert cred is not None and cred.password == Secret("ghs_project") and cred.source == "GITHUB_TOKEN"
    assert chain.resolve("127.0.0.1:5000") is None  # a rehearsal registry never sees a GitHub token
    only_pat = wiring.keychain(Config.from_env({"GH_PAT": "ghp_x", "DOCKER_CONFIG": str(tmp_path)}, repo_root=tmp_path))
    fallback = only_pat.resolve("ghcr.io")
    assert fallback is not None and fallback.source == "GH_PAT"


def test_token_host_rules() -> None:
    chain = Keychain(username="u", password=Secret("p"), hosts=("ghcr.io", "127.0.0.1:5000", "quay.io"))
    assert chain.token_host_allowed("ghcr.io", "ghcr.io")
    assert chain.token_host_allowed("127.0.0.1:5000", "127.0.0.1:5001")  # same host name, another port
    assert chain.token_host_allowed("ghcr.io", "quay.io")  # the very same credential is configured for it
    assert not chain.token_host_allowed("ghcr.io", "auth.evil.example")
    assert not chain.token_host_allowed("127.0.0.1:5000", "localhost:5001")
    assert Keychain().token_host_allowed("docker.io", "auth.docker.io")


# ------------------------------------------------------------------------------ the registry client


def test_an_allowed_but_unconfigured_host_gets_no_credentials(
    registry: Registry, seeder: Seeder, recording_proxy, unique_repo: str, tmp_path: Path
) -> None:
    """The same registry behind a proxy on another host: REGISTRY_* and config.json are for `registry` only."""
    seeder.image(registry.ref(f"{unique_repo}/x:1"), [random_layer(256)])
    proxy: RecordingProxy = recording_proxy(registry.host)
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {registry.host: {"auth": base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()}}})
    )  # fmt: skip
    env = {**registry.env, "DOCKER_CONFIG": str(tmp_path),
           "RELEASE_SOURCE_REGISTRIES": f"{registry.host}/,{proxy.other_name}/"}  # fmt: skip
    cfg = Config.from_env(env, repo_root=tmp_path)
    client = RegistryClient(make_session(), Keychain(username=cfg.registry_username, password=cfg.registry_password,
                                                     hosts=(registry.host,), docker_config=tmp_path))  # fmt: skip
    with pytest.raises(RegistryAuthError, match=f"{proxy.host} asks for credentials"):
        client.head_manifest(ImageRef.parse(f"{proxy.host}/{unique_repo}/x:1"))
    assert proxy.seen and proxy.authorizations() == [None] * len(proxy.seen)
    assert client.head_manifest(registry.ref(f"{unique_repo}/x:1")) is not None  # its own host: it works


def test_an_upload_location_on_another_host_gets_no_authorization(
    registry: Registry, recording_proxy, unique_repo: str
) -> None:
    proxy: RecordingProxy = recording_proxy(registry.host, upload_location_host=None)
    proxy.upload_location_host = proxy.other_name  # the registry hands out uploads on "another host"
    client = RegistryClient(make_session(), Keychain(username=registry.username, password=Secret(registry.password),
                                                     hosts=(proxy.host,)))  # fmt: skip
    with pytest.raises(RegistryAuthError) as e:
        client.push_blob(ImageRef.parse(f"{proxy.host}/{unique_repo}/x"), b"some layer bytes")
    assert "\n" not in str(e.value) and f"go to {proxy.host} only" in str(e.value)
    elsewhere = proxy.requests_to(proxy.other_name)
    assert [s.method for s in elsewhere] == ["PUT"] and elsewhere[0].authorization is None
    assert _basic(registry) in proxy.authorizations(proxy.host)  # the registry's own host did get them


def test_a_blob_redirected_to_a_storage_host_is_fetched_without_authorization(
    registry: Registry, registry2: Registry, recording_proxy, unique_repo: str, caplog: pytest.LogCaptureFixture
) -> None:
    from release.redact import install_log_redaction

    proxy: RecordingProxy = recording_proxy(registry.host, storage_credentials=(registry.username, registry.password))
    proxy.blob_redirect_host = proxy.other_name
    src = ImageRef.parse(f"{proxy.host}/{unique_repo}/ci:1")
    Seeder(registry.client()).image(registry.ref(f"{unique_repo}/ci:1"), [random_layer(4096), random_layer(512)])

    class Both:
        def resolve(self, host: str):  # type: ignore[no-untyped-def]
            return {proxy.host: Keychain(username=registry.username, password=Secret(registry.password),
                                         hosts=(proxy.host,)), registry2.host: registry2.keychain()}.get(host, Keychain()).resolve(host)  # fmt: skip

        def token_host_allowed(self, registry: str, token_host: str) -> bool:
            return False

    install_log_redaction()
    caplog.set_level("DEBUG")
    client = RegistryClient(make_session(), Both())
    result = client.copy(src, registry2.ref(f"{unique_repo}/dev:1"))
    assert result.blobs_uploaded == 3
    storage = [s for s in proxy.seen if s.path.startswith("/_storage/")]
    assert len(storage) == 3 and all(s.authorization is None and s.host == proxy.other_name for s in storage)
    assert "Redirecting" in caplog.text or "_storage" in caplog.text
    assert "f00dfeedcafe" not in caplog.text and "X-Amz-Signature" not in caplog.text


def test_a_token_server_over_plain_http_off_loopback_is_refused(recording_server) -> None:
    registry = recording_server(
        RawReply(401, {"WWW-Authenticate": 'Bearer realm="http://auth.example.com/token",service="r"'})
    )
    chain = Keychain(username="u", password=Secret("s3cret-pw"), hosts=(registry.host,))
    client = RegistryClient(make_session(), chain)
    with pytest.raises(RegistryAuthError, match="plain http on auth.example.com") as e:
        client.head_manifest(ImageRef.parse(f"{registry.host}/a/b:1"))
    assert "s3cret" not in str(e.value)
    assert registry.authorizations() == [None]  # one unauthenticated request, then the refusal


def test_a_token_server_on_another_host_gets_no_credentials(recording_server) -> None:
    tokens = recording_server(RawReply(200, {"Content-Type": "application/json"}, b'{"token": "anon-token"}'))
    registry = recording_server(
        RawReply(401, {"WWW-Authenticate": f'Bearer realm="http://{tokens.other_name}/token",service="r"'})
    )
    chain = Keychain(username="u", password=Secret("s3cret-pw"), hosts=(registry.host,))
    client = RegistryClient(make_session(), chain)
    with pytest.raises(RegistryAuthError):
        client.head_manifest(ImageRef.parse(f"{registry.host}/a/b:1"))
    # asked anonymously (each time: the ping's challenge, then the refused request's): the credential belongs to
    # the registry's host
    assert tokens.authorizations() and set(tokens.authorizations()) == {None}
    assert set(registry.authorizations()) <= {None, "Bearer anon-token"}


def test_the_token_server_of_the_registrys_own_host_gets_the_credentials(token_registry, unique_repo: str) -> None:
    reg, tokens = token_registry
    tokens.authorizations.clear()
    assert reg.client().head_manifest(reg.ref(f"{unique_repo}/x:1")) is None
    assert tokens.authorizations == [_basic(reg)]  # 127.0.0.1, another port: the same host


def test_redirects_drop_authorization_whenever_the_origin_changes() -> None:
    session = make_session()
    for old, new, kept in [
        ("https://ghcr.io/v2/a", "https://ghcr.io/v2/b", True),
        ("https://ghcr.io/v2/a", "https://ghcr.io:443/v2/b", True),
        ("http://ghcr.io/v2/a", "https://ghcr.io/v2/b", False),  # requests itself would keep it
        ("https://ghcr.io/v2/a", "https://ghcr.io:8443/v2/b", False),
        ("https://ghcr.io/v2/a", "https://pkg-containers.githubusercontent.com/x?sig=1", False),
    ]:
        prepared = requests.Request("GET", new, headers={"Authorization": "Bearer t"}).prepare()
        response = requests.Response()
        response.request = requests.Request("GET", old).prepare()
        session.rebuild_auth(prepared, response)
        assert ("Authorization" in prepared.headers) is kept, (old, new)
        assert same_origin(new, old) is kept


def test_a_redirect_to_plain_http_off_loopback_is_refused(recording_server) -> None:
    registry = recording_server(RawReply(307, {"Location": "http://storage.example.com/blob"}))
    client = RegistryClient(make_session(), Keychain())
    with pytest.raises(RegistryError, match="plain http") as e:
        client.head_manifest(ImageRef.parse(f"{registry.host}/a/b:1"))
    assert "Traceback" not in str(e.value)


# ------------------------------------------------------------------------------ GitHub


def _github(server: GitHubServer, token: str) -> wiring.GitHubClient:
    cfg = Config.from_env({"GITHUB_API_URL": server.api_url, "GH_PAT": token}, repo_root=Path.cwd())
    return wiring.ci_github_client(cfg)


def test_github_link_next_to_another_host_is_not_followed(github_factory) -> None:
    server = github_factory(generate_history(runs=1, seed=1))
    elsewhere = server.api_url.replace("127.0.0.1", "localhost")
    server.add_route("GET", "/repos/{owner}/{repo}/releases",
                     lambda srv, r: Reply(200, [], headers={"Link": f'<{elsewhere}/repos/o/r/releases?page=2>; rel="next"'}))  # fmt: skip
    from release.github_types import RepoRef

    with pytest.raises(GitHubError, match="refusing to follow it"):
        _github(server, server.token).list_releases(RepoRef("o", "r"))
    assert [s for s in server.seen if s.host.startswith("localhost")] == []


def test_github_redirect_to_another_host_carries_no_token(github_factory) -> None:
    server = github_factory(generate_history(runs=1, seed=1))
    elsewhere = server.api_url.replace("127.0.0.1", "localhost")
    server.add_route("GET", "/repos/{owner}/{repo}/commits/{ref}",
                     lambda srv, r: Reply(301, None, raw=b"", headers={"Location": f"{elsewhere}/moved"}))  # fmt: skip
    from release.github_types import RepoRef

    with pytest.raises(GitHubError):
        _github(server, server.token).get_commit(RepoRef("o", "r"), "abc")
    moved = [s for s in server.seen if s.host.startswith("localhost")]
    assert moved and all(s.authorization is None for s in moved)


def test_each_token_role_reaches_its_own_routes(github_project: GitHubProject) -> None:
    cfg = Config.from_env(github_project.env, repo_root=Path.cwd())
    history = github_project.server.history
    from release.github_types import RepoRef

    ci = RepoRef(history.owner, history.repo)
    wiring.ci_github_client(cfg).get_run(ci, history.runs[0].id)
    wiring.project_github_client(cfg).list_pulls(github_project.repo, head="tenstorrent:x", base="dev")
    server = github_project.server
    assert set(server.authorizations(f"/repos/{ci.owner}/{ci.name}/")) == {f"Bearer {CI_TOKEN}"}
    assert set(server.authorizations("/repos/tenstorrent/tt-inference-server/")) == {f"Bearer {TOKEN}"}


def test_missing_tokens_name_the_role_variables(tmp_path: Path) -> None:
    from release.errors import ConfigError

    cfg = Config.from_env({}, repo_root=tmp_path)
    with pytest.raises(ConfigError, match=r"GH_PAT \(or GITHUB_TOKEN\)"):
        cfg.require_ci_token("Actions: read")
    with pytest.raises(ConfigError, match=r"GITHUB_TOKEN \(or GH_PAT\)"):
        cfg.require_project_token("Contents: write")


def test_the_workflow_gives_each_role_its_token_and_keeps_tt_shield_data_in() -> None:
    from tests.conftest import REPO_ROOT

    text = (REPO_ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "GH_PAT: ${{ secrets.TT_SHIELD_READ_TOKEN }}" in text
    assert "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}" in text
    upload = text[text.index("uses: actions/upload-artifact") :]
    assert "release_logs/\n" in upload and "!release_logs/ci_run_logs/" in upload


def test_every_variable_the_kit_reads_passes_through_nox() -> None:
    """noxfile.py passes release/environment.py's list through; that file imports nothing, so nox (which runs
    without the kit's packages) can import it."""
    from release.environment import ENV_VARIABLES
    from tests.conftest import REPO_ROOT

    noxfile = (REPO_ROOT / "noxfile.py").read_text()
    assert "RELEASE_SOURCE_REGISTRIES" in ENV_VARIABLES
    assert "from release.environment import ENV_VARIABLES" in noxfile and "*ENV_VARIABLES" in noxfile
    source = (REPO_ROOT / "release" / "environment.py").read_text()
    assert not [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    code = "import sys, release.environment; print(sorted(m for m in sys.modules if m.startswith('release')))"
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "['release', 'release.environment']", out.stderr
