"""End to end over real HTTP and WebSocket: market hours from the simulator's OpenAlgo
`market/timings` (set per date through `/sim/admin/calendar`, as OpenAlgo answers holidays and
special sessions) keep square-off and maximum-holding exits out of a closed market; they fire
at the next session's open. When `market/timings` fails, the default calendar is used, alerted
once and shown on /health, and the read is retried with back-off until it answers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.world import assert_one_exit, closed, exit_orders, guard, strategy, trade
from tests.helpers import eventually
from tests.stack import Stack, running_stack
from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER
from tradeguard.app.market_hours import MarketHours
from tradeguard.bootstrap.service import Running, serve
from tradeguard.config import Settings
from tradeguard.core.sessions import day_date
from tradeguard.core.timeutil import ist_day, ist_day_start

MS = 1_000_000


async def sim_admin(stack: Stack, what: str, spec: dict[str, Any]) -> dict[str, Any]:
    """POST /sim/admin/<what> on the simulator's REST server, with its key."""
    base = stack.sim.rest_url.split("/api/")[0]
    async with httpx.AsyncClient(
        base_url=base, trust_env=False, headers={ADMIN_KEY_HEADER: stack.sim.apikey}
    ) as http:
        reply = await http.post(f"/sim/admin/{what}", json=spec)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def today() -> date:
    return day_date(ist_day(time.time_ns()))


def keeper(stack: Stack) -> MarketHours:
    assert stack.runtime.hours is not None
    return stack.runtime.hours


def hours_alerts(stack: Stack) -> list[str]:
    return [
        e.data["level"]
        for e in stack.runtime.bus.recent
        if e.kind == "alert" and str(e.data["message"]).startswith("market hours")
    ]


@pytest.mark.asyncio
async def test_on_a_holiday_a_time_exit_waits_for_the_market_to_open(tmp_path: Path) -> None:
    async with running_stack(tmp_path, market_hours=True) as stack:
        assert stack.service.health()["market_hours"]["source"] == "openalgo"
        await strategy(stack, "main")
        await sim_admin(stack, "calendar", {"date": today().isoformat(), "data": []})
        assert await keeper(stack).refresh()  # what the day's read after midnight does
        hours = stack.service.health()["market_hours"]
        assert (hours["source"], hours["days"][today().isoformat()]) == ("openalgo", {})
        view = await guard(stack, "main", "SBIN", "BUY", 10, max_holding_seconds=1)
        held = stack.runtime.engine.trade(view["trade_id"])
        # due a second later, with NSE closed all day: deferred to the next session (tomorrow)
        await eventually(lambda: held.deadline != held.due, message="time exit deferred")
        assert held.deadline is not None
        assert held.deadline >= ist_day_start(ist_day(time.time_ns()) + 1)
        assert trade(stack, view["trade_id"])["state"] == "ACTIVE"
        assert exit_orders(stack) == []
        # the market opens now (OpenAlgo's hours for today change back to a session now)
        await sim_admin(stack, "calendar", {"date": today().isoformat(), "data": None})
        assert await keeper(stack).refresh()
        await closed(stack, view["trade_id"])
        assert_one_exit(stack, view["trade_id"], "SELL", 10, "MAX_HOLDING")


@pytest.mark.asyncio
async def test_a_time_exit_due_before_a_special_session_fires_at_its_start(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, market_hours=True) as stack:
        await strategy(stack, "main")
        opens_ms = time.time_ns() // MS + 2_500
        session = {"exchange": "NSE", "start_time": opens_ms, "end_time": opens_ms + 3_600_000}
        await sim_admin(stack, "calendar", {"date": today().isoformat(), "data": [session]})
        assert await keeper(stack).refresh()
        view = await guard(stack, "main", "SBIN", "BUY", 10, max_holding_seconds=1)
        await closed(stack, view["trade_id"], within=15.0)
        report = assert_one_exit(stack, view["trade_id"], "SELL", 10, "MAX_HOLDING")
        # the exit order reached the broker only once the special session had begun
        assert stack.sim.api.arrivals[report.order_id] >= opens_ms * MS


@pytest.mark.asyncio
async def test_without_openalgo_hours_the_default_calendar_is_used_alerted_and_retried(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, market_hours=True, start=False) as stack:
        # market/timings fails (until cleared): the start-up read and every retry
        faults = {"fail": "500", "endpoints": ["market/timings"]}
        await sim_admin(stack, "faults", faults)
        await stack.runtime.start()
        try:
            hours = stack.service.health()["market_hours"]
            assert hours["source"] == "default", hours
            assert "HTTP 500" in hours["last_error"]
            assert hours["fallback_since"] is not None
            assert stack.runtime.engine.calendar.days == {}  # the default hours are in force
            # retried with back-off (1 s, then 2 s...): still one alert for the spell
            await eventually(lambda: keeper(stack).failures >= 2, timeout=15.0, message="a retry")
            assert hours_alerts(stack) == ["critical"]
            await sim_admin(stack, "faults", {"fail": None})  # OpenAlgo answers again
            await eventually(
                lambda: stack.service.health()["market_hours"]["source"] == "openalgo",
                timeout=15.0,
                message="OpenAlgo's hours after the back-off",
            )
            # one alert for the whole spell (two failed reads), one when the hours are back
            assert hours_alerts(stack) == ["critical", "info"]
            assert keeper(stack).fallback_since is None
            known = stack.runtime.engine.calendar.days
            assert ist_day(time.time_ns()) in known
            assert ist_day(time.time_ns()) + 1 in known
            assert stack.service.health()["market_hours"]["days"]  # shown on /health
        finally:
            await stack.runtime.stop()


@pytest.mark.asyncio
async def test_tradeguard_run_reads_its_hours_and_shows_them_on_health(tmp_path: Path) -> None:
    """`tradeguard run` (serve()) with the embedded simulator: market hours come from the
    simulator's market/timings (open all day), and GET /health shows where they come from."""
    started: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    settings = Settings(data_dir=tmp_path / "data", demo=False, port=0)
    task = asyncio.create_task(serve(settings, console=False, started=started.set_result))
    try:
        running = await asyncio.wait_for(started, timeout=30)
        url = running.extras["api"].url
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            hours = (await http.get("/health")).json()["market_hours"]
        assert hours["source"] == "openalgo"
        tomorrow = day_date(ist_day(time.time_ns()) + 1)
        assert sorted(hours["days"]) == [today().isoformat(), tomorrow.isoformat()]
        assert running.runtime.engine.calendar.is_open("NSE", time.time_ns())
    finally:
        if started.done():
            started.result().stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, timeout=10) == 0
