"""End to end: what `make run` shows a newcomer. The service with the embedded simulator's random
walk and the demo trader produces a stop-loss, a target and a trailing-stop exit within a
minute, each filled at the simulator (an exit order sent through its REST API) and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.helpers import eventually
from tradeguard.app.events import Event
from tradeguard.bootstrap.service import Running, serve
from tradeguard.config import Settings

SHOWN = {"STOP_LOSS", "TARGET", "TRAILING_STOP"}


@pytest.mark.slow
@pytest.mark.asyncio
async def test_demo_shows_stop_target_and_trailing_exits_within_a_minute(tmp_path: Path) -> None:
    events: list[Event] = []
    started: asyncio.Future[Running] = asyncio.get_running_loop().create_future()

    async def watch(running: Running) -> None:
        async with running.runtime.bus.subscribe() as stream:
            async for event in stream:
                events.append(event)

    def on_start(running: Running) -> None:
        started.set_result(running)

    settings = Settings(data_dir=tmp_path, demo=True, port=0)
    assert settings.embedded_simulator
    service = asyncio.create_task(serve(settings, console=False, extras=[watch], started=on_start))
    try:
        running = await asyncio.wait_for(started, timeout=30)
        assert running.simulator is not None

        def first_of_each() -> dict[str, Event] | None:
            firsts: dict[str, Event] = {}
            for event in events:
                if event.kind == "exit" and event.data["reason"] in SHOWN:
                    firsts.setdefault(event.data["reason"], event)
            return firsts if set(firsts) == SHOWN else None

        firsts = await eventually(first_of_each, timeout=60, interval=0.1, message="3 exit kinds")
        wanted = {e.data["trade_id"]: e for e in firsts.values()}

        async def all_closed() -> list[dict[str, object]] | None:
            rows = await running.runtime.service.trade_history("default", 100)
            done = [r for r in rows if r["trade_id"] in wanted and r["state"] == "CLOSED"]
            return done if len(done) == len(wanted) else None

        rows = await eventually(all_closed, timeout=10, interval=0.05, message="exits filled")
        book = {o.order_id: o for o in await running.simulator.broker.order_book()}
        for row in rows:
            exit_event = wanted[str(row["trade_id"])]
            assert row["exit_reason"] == exit_event.data["reason"]
            order = book[str(row["exit_order_id"])]  # sent through the simulator's REST API
            assert order.status.value == "complete"
            assert order.quantity == exit_event.data["quantity"]
    finally:
        if started.done():
            started.result().stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(service, timeout=10) == 0
