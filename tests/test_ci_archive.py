"""Artifact zips at bounded cost: the checks on the central directory (ci_parse.plan_extraction, pure) and the
streamed extraction to disk (release/ci_archive.py), with the hostile zips of release/sim/hostile.py."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from release import ci_archive, ci_parse
from release.ci_parse import ArchiveLimits, CorruptArchive, UnsafeArchive
from release.sim import hostile

MiB = 1 << 20
SMALL = ArchiveLimits(max_member_bytes=2 * MiB, max_artifact_bytes=3 * MiB, max_parsed_file_bytes=64 * 1024)


def info(name: str, size: int = 10, *, method: int = zipfile.ZIP_DEFLATED, flags: int = 0, mode: int = 0):
    zi = zipfile.ZipInfo(name)
    zi.file_size, zi.compress_type, zi.flag_bits = size, method, flags
    zi.external_attr = mode << 16
    return zi


def make_zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("infos", "message"),
    [
        ([info("logs/zeros.bin", 3 * MiB)], "inflates to 3.0 MiB, over the 2.0 MiB limit per member"),
        ([info("a", 2 * MiB), info("b", 2 * MiB)], "more than the 3.0 MiB limit per artifact"),
        ([info("run_specs/s.json", 65 * 1024)], "files that are parsed are limited to"),
        ([info("report"), info("report/data.json")], "'report' is both a file and a folder"),
        ([info("report/data.json"), info("report")], "'report' is both a file and a folder"),
        ([info("report/"), info("report")], "both a file and a folder"),
        ([info("a/b/c"), info("a/b")], "'a/b' is both a file and a folder"),
        ([info(".")], "empty or '.' part"),
        ([info("a/./b")], "empty or '.' part"),
        ([info("a//b")], "empty or '.' part"),
        ([info("")], "empty or invalid name"),
        ([info("logs/" + "n" * 256)], "name part over 255 bytes"),
        ([info("logs/" + "é" * 128)], "name part over 255 bytes"),  # 256 bytes in UTF-8
        ([info("/".join(["d" * 200] * 6))], "over 1024"),
        ([info("x"), info("x")], "appears twice"),
        ([info("x", flags=0x1)], "is encrypted"),
        ([info("x", method=zipfile.ZIP_BZIP2)], "compression method 12"),
        ([info("x", method=99)], "compression method 99"),
        ([info("link", mode=stat.S_IFLNK | 0o777)], "symbolic link"),
        ([info("../x")], "escapes the folder"),
        ([info("/etc/x")], "absolute path"),
        ([info(f"f{i}") for i in range(11)], "11 members, over the limit of 10"),
    ],
)
def test_plan_refuses(infos, message):
    limits = ArchiveLimits(
        max_member_bytes=2 * MiB, max_artifact_bytes=3 * MiB, max_parsed_file_bytes=64 * 1024, max_members=10
    )
    with pytest.raises(UnsafeArchive, match=message.replace("(", r"\(").replace(".", r"\.")):
        ci_parse.plan_extraction(infos, limits)


def test_plan_keeps_files_in_zip_order():
    infos = [info("a/"), info("a/b/c.json"), info("a/b/d"), info("run_specs/s.json"), info("é/ü.txt")]
    assert [i.filename for i in ci_parse.plan_extraction(infos)] == [
        "a/b/c.json",
        "a/b/d",
        "run_specs/s.json",
        "é/ü.txt",
    ]


def test_long_member_names_are_shortened_in_reasons():
    with pytest.raises(UnsafeArchive) as refused:
        ci_parse.plan_extraction([info("logs/" + "n" * 300 + ".txt")])
    assert len(str(refused.value)) < 160 and "(309 characters)" in str(refused.value)


def test_directory_size_from_the_end_records():
    data = make_zip({"a": b"x", "b/c": b"y"})
    size = ci_parse.zip_directory_size(data[-ci_parse.ZIP_TAIL_BYTES :])
    assert size == sum(46 + len(n) for n in ("a", "b/c"))
    with pytest.raises(CorruptArchive, match="not a zip file"):
        ci_parse.zip_directory_size(b"PK\x03\x04 garbage")
    # a zip64 end: the EOCD says 0xFFFF entries; the zip64 record (before its locator) has the real size
    record = b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, 3, 3, 7_000_000, 100)
    locator = b"PK\x06\x07" + struct.pack("<IQI", 0, 0, 1)
    eocd = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    assert ci_parse.zip_directory_size(b"junk" + record + locator + eocd) == 7_000_000


def test_extract_streams_files_and_digests(tmp_path):
    zpath = tmp_path / "a.zip"
    zpath.write_bytes(make_zip({"run_specs/s.json": b"{}", "logs/big.bin": b"z" * (MiB + 5)}))
    digests = ci_archive.extract(zpath, tmp_path / "out", SMALL)
    assert set(digests) == {"run_specs/s.json", "logs/big.bin"}
    assert (tmp_path / "out" / "logs" / "big.bin").stat().st_size == MiB + 5


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: hostile.zip_bomb(50 * MiB), "inflates to 50 MiB"),
        (hostile.clash_zip, "both a file and a folder"),
        (lambda: hostile.long_name_zip(300), "name part over 255 bytes"),
        (hostile.dot_zip, "empty or '.' part"),
    ],
)
def test_hostile_zips_are_refused_before_anything_is_written(tmp_path, build, message):
    zpath = tmp_path / "a.zip"
    zpath.write_bytes(build())
    with pytest.raises(UnsafeArchive, match=message):
        ci_archive.extract(zpath, tmp_path / "out", SMALL)
    assert not (tmp_path / "out").exists()


def test_a_lying_header_cannot_inflate_past_its_declared_size(tmp_path):
    zpath = tmp_path / "a.zip"
    zpath.write_bytes(hostile.lying_zip(declared=1000, actual=20 * MiB))
    with pytest.raises((UnsafeArchive, CorruptArchive)):
        ci_archive.extract(zpath, tmp_path / "out", SMALL)
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= 1000


def test_garbage_and_truncated_zips_are_corrupt(tmp_path):
    good = make_zip({"a": b"x" * 1000})
    for data in (b"not a zip", good[: len(good) // 2], good[:30] + b"\xff" * 40 + good[70:]):
        zpath = tmp_path / "a.zip"
        zpath.write_bytes(data)
        with pytest.raises(CorruptArchive):
            ci_archive.extract(zpath, tmp_path / "out", SMALL)


def test_a_directory_over_its_limit_is_refused_before_zipfile_reads_it(tmp_path):
    zpath = tmp_path / "a.zip"
    zpath.write_bytes(make_zip({f"f{i:04}": b"" for i in range(300)}))
    with pytest.raises(UnsafeArchive, match="directory is"):
        ci_archive.extract(zpath, tmp_path / "out", ArchiveLimits(max_directory_bytes=4096))


def test_a_full_disk_is_the_machines_problem_not_the_zips(tmp_path, monkeypatch):
    zpath = tmp_path / "a.zip"
    zpath.write_bytes(make_zip({"a": b"x"}))

    def open_for_reading_only(path, mode="r", *args, **kwargs):
        if "x" in mode:
            raise OSError(28, "No space left on device")
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(ci_archive, "open", open_for_reading_only, raising=False)
    with pytest.raises(ci_archive.ReleaseError, match="No space left on device; free disk space"):
        ci_archive.extract(zpath, tmp_path / "out", SMALL)


def test_in_memory_members_share_the_checks():
    assert ci_parse.zip_members(make_zip({"a/b.json": b"{}"})) == {"a/b.json": b"{}"}
    with pytest.raises(UnsafeArchive, match="both a file and a folder"):
        ci_parse.zip_members(hostile.clash_zip())


def test_zip_bomb_is_small_on_the_wire():
    assert len(hostile.zip_bomb(100 * MiB)) < 200_000


def test_paths_are_relative(tmp_path: Path):
    zpath = tmp_path / "a.zip"
    zpath.write_bytes(make_zip({"d/e.txt": b"1"}))
    ci_archive.extract(zpath, tmp_path / "out", SMALL)
    assert (tmp_path / "out" / "d" / "e.txt").read_bytes() == b"1"
