"""release/sim/packages.py: the programs the tests and the demo need, installed or named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from release.errors import ServiceError
from release.sim import packages


def test_every_purpose_lists_programs_that_are_present_here() -> None:
    """`nox -s tests` ran `python -m release.sim.packages tests` first: nothing the suite starts is missing."""
    assert packages.missing(packages.NEEDS["tests"]) == []


def test_missing_and_not_allowed_to_install_is_one_line_naming_the_packages(tmp_path: Path) -> None:
    ghost = packages.Program(str(tmp_path / "no-such-program"), "no-such-package", "a program for this test")
    with pytest.raises(ServiceError) as e:
        packages.ensure([ghost, packages.GIT], install=False)
    message = str(e.value)
    assert "\n" not in message
    assert "sudo apt-get install -y no-such-package" in message and "a program for this test" in message


def test_an_unknown_purpose_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert packages.main(["nothing"]) == 2
    assert capsys.readouterr().err.startswith("error: usage: python -m release.sim.packages")


def test_nothing_missing_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages.subprocess, "run", lambda *a, **k: pytest.fail("apt-get must not run"))
    packages.ensure([packages.GIT], install=True)
