"""Job-log parsing (release/ci_logs.py): the rules of §3.8 on hostile input, in linear time and a bounded window."""

from __future__ import annotations

import json
import time

import pytest

from release import ci_logs
from release.ci_logs import JobLogInfo
from release.sim.hostile import hostile_log

TS = "2025-10-01T03:00:00.1234567Z "
GOOD = {"host_info": {"Driver": "TT-KMD 2.4.1"}, "device_info": [{"firmwares": {"fw_bundle_version": "18.1"}}]}


def log(*lines: str) -> bytes:
    return "".join(f"{TS}{line}\n" for line in lines).encode()


def block(value: object = GOOD) -> list[str]:
    return json.dumps(value, indent=2).splitlines()


def test_a_10_mb_hostile_log_parses_in_linear_time():
    data = hostile_log(10 << 20, runner="tt-runner-01", fw="18.9.9")
    start = time.perf_counter()
    info = ci_logs.parse_job_log(data)
    elapsed = time.perf_counter() - start
    print(f"\nhostile job log: {len(data) / 1e6:.1f} MB parsed in {elapsed:.3f}s")
    assert elapsed < 2.0  # generous for a shared 2-core machine; the bench records the real number
    assert (info.runner_name, info.firmware_bundle, info.kmd_version) == ("tt-runner-01", "18.9.9", "9.9.9")
    assert info.docker_image is None  # the Inputs group never closes and has no image line


@pytest.mark.parametrize(
    ("line", "runner"),
    [
        ("Runner name: 'tt-n150-07'", "tt-n150-07"),
        ('  Runner name:   "quoted"   ', "quoted"),
        ("Runner name:" + " " * 200_000 + "x" + " " * 200_000, "x"),  # once quadratic
        ("Runner name:" + " " * 200_000, None),  # no value: keep looking
        ("xx Runner name: later", None),  # not at the start of the line
    ],
)
def test_runner_name(line, runner):
    start = time.perf_counter()
    assert ci_logs.parse_job_log(log(line)).runner_name == runner
    assert time.perf_counter() - start < 0.5


def test_colour_escapes_are_removed_and_unterminated_ones_cost_nothing():
    data = log(
        "\x1b[36;1mRunner name: 'r1'\x1b[0m", "\x1b]0;title\x07##[group] Inputs", "  image: img:1", "##[endgroup]"
    )
    info = ci_logs.parse_job_log(data)
    assert (info.runner_name, info.docker_image) == ("r1", "img:1")
    hostile = ("\x1b]" * 300_000 + "\x1b[" + "1;" * 300_000).encode()
    start = time.perf_counter()
    assert ci_logs.parse_job_log(hostile) == JobLogInfo()
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("lines", "image"),
    [
        (["##[group] Inputs", "  image: a:1", "##[endgroup]"], "a:1"),
        (["##[group]Inputs", "image:   b:2  ", "##[endgroup]"], "b:2"),
        (["##[group] Inputs", "image: two words", "image: c:3", "##[endgroup]"], "c:3"),
        (["##[group] Inputs", "##[endgroup]", "image: late:1"], None),
        (["image: outside:1"], None),
    ],
)
def test_inputs_image(lines, image):
    assert ci_logs.parse_job_log(log(*lines)).docker_image == image


def test_tt_smi_blocks():
    parse = ci_logs.parse_job_log
    assert parse(log("+ tt-smi-metal -s", *block())).firmware_bundle == "18.1"
    # a malformed block, then a good one after the next tt-smi line (the bad block is interrupted by it)
    bad = ["+ tt-smi-metal -s", "{", '  "host_info": {"Driver": ', "}", "retrying"]
    assert parse(log(*bad, "+ tt-smi-metal -s", *block())).kmd_version == "2.4.1"
    # the first good block wins; a block without its own tt-smi line is ignored
    other = {"host_info": {"Driver": "TT-KMD 0.0.1"}}
    assert parse(log("+ tt-smi-metal -s", *block(), "+ tt-smi-metal -s", *block(other))).kmd_version == "2.4.1"
    assert parse(log(*block(), "+ tt-smi-metal -s")).tt_smi is None
    # a JSON block that closes but is not valid JSON, then nothing
    assert parse(log("+ tt-smi-metal -s", "{", "not json", "}")).tt_smi is None
    # device_info is dropped from what is kept
    info = parse(log("+ tt-smi-metal -s", *block()))
    assert info.tt_smi == {"host_info": {"Driver": "TT-KMD 2.4.1"}}


def test_a_json_block_is_capped():
    big = {"host_info": {"Driver": "TT-KMD 1"}, "pad": ["x" * 100] * 3000}
    lines = ["+ tt-smi-metal -s", *block(big)]
    assert ci_logs.parse_job_log(log(*lines), max_block=100_000).tt_smi is None
    assert ci_logs.parse_job_log(log(*lines), max_block=1_000_000).kmd_version == "1"


def test_deeply_nested_json_is_not_a_crash():
    lines = ["+ tt-smi-metal -s", "{", '"a": ' + "[" * 100_000 + "]" * 100_000, "}"]
    assert ci_logs.parse_job_log(log(*lines)).tt_smi is None


def test_only_the_window_is_parsed():
    head = log("Runner name: head-runner")
    middle = log("+ tt-smi-metal -s", *block()) + b"x" * 5000
    tail = log("+ tt-smi-metal -s", *block({"host_info": {"Driver": "TT-KMD 7"}}))
    data = head + b"y" * 3000 + middle + tail
    info = ci_logs.parse_job_log(data, head=len(head) + 100, tail=len(tail))
    assert info.runner_name == "head-runner" and info.kmd_version == "7"  # the middle block was not seen
    window = ci_logs.log_window(data, len(head), len(tail))
    assert ci_logs.log_window(window, len(head), len(tail)) == window  # reading a window again changes nothing


def test_crlf_and_bad_bytes():
    data = b"2025-10-01T03:00:00Z Runner name: r9\r\n\xff\xfe\r\n"
    assert ci_logs.parse_job_log(data).runner_name == "r9"
