"""Hostile Models CI data for tests, benchmarks and demos: zip bombs, zips that cannot be extracted, and job logs
built to make a naive parser slow. Standard library only; everything is generated, never stored.

- `zip_bomb(size)`: an artifact whose `logs/zeros.bin` inflates to `size` bytes of zeros (deflate: ~1000:1, so
  600 MB is < 1 MB on the wire), built in chunks (never `size` bytes in memory).
- `lying_zip(declared, actual)`: a member whose central directory claims `declared` bytes but holds `actual`.
- `clash_zip()`: `report` is both a file and a folder. `long_name_zip(n)`: a member name part of n characters.
  `dot_zip()`: a member named `.`.
- `hostile_log(size)`: a timestamped job log of about `size` bytes: a `Runner name:` line padded with spaces,
  an Inputs group that never closes, thousands of `tt-smi-metal -s` + `{` pairs whose blocks never close,
  unterminated colour and OSC escapes; and, last, one good tt-smi block (the answer a parser must still find).
- `make_hostile(run)`: turns a SimRun's first `workflow_logs_*` artifacts into the above, and gives the jobs of
  some others a hostile log (the "done when" history of the trust issue).
"""

from __future__ import annotations

import functools
import io
import json
import struct
import zipfile
from collections.abc import Mapping

from release.sim.history import SimRun

ZIP_TIME = (2025, 10, 1, 0, 0, 0)
CHUNK = 1 << 20


def _zip(files: Mapping[str, bytes], extra: list[tuple[zipfile.ZipInfo, bytes]] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
        for info, data in extra or ():
            zf.writestr(info, data)
    return buf.getvalue()


def zip_bomb(size: int, files: Mapping[str, bytes] | None = None, *, name: str = "logs/zeros.bin") -> bytes:
    """A zip with `files` plus a member `name` of `size` zero bytes, compressed in chunks."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for member, data in (files or {}).items():
            zf.writestr(zipfile.ZipInfo(member, ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo(name, ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size = size
        zeros = bytes(CHUNK)
        with zf.open(info, "w") as fh:
            left = size
            while left > 0:
                fh.write(zeros[: min(left, CHUNK)])
                left -= CHUNK
    return buf.getvalue()


def lying_zip(declared: int, actual: int, *, name: str = "logs/liar.bin") -> bytes:
    """A member of `actual` zero bytes whose central directory entry says `declared` (the local header too)."""
    data = bytearray(zip_bomb(actual, name=name))
    for sig, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):  # uncompressed size in each header
        pos = data.find(sig)
        struct.pack_into("<I", data, pos + offset, declared)
    return bytes(data)


def clash_zip(files: Mapping[str, bytes] | None = None) -> bytes:
    """`report` is a file and also the folder of `report/data.json`."""
    return _zip({**(files or {}), "report": b"a file", "report/data.json": b"{}"})


def long_name_zip(length: int = 300, files: Mapping[str, bytes] | None = None) -> bytes:
    """A member whose file name (one path part) is `length` characters long."""
    return _zip({**(files or {}), f"logs/{'n' * length}.txt": b"long name"})


def dot_zip(files: Mapping[str, bytes] | None = None) -> bytes:
    """A member named `.` (and one `a/./b`)."""
    return _zip({**(files or {}), ".": b"dot", "a/./b": b"dot part"})


def _stamp(i: int) -> str:
    return f"2025-10-01T03:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 10}000000Z "


def hostile_log(size: int = 10 << 20, *, runner: str = "tt-hostile-runner", fw: str = "18.9.9") -> bytes:
    """About `size` bytes of log that is slow for a quadratic parser, ending with a good tt-smi block."""
    good = {
        "host_info": {"OS": "Linux", "Driver": "TT-KMD 9.9.9"},
        "device_info": [{"firmwares": {"fw_bundle_version": fw}}],
    }
    head = [
        f"Runner name: '{runner}'",
        "Runner name:" + " " * 50_000 + "x" + " " * 50_000 + "\t",
        "##[group] Inputs",
        "  model: hostile",
        "\x1b[" + "1;" * 20_000,  # a colour escape that never ends
        "\x1b]8;;" + "u" * 20_000,  # an OSC string without BEL
    ]
    tail = ["\x1b[36;1m+ tt-smi-metal -s\x1b[0m", *json.dumps(good, indent=2).splitlines(), "Post job cleanup."]
    lines = [_stamp(i) + text for i, text in enumerate(head)]
    used = sum(len(line) + 1 for line in lines) + 1024
    pattern = [
        "\x1b[36;1m+ tt-smi-metal -s\x1b[0m",
        "{",
        '  "host_info": {',
        "\x1b]0;title",
        "\x1b[" + "9" * 40,
    ]
    i = len(lines)
    while used < size:
        text = _stamp(i) + pattern[i % len(pattern)]
        lines.append(text)
        used += len(text) + 1
        i += 1
    lines += [_stamp(i + k) + text for k, text in enumerate(tail)]
    return ("\n".join(lines) + "\n").encode()


def make_hostile(
    run: SimRun,
    *,
    bomb_size: int = 600_000_000,
    name_length: int = 300,
    log_size: int = 10 << 20,
    hostile_logs: int = 3,
) -> dict[str, str]:
    """Make `run` hostile in place: its first three `workflow_logs_*` artifacts become a zip bomb of `bomb_size`
    bytes, a file/folder clash and a member name of `name_length` characters; the jobs of the next
    `hostile_logs` artifacts get a hostile log of `log_size` bytes (runner = the job's runner, firmware
    `hostile-{job id}`). Returns {artifact name: "bomb" | "clash" | "long-name" | "hostile-log"}."""
    arts = [a for a in run.artifacts if a.name.startswith("workflow_logs_")]
    jobs = [j for j in run.jobs if " / test (" in j.name or " / run-tests (" in j.name]
    builders = [
        ("bomb", lambda: zip_bomb(bomb_size)),
        ("clash", clash_zip),
        ("long-name", lambda: long_name_zip(name_length)),
    ]
    kinds: dict[str, str] = {}
    for art, (kind, build) in zip(arts, builders, strict=False):
        art._content = functools.cache(build)
        kinds[art.name] = kind
    for art, job in list(zip(arts, jobs, strict=False))[len(builders) : len(builders) + hostile_logs]:
        log = functools.partial(hostile_log, log_size, runner=job.runner_name or "?", fw=f"hostile-{job.id}")
        job._log = functools.cache(log)
        kinds[art.name] = "hostile-log"
    return kinds
