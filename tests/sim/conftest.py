"""Tests (simulator): an embedded simulator with one symbol (SBIN at 800, no walk, no rate
limits) and an HTTP client for its REST and admin endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from tradeguard.adapters.sim.embedded import EmbeddedSimulator, SimulatorOptions
from tradeguard.adapters.sim.faults import RateLimits
from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[EmbeddedSimulator]:
    options = SimulatorOptions(
        walk=False, symbols=(("SBIN", "NSE", "800"),), rate_limits=RateLimits(enabled=False)
    )
    async with EmbeddedSimulator(options) as simulator:
        yield simulator


@pytest_asyncio.fixture
async def http(sim: EmbeddedSimulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {ADMIN_KEY_HEADER: sim.apikey}  # the /sim/admin endpoints need the key
    async with httpx.AsyncClient(
        base_url=sim.rest_url, timeout=5.0, trust_env=False, headers=headers
    ) as client:
        yield client
