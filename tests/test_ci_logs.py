"""Job-log parsing (release/ci_logs.py): the rules of §3.8 on hostile input, in linear time and a bounded window."""

from __future__ import annotations

import json
import time

import pytest

from release import ci_logs
from release.ci_logs import JobLogInfo
from release.sim.hostile import hostile_log
from release.sim.joblogs import SimCheckout, checkout_lines

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


# ----------------------------------------------------------------------------- the project's checkout commit

SHA = "4b1f8c3d2e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
SHIELD = "9" * 40


def checkout(repo: str, sha: str, *, newer: bool, subject: str = "Fix sampler") -> list[str]:
    return checkout_lines(SimCheckout(repo, sha, newer=newer, subject=subject))


@pytest.mark.parametrize("newer", [True, False])
def test_checkout_commit_of_the_project_among_several_checkouts(newer):
    lines = [
        *checkout("tenstorrent/tt-shield", SHIELD, newer=True),
        *checkout("tenstorrent/tt-inference-server", SHA, newer=newer),
        *checkout("tenstorrent/tt-metal", "8" * 40, newer=not newer),
        "Run ./run.py",
    ]
    found = ci_logs.parse_job_log(log(*lines)).checkout
    assert found is not None
    assert found.commit == (SHA if newer else SHA[:7])  # the full SHA when the log prints it, else the prefix
    assert lines[found.line_number - 1].strip() == found.line
    assert found.line == (SHA if newer else f"HEAD is now at {SHA[:7]} Fix sampler")


@pytest.mark.parametrize(
    ("lines", "commit"),
    [
        # both: the full SHA after `git log -1 --format=%H` wins over the earlier prefix, quoted or not
        (["Syncing repository: tenstorrent/tt-inference-server", f"HEAD is now at {SHA[:7]} x",
          "[command]/usr/bin/git log -1 --format='%H'", f"'{SHA}'"], SHA),
        (["Syncing repository: TensTorrent/TT-Inference-Server", "[command]/usr/bin/git log -1 --format=%H",
          SHA.upper()], SHA),
        # the line after the command is not a SHA: the prefix stays
        (["Syncing repository: tenstorrent/tt-inference-server", f"HEAD is now at {SHA[:9]} y",
          "[command]/usr/bin/git log -1 --format=%H", "fatal: no commits", "Syncing repository: a/b",
          "HEAD is now at 1234567 other"], SHA[:9]),
        # only other repositories
        (["Syncing repository: tenstorrent/tt-shield", f"HEAD is now at {SHA[:7]} x",
          "[command]/usr/bin/git log -1 --format=%H", SHA], None),
        # a later step's `HEAD is now at` (a script's own git checkout) is not the checkout's
        (["Syncing repository: tenstorrent/tt-inference-server", "##[endgroup]", "##[group]Run ./build.sh",
          "HEAD is now at 1234567 not this"], None),
        (["HEAD is now at 1234567 before any sync"], None),
        # a project section without a commit, then the project again
        (["Syncing repository: tenstorrent/tt-inference-server", "Syncing repository: tenstorrent/tt-metal",
          "HEAD is now at 1234567 metal", "Syncing repository: tenstorrent/tt-inference-server",
          f"HEAD is now at {SHA[:7]} ours"], SHA[:7]),
        (["Syncing repository: tenstorrent/tt-inference-server", "HEAD is now at xyz1234 not hex"], None),
    ],
)  # fmt: skip
def test_checkout_commit_rules(lines, commit):
    found = ci_logs.parse_job_log(log(*lines)).checkout
    assert (found.commit if found else None) == commit


def test_checkout_of_another_project_and_in_a_hostile_log():
    lines = [*checkout("acme/server", SHA, newer=True)]
    assert ci_logs.parse_job_log(log(*lines), project="acme/server").checkout.commit == SHA
    assert ci_logs.parse_job_log(log(*lines)).checkout is None
    # a sync line repeated a million times: still one linear pass
    hostile = log("Syncing repository: tenstorrent/tt-inference-server") * 200_000 + log(*checkout(
        "tenstorrent/tt-inference-server", SHA, newer=False))  # fmt: skip
    start = time.perf_counter()
    assert ci_logs.parse_job_log(hostile).checkout.commit == SHA[:7]
    assert time.perf_counter() - start < 3.0
