"""`inv images.audit`: every documented image exists with its recorded digest (real registry)."""

from __future__ import annotations

from pathlib import Path

import requests

from release.imageref import ImageRef
from release.images import audit
from release.record import ReleaseRecord
from tests.builders import catalogue_toml, template
from tests.services.registry import random_layer
from workflows.model_spec import load_catalogue

CATALOGUE = catalogue_toml(
    template("org/present", "org/present-2", impl="media", tt_metal="e95ffa5", engine="media",
             docker_image="ghcr.io/tenstorrent/audit-present:1.0"),
    template("org/missing", impl="media", tt_metal="e95ffa5", engine="media",
             docker_image="ghcr.io/tenstorrent/audit-missing:1.0"),
)  # fmt: skip


def test_audit_catalogue_finds_the_missing_image(registry, seeder):
    rewrite = (("ghcr.io", registry.host),)
    digest = seeder.image(ImageRef.parse("ghcr.io/tenstorrent/audit-present:1.0").rewrite(rewrite), [random_layer(64)])
    cat = load_catalogue(Path("c.toml"), version="0.5.0", text=CATALOGUE)
    items = audit.plan_audit_from_catalogue(cat, dev=False, registry_map=rewrite)
    assert [i.used_by for i in items] == [
        ("id_tt-media_missing_n150",),
        ("id_tt-media_present_n150", "id_tt-media_present-2_n150"),
    ]
    findings = audit.run_audit(items, registry.client())
    by_image = {f.item.image: f for f in findings}
    assert by_image["ghcr.io/tenstorrent/audit-present:1.0"].status == "ok"
    assert by_image["ghcr.io/tenstorrent/audit-present:1.0"].found_digest == digest
    assert by_image["ghcr.io/tenstorrent/audit-missing:1.0"].status == "missing"
    assert audit.failures(findings) == ["ghcr.io/tenstorrent/audit-missing:1.0: missing (used by 1 model(s))"]


def test_audit_record_checks_digests_and_finds_a_deleted_image(registry, seeder):
    rewrite = (("ghcr.io", registry.host),)
    keep = ImageRef.parse("ghcr.io/tenstorrent/audit-rec:keep")
    gone = ImageRef.parse("ghcr.io/tenstorrent/audit-rec:gone")
    keep_digest = seeder.image(keep.rewrite(rewrite), [random_layer(32)])
    gone_digest = seeder.image(gone.rewrite(rewrite), [random_layer(32)])
    # delete the manifest the record promises
    resp = requests.delete(  # a raw DELETE, as an operator's mistake would
        f"http://{registry.host}/v2/tenstorrent/audit-rec/manifests/{gone_digest}",
        auth=(registry.username, registry.password),
        timeout=10,
    )
    assert resp.status_code == 202
    record = {"version": "0.6.0", "images": [
        {"destination": str(keep), "digest": keep_digest, "models": ["a"]},
        {"destination": str(gone), "digest": gone_digest, "models": ["b"]},
        {"destination": str(keep), "digest": "sha256:" + "0" * 64, "models": ["c"]},
    ]}  # fmt: skip
    items = audit.plan_audit_from_record(
        ReleaseRecord.from_json(record, source="record.json"), source="record.json", registry_map=rewrite
    )
    statuses = [f.status for f in audit.run_audit(items, registry.client())]
    assert statuses == ["ok", "missing", "digest differs"]


def test_unreachable_registry_is_one_clear_error():
    import socket

    import pytest

    from release.errors import RegistryError
    from release.http import make_retry, make_session
    from release.registry import RegistryClient
    from release.registry_auth import Keychain

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = RegistryClient(make_session(retry=make_retry(total=1, backoff_factor=0)), Keychain())
    with pytest.raises(RegistryError, match=f"cannot reach registry 127.0.0.1:{port}"):
        client.digest(ImageRef.parse(f"127.0.0.1:{port}/x/y:1"))
