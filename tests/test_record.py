"""One source of truth for the release's images: the summary after builds, the record made from it, and the
release notes rendered from the record (pure; golden files)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from release import artifacts_summary, notes, record
from release.errors import InputError

GOLDEN = Path(__file__).parent / "golden"
PREFIX = "ghcr.io/tenstorrent/tt-inference-server/vllm-tt-metal-src-dev-ubuntu-22.04-amd64:0.6.0-"
BUILT = {
    PREFIX + "bbbbbbb-3333333": {"digest": "sha256:" + "b" * 64, "build_log": "workflow_logs/docker_build_logs/b.log"},
    PREFIX + "ccccccc-4444444": {"digest": "sha256:" + "c" * 64},  # built by an earlier, resumed run: no log
}


def promoted_json() -> dict:
    """A promotion summary with every kind of image (the golden file of tests/test_promotion.py)."""
    return json.loads((GOLDEN / "promote" / "dev_artifacts_summary.json").read_text())


def promoted_summary() -> artifacts_summary.ArtifactsSummary:
    return artifacts_summary.parse(promoted_json(), source="dev_artifacts_summary.json")


def test_the_summary_reads_back_as_written_and_renders_its_markdown() -> None:
    """One reader, one writer, one renderer: the JSON read back writes the same JSON and renders the markdown."""
    assert promoted_summary().to_json() == promoted_json()
    expected = (GOLDEN / "promote" / "dev_artifacts_summary.md").read_text()
    assert artifacts_summary.render(promoted_summary()) == expected


def test_built_images_leave_images_to_build_for_a_built_section(golden) -> None:
    after = promoted_summary().with_builds(BUILT)
    assert after.images_to_build == (PREFIX + "9999999-8888888",)
    assert after.built == {dst: info["digest"] for dst, info in BUILT.items()}
    counts = after.to_json()["summary"]
    assert counts["total_to_build"] == 1 and counts["total_built"] == 2
    entry = after.images[PREFIX + "bbbbbbb-3333333"]
    assert entry.result == "built" and entry.build_log == "workflow_logs/docker_build_logs/b.log"
    assert after.with_builds(BUILT) == after  # applying the same builds again: no change
    assert promoted_summary().with_builds({}) == promoted_summary()
    assert artifacts_summary.parse(after.to_json(), source="x") == after
    markdown = artifacts_summary.render(after)
    builds = markdown.split("## Docker Images Requiring New Builds")[1].split("## Images Built by the Release Kit")[0]
    assert "bbbbbbb" not in builds and "9999999" in builds
    golden.check("promote/dev_artifacts_summary_after_builds.md", markdown)


def test_record_images_come_from_the_summary_and_survive_a_round_trip() -> None:
    images = record.images_from_summary(promoted_summary().with_builds(BUILT))
    hows = {i.destination.rsplit(":", 1)[1]: i.how for i in images}
    assert hows == {
        "0.6.0-9999999-8888888": "needs build",
        "0.6.0-aaaaaaa-1111111": "promoted",
        "0.6.0-bbbbbbb-3333333": "built",
        "0.6.0-ccccccc-4444444": "built",
        "0.6.0-ddddddd-5555555": "existing",
        "0.6.0-fffffff-7777777": "copy failed",
        "0.6.0-v0.61.1-rc1-2222222": "conflict",
        "0.5.0-e95ffa59adbe39237525161272141cbbb603c686": "existing",
    }
    by_how = {i.how: i for i in images}
    assert by_how["needs build"].digest is None and by_how["copy failed"].digest is None
    assert by_how["promoted"].ci_run_url and by_how["promoted"].source
    rec = make_record(images)
    assert record.ReleaseRecord.from_json(json.loads(json.dumps(rec.to_json())), source="r.json") == rec


def make_record(images: tuple[record.RecordImage, ...]) -> record.ReleaseRecord:
    return record.ReleaseRecord(
        version="0.6.0",
        created_at="2026-01-02T03:04:05Z",
        tool_version="0.1.0",
        tag="v0.6.0",
        commit="f" * 40,
        remote="origin",
        remote_url="https://github.com/tenstorrent/tt-inference-server.git",
        branches={"pre-release-v0.6.0": "e" * 40, "rc-v0.6.0": "f" * 40},
        catalogue_path="workflows/model_specs.toml",
        catalogue_sha256="0" * 64,
        last_good="release_logs/models_ci_last_good_230_to_236.json",
        ci_runs=(notes.CiRunRef("18247117045", "236", "https://github.com/tenstorrent/tt-shield/actions/runs/1"),),
        images=images,
        pull_requests={"prerelease": ["https://github.com/t/r/pull/1"], "rc": None},
    )


def test_release_notes_list_exactly_the_records_images(golden) -> None:
    summary = promoted_summary().with_builds(BUILT)
    summary = dataclasses.replace(  # the release ran to its end: everything was built
        summary, images_to_build=(), images={k: v for k, v in summary.images.items() if "9999999" not in k}
    )
    rec = make_record(record.images_from_summary(summary))
    text = notes.render_release_notes(
        notes.NotesInput(
            version=rec.version,
            tag=rec.tag,
            commit=rec.commit,
            commit_note="head of rc-v0.6.0; the tag goes on its merge commit into main",
            ci_runs=rec.ci_runs,
            firmware={"18.0.1": 2, "18.0.10": 1, "18.0.2": 1, "18.0.9": 1, notes.UNKNOWN: 1},
            kmd={"2.4.1": 6},
            changes=[],
            waivers=[],
            images=record.released_images(rec.images),
        )
    )
    table = [line for line in text.split("## Release images")[1].splitlines() if line.startswith("| ")][1:]
    assert len(table) == len(rec.images)
    for image in rec.images:
        [row] = [r for r in table if f"`{image.destination}`" in r or f"[{image.destination}]" in r]
        assert row.endswith(f"| {image.how} |") and (image.digest or notes.UNKNOWN) in row
    golden.check("gitflow/release_notes_from_record.md", text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"images": []}, "version: missing"),
        ({"version": "0.6.0"}, "images: missing"),
        ({"version": "0.6.0", "images": [{"digest": "sha256:x"}]}, r"images\[0\].destination: missing"),
        ([], "version: missing"),
    ],
)
def test_a_file_that_is_not_a_record_is_refused_by_name(data, message) -> None:
    with pytest.raises(InputError, match=message):
        record.ReleaseRecord.from_json(data, source="release_logs/release_record_v0.6.0.json")


def test_a_kept_conflict_is_an_image_and_a_decision_of_the_record() -> None:
    """--keep-existing: the destination as it was is the released image ("kept"), and the decision is recorded."""
    kept_json = json.loads((GOLDEN / "promote" / "dev_artifacts_summary_kept.json").read_text())
    kept = artifacts_summary.parse(kept_json, source="dev_artifacts_summary_kept.json")
    assert kept.to_json() == kept_json
    images = record.images_from_summary(kept)
    (image,) = [i for i in images if i.how == "kept"]
    (conflict,) = kept_json["conflicts"]
    assert image.destination == conflict["dst"] and image.digest == conflict["dst_digest"]
    (decision,) = record.decisions_from_summary(kept, step="images.promote --dev")
    assert (decision.decision, decision.kept_digest, decision.ci_digest) == (
        "kept",
        conflict["dst_digest"],
        conflict["src_digest"],
    )
    assert record.decisions_from_summary(promoted_summary(), step="images.promote --dev") == []  # undecided
    rec = dataclasses.replace(make_record(images), decisions=(decision,))
    assert rec.to_json()["decisions"][0]["decision"] == "kept"
    assert record.ReleaseRecord.from_json(json.loads(json.dumps(rec.to_json())), source="r.json") == rec
