"""Conformance tests (`make conformance`, marker `conformance`, left out of `make test`): the
real OpenAlgo server comes up once per session with the kit (see tests/conformance/kit.py),
its price walk frozen; every test gets a fresh tradeguard (its own SQLite file) against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conformance.kit import OpenAlgo, default_workdir, find_kit, find_python312, unavailable
from tests.conformance.world import RealStack, open_stack


@pytest.fixture(scope="session")
def openalgo() -> Iterator[OpenAlgo]:
    kit = find_kit()
    if kit is None:
        unavailable("the OpenAlgo test-peer kit was not found (set TRADEGUARD_OPENALGO_KIT)")
        raise AssertionError("unreachable")
    if find_python312() is None:
        unavailable(
            "OpenAlgo needs Python 3.12 and none was found: put python3.12 on PATH, "
            "'pyenv install 3.12', or set OPENALGO_PYTHON=/path/to/python3.12"
        )
    oa = OpenAlgo.up(kit, default_workdir(kit))
    print(f"\nOpenAlgo up in {oa.up_seconds:.0f}s at {oa.url} (workdir {oa.workdir})")
    try:
        yield oa
    finally:
        oa.down()


@pytest_asyncio.fixture
async def oa(openalgo: OpenAlgo) -> AsyncIterator[OpenAlgo]:
    """The session's OpenAlgo, its walk frozen and its session logged in, per test."""
    await openalgo.ctl("freeze")
    yield openalgo


@pytest_asyncio.fixture
async def stack(oa: OpenAlgo, tmp_path: Path) -> AsyncIterator[RealStack]:
    async with open_stack(oa, tmp_path / "tg.db") as running:
        yield running
