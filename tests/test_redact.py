"""One redaction for every URL the kit prints, writes or logs: no user information, no signed query string."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release.build.tt_metal import CommitResolver
from release.errors import BuildError
from release.git import Git
from release.redact import redact_text, redact_url
from tests.conftest import REPO_ROOT
from tests.services.recording import Reply


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:ghp_secret@github.com/tenstorrent/tt-metal.git", "https://<redacted>@github.com/tenstorrent/tt-metal.git"),
        ("https://ghp_secret@github.com/a.git", "https://<redacted>@github.com/a.git"),
        ("https://u:p%40ss@h:8443/x", "https://<redacted>@h:8443/x"),
        ("https://s3.amazonaws.com/b/k?X-Amz-Signature=abc&X-Amz-Date=1", "https://s3.amazonaws.com/b/k"),
        ("https://acct.blob.core.windows.net/c/b?sv=2020&se=2030&sp=r&sig=abc", "https://acct.blob.core.windows.net/c/b"),
        ("https://storage.googleapis.com/b/o?X-Goog-Signature=abc", "https://storage.googleapis.com/b/o"),
        ("https://ghcr.io/v2/a/blobs/uploads/u?_state=signed-state&digest=sha256:1", "https://ghcr.io/v2/a/blobs/uploads/u"),
        ("https://api.github.com/x?token=abc", "https://api.github.com/x"),
        ("https://api.github.com/repos/a/b/actions/runs?per_page=100&page=2",
         "https://api.github.com/repos/a/b/actions/runs?per_page=100&page=2"),
        ("https://github.com/tenstorrent/tt-metal.git", "https://github.com/tenstorrent/tt-metal.git"),
        ("/tmp/tt-metal", "/tmp/tt-metal"),
    ],
)  # fmt: skip
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_without_any_query() -> None:
    assert (
        redact_url("http://127.0.0.1:5000/v2/x/tags/list?n=1000", query=False) == "http://127.0.0.1:5000/v2/x/tags/list"
    )


def test_redact_text_finds_urls_and_request_targets() -> None:
    text = ('cannot fetch https://me:tok3n@git.example.com/tt-metal.git; '
            '127.0.0.1:1 "GET /blob/1?X-Amz-Signature=f00d HTTP/1.1" 200; see /runs?page=2')  # fmt: skip
    out = redact_text(text)
    assert "tok3n" not in out and "f00d" not in out
    assert "https://<redacted>@git.example.com/tt-metal.git" in out and '"GET /blob/1 HTTP/1.1"' in out
    assert "/runs?page=2" in out  # an unsigned query stays where messages show it
    assert "?page=2" not in redact_text(text, query=False)


_secretish = st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=8, max_size=30).filter(
    lambda s: s.isalnum()
)


@settings(max_examples=200, deadline=2000, derandomize=True, database=None)
@given(_secretish, _secretish, st.sampled_from(["X-Amz-Signature", "sig", "token", "X-Goog-Credential", "_state"]),
       st.sampled_from(["https", "http", "git+https"]), st.text(" ,;()[]<>\"'", max_size=10))  # fmt: skip
def test_fuzz_no_secret_survives(password: str, signature: str, key: str, scheme: str, noise: str) -> None:
    url = f"{scheme}://someone:{password}@host.example:8443/path/x?a=1&{key}={signature}"
    for out in (
        redact_url(url),
        redact_text(f"{noise} {url} {noise}"),
        redact_text(f'"GET /p?{key}={signature} HTTP/1.1"'),
    ):
        assert password not in out and signature not in out


# ------------------------------------------------------------------------------ where URLs are printed


def test_tt_metal_repo_credentials_do_not_reach_errors(tmp_path: Path) -> None:
    url = "http://builder:ghp_tt_metal_secret@127.0.0.1:9/tt-metal.git"
    resolver = CommitResolver(lambda p: Git(p), url=url, cache_dir=tmp_path / "cache" / "tt-metal.git")
    with pytest.raises(BuildError) as e:
        resolver.resolve("v0.61.0")
    assert "ghp_tt_metal_secret" not in str(e.value) and "<redacted>@127.0.0.1:9" in str(e.value)


def test_debug_logging_shows_no_signed_query(recording_server) -> None:
    """RELEASE_LOG_LEVEL=DEBUG: urllib3 logs its request lines, redacted (a subprocess, as a task runs)."""
    server = recording_server(Reply(200, {"Content-Type": "text/plain"}, b"ok"))
    url = f"http://{server.host}/blob/1?X-Amz-Signature=f00dfeedcafe&X-Amz-Credential=AKIA%2Fx"
    script = (
        "import logging, sys\n"
        "from release.cli import _configure_logging\n"
        "from release.http import make_session\n"
        "_configure_logging()\n"
        f"make_session().get({url!r}).raise_for_status()\n"
        "logging.getLogger('release.test').debug('fetched %s', sys.argv[1])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "RELEASE_LOG_LEVEL": "DEBUG"}, cwd=REPO_ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"GET /blob/1 HTTP/1.1" 200' in proc.stderr  # the request line is there...
    assert "f00dfeedcafe" not in proc.stderr and "AKIA" not in proc.stderr  # ...without its signature
    assert server.seen[0].path.endswith("X-Amz-Signature=f00dfeedcafe&X-Amz-Credential=AKIA%2Fx")


def test_build_summary_errors_are_redacted() -> None:
    from release.build import report as build_report

    record = json.dumps({"error": build_report.redact_text("git fetch https://u:ghp_x1@h/r.git failed")})
    assert "ghp_x1" not in record
