"""End to end: what `make run` shows a newcomer. The service with the embedded simulator's random
walk and the demo trader produces a real rule exit (stop, target, trailing or breakeven) within
a minute, filled at the simulator and closed.
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

RULE_EXITS = {"STOP_LOSS", "TARGET", "TRAILING_STOP", "BREAKEVEN_STOP"}


@pytest.mark.slow
@pytest.mark.asyncio
async def test_demo_shows_a_rule_exit_within_a_minute(tmp_path: Path) -> None:
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

        def rule_exit() -> list[Event]:
            return [e for e in events if e.kind == "exit" and e.data["reason"] in RULE_EXITS]

        exits = await eventually(rule_exit, timeout=60, interval=0.1, message="a demo rule exit")
        trade_id = exits[0].data["trade_id"]

        async def closed() -> dict[str, object] | None:
            rows = await running.runtime.service.trade_history("default", 100)
            return next(
                (r for r in rows if r["trade_id"] == trade_id and r["state"] == "CLOSED"), None
            )

        row = await eventually(closed, timeout=10, interval=0.05, message="the demo exit filled")
        book = {o.order_id: o for o in await running.simulator.broker.order_book()}
        order = book[str(row["exit_order_id"])]  # sent through the simulator's REST API
        assert order.status.value == "complete"
        assert order.quantity == exits[0].data["quantity"]
    finally:
        if started.done():
            started.result().stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(service, timeout=10) == 0
