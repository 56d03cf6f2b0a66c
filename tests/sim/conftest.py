"""One simulator per test module, run on its own thread and loop so the synchronous SDK clients can
call it directly. Faults are reset after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import SimHandle, sim_config


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    handle = SimHandle(sim_config(tmp_path_factory.mktemp("sim")))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(autouse=True)
def _reset_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        handle: SimHandle = request.getfixturevalue("sim")
        handle.control("reset")
