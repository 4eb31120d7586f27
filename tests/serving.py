"""Tests: run `tradeguard run`'s composition (bootstrap.service.serve) in-process, started and
stopped by the events they wait for, never by a deadline that cancels the service.

`asyncio.wait_for(started, timeout)` cancels `started` when start-up is slow (a busy machine:
migrations, argon2), and a teardown that then reads `started.result()` raises CancelledError;
`asyncio.wait_for(service, timeout)` cancels a service that is merely slow to stop. Here a
deadline only turns into a clear test failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.helpers import eventually
from tradeguard.bootstrap.service import Extra, Running, serve
from tradeguard.config import Settings

START_WITHIN = 60.0
STOP_WITHIN = 60.0


@asynccontextmanager
async def serving(settings: Settings, extras: list[Extra] | None = None) -> AsyncIterator[Running]:
    """The service running with `settings` for the block; stopped as Ctrl+C would stop it,
    and required to end cleanly (exit status 0)."""
    started: asyncio.Future[Running] = asyncio.get_running_loop().create_future()

    def on_start(running: Running) -> None:
        started.set_result(running)

    service = asyncio.create_task(
        serve(settings, console=False, extras=extras, started=on_start), name="tradeguard-serve"
    )
    try:
        await eventually(
            lambda: started.done() or service.done(), timeout=START_WITHIN, message="started"
        )
        if not started.done():
            pytest.fail(f"the service ended during start-up: {service.result()!r}")
        yield started.result()
    finally:
        if started.done():
            started.result().stop.set()
        else:
            service.cancel()
        done, _ = await asyncio.wait({service}, timeout=STOP_WITHIN)
        if not done:
            service.cancel()
            await asyncio.gather(service, return_exceptions=True)
            pytest.fail(f"the service did not stop within {STOP_WITHIN} s of its stop event")
        if started.done():
            assert service.result() == 0
