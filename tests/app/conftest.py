"""Tests: fixtures of the app suite (real PaperBroker, SimMarket and SqlStore on SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.app.harness import Harness, World


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> World:
    world = World(tmp_path)
    for symbol, price in (("RELIANCE", "100"), ("TCS", "200"), ("INFY", "50")):
        world.set_price(symbol, price)
    return world


@pytest_asyncio.fixture
async def app(world: World) -> AsyncIterator[Harness]:
    harness = await Harness.open(world)
    await harness.start()
    await harness.add_strategy("s1")
    yield harness
    if not harness.store.inner._closed:
        await harness.stop()
