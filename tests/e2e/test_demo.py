"""End to end: what `make run` shows a newcomer. The service with the embedded simulator and the
demo trader produces a stop-loss, a target and a trailing-stop exit, each filled at the
simulator (an exit order sent through its REST API) and closed.

The simulator's random walk is stopped as soon as the service is up: this test moves prices
itself, towards whichever level each demo trade's rules make the nearest (its profile), so it
waits on the exits it causes, never on chance.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import eventually
from tests.serving import serving
from tradeguard.adapters.sim.embedded import EmbeddedSimulator
from tradeguard.app.events import Event
from tradeguard.app.service import TradeService
from tradeguard.bootstrap.service import Running
from tradeguard.config import Settings
from tradeguard.core.money import to_units

SHOWN = {"STOP_LOSS", "TARGET", "TRAILING_STOP"}
ACCOUNT = "default"


def beyond(view: dict[str, Any], level: str, sim: EmbeddedSimulator) -> int:
    """A price (units, on the tick grid) as far past `level` as `level` is from the entry."""
    entry, at = Decimal(view["entry_price"]), Decimal(level)
    units = to_units(str(at + (at - entry)))
    tick = sim.market.tick_size(view["symbol"], view["exchange"])
    return max(tick, round(units / tick) * tick)


class Driver:
    """Moves each demo trade's symbol to its nearest exit, one trade at a time."""

    def __init__(self, service: TradeService, sim: EmbeddedSimulator) -> None:
        self.service = service
        self.sim = sim
        self.driven: set[str] = set()

    def view(self, trade_id: str) -> dict[str, Any] | None:
        return next(
            (t for t in self.service.active_trades(ACCOUNT) if t["trade_id"] == trade_id), None
        )

    def next_trade(self) -> dict[str, Any] | None:
        for view in self.service.active_trades(ACCOUNT):
            if view["trade_id"] not in self.driven and view["state"] == "ACTIVE":
                return view
        return None

    async def move(self, view: dict[str, Any], units: int) -> dict[str, Any]:
        """Set the price until the engine has seen it (the feed may still be subscribing);
        returns the trade's view then."""
        wanted = Decimal(units) / Decimal(to_units("1"))

        def seen() -> dict[str, Any] | None:
            self.sim.market.set_price(view["symbol"], view["exchange"], units)
            now = self.view(view["trade_id"])
            last = None if now is None else now["last_price"]
            return now if last is not None and Decimal(last) == wanted else None

        return await eventually(seen, timeout=10, message=f"{view['symbol']} at {wanted}")

    async def exit_at(self, view: dict[str, Any], units: int) -> None:
        """Set the price until the trade is no longer ACTIVE (its exit fired)."""

        def fired() -> bool:
            now = self.view(view["trade_id"])
            if now is not None and now["state"] == "ACTIVE":
                self.sim.market.set_price(view["symbol"], view["exchange"], units)
                return False
            return True

        await eventually(fired, timeout=10, message=f"{view['trade_id']} exit")

    async def drive(self, view: dict[str, Any]) -> None:
        entry = Decimal(view["entry_price"])
        favour = 1 if view["side"] == "BUY" else -1
        stop, target = view["stop_loss"], view["target"]
        if target is None and view["rules"].get("trailing"):
            # up 1 % (past the trail's activation), then back to the entry: through the trail
            best = to_units(str(entry * (1 + favour * Decimal("0.01"))))
            moved = await self.move(view, best)
            assert moved["trailing_stop"] is not None, moved
            await self.exit_at(view, to_units(str(entry)))
        elif target is not None and abs(Decimal(target) - entry) <= abs(entry - Decimal(stop)):
            await self.exit_at(view, beyond(view, target, self.sim))
        else:
            await self.exit_at(view, beyond(view, stop, self.sim))


@pytest.mark.slow
@pytest.mark.asyncio
async def test_demo_shows_stop_target_and_trailing_exits(tmp_path: Path) -> None:
    events: list[Event] = []

    async def watch(running: Running) -> None:
        async with running.runtime.bus.subscribe() as stream:
            async for event in stream:
                events.append(event)

    settings = Settings(data_dir=tmp_path, demo=True, port=0)
    assert settings.embedded_simulator
    async with serving(settings, extras=[watch]) as running:
        sim = running.simulator
        assert sim is not None
        await sim.market.stop()  # no random walk from here on: prices move when we say
        driver = Driver(running.runtime.service, sim)

        def first_of_each() -> dict[str, Event]:
            firsts: dict[str, Event] = {}
            for event in events:
                if event.kind == "exit" and event.data["reason"] in SHOWN:
                    firsts.setdefault(event.data["reason"], event)
            return firsts

        while set(first_of_each()) != SHOWN:
            # the demo trader opens a trade every 2 s while it has room; each gets a profile
            view = await eventually(driver.next_trade, timeout=30, message="a demo trade")
            driver.driven.add(view["trade_id"])
            await driver.drive(view)
            await eventually(
                lambda v=view: any(
                    e.kind == "exit" and e.data["trade_id"] == v["trade_id"] for e in events
                ),
                message="its exit event",
            )
        wanted = {e.data["trade_id"]: e for e in first_of_each().values()}

        async def all_closed() -> list[dict[str, object]] | None:
            rows = await running.runtime.service.trade_history(ACCOUNT, 100)
            done = [r for r in rows if r["trade_id"] in wanted and r["state"] == "CLOSED"]
            return done if len(done) == len(wanted) else None

        rows = await eventually(all_closed, timeout=10, interval=0.05, message="exits filled")
        book = {o.order_id: o for o in await sim.broker.order_book()}
        for row in rows:
            exit_event = wanted[str(row["trade_id"])]
            assert row["exit_reason"] == exit_event.data["reason"]
            order = book[str(row["exit_order_id"])]  # sent through the simulator's REST API
            assert order.status.value == "complete"
            assert order.quantity == exit_event.data["quantity"]
