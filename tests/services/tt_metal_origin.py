"""The stand-in tt-metal origin (release/sim/tt_metal_origin.py) for the tests. Fixture: `tt_metal_origin`
(session): four commits, tags `v0.61.1-rc1` (lightweight) and `v0.62.0-rc33` (annotated), branch `stable`, and a
look-alike tag `x<short SHA of commit 0>` pointing elsewhere.
"""

from __future__ import annotations

import pytest

from release.sim.tt_metal_origin import BASE_DOCKERFILE, Origin, make_origin

__all__ = ["BASE_DOCKERFILE", "Origin", "make_origin", "tt_metal_origin"]


@pytest.fixture(scope="session")
def tt_metal_origin(tmp_path_factory: pytest.TempPathFactory) -> Origin:
    return make_origin(tmp_path_factory.mktemp("tt-metal"))
