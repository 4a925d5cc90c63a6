"""Checks shared by the end-to-end tests: every output of a release agrees with its release record."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path


def notes_images(notes_text: str) -> dict[str, tuple[str, str]]:
    """{image: (digest, state)} from the release notes' image table."""
    section = notes_text.split("## Release images")[1]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # [0] is the header
    out = {}
    for row in rows:
        image, digest, _source, state = (c.strip() for c in row.strip("|").split("|"))
        link = re.fullmatch(r"\[(.+?)\]\(.+\)", image)
        out[link[1] if link else image.strip("`")] = (digest.strip("`"), state)
    return out


def assert_outputs_agree_with_the_record(
    logs: Path, version: str, *, digest_of: Callable[[str], str | None] | None = None
) -> dict:
    """The release notes and the release artifacts summary say what release_record_vX.Y.Z.json says: the same
    images with the same digests and states, the record's commit, no image left "needs build". Returns the record."""
    record = json.loads((logs / f"release_record_v{version}.json").read_text())
    notes_text = (logs / f"release_notes_v{version}.md").read_text()
    assert notes_images(notes_text) == {i["destination"]: (i["digest"], i["how"]) for i in record["images"]}
    assert "needs build" not in notes_text and "| Commit | UNKNOWN" not in notes_text
    assert f"| Commit | `{record['git']['commit'][:12]}` (head of rc-v{version};" in notes_text
    summary = json.loads((logs / "release_artifacts_summary.json").read_text())
    built = {i["destination"]: i["digest"] for i in record["images"] if i["how"] == "built"}
    assert summary["built_images"] == built and summary["images_to_build"] == []
    summary_md = (logs / "release_artifacts_summary.md").read_text()
    for image, digest in built.items():
        assert f"{image}\n  - digest: `{digest}`" in summary_md.split("## Images Built by the Release Kit")[1]
        if digest_of is not None:
            assert digest == digest_of(image)
    return record
