"""Conformance: OpenAlgo's `market/timings` as tradeguard reads it (app.market_hours): a
weekend and an exchange holiday answer no session for the seven exchanges of OpenAlgo's
calendar (OpenAlgo 2.0.2.1 lists CRYPTO on every day, which tradeguard leaves aside); a
trading day answers each exchange's
session on that date, which ends up in the engine's calendar as the IST standard hours (taken
back to IST if OpenAlgo's server clock is not in IST, as the kit's may not be)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.app.fakes import Alerts
from tests.conformance.kit import OpenAlgo
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.openalgo.rest_gateway import OpenAlgoGateway
from tradeguard.app.market_hours import MarketHours
from tradeguard.core.engine import RiskEngine
from tradeguard.core.sessions import (
    OPENALGO_EXCHANGES,
    MarketCalendar,
    clock_shift,
    day_number,
    plausible,
)
from tradeguard.core.timeutil import ist_day, ist_day_start

pytestmark = pytest.mark.conformance

S = 1_000_000_000
TUESDAY = date(2026, 12, 8)  # a trading day
SATURDAY = date(2026, 12, 12)
CHRISTMAS = date(2026, 12, 25)  # an exchange holiday (every exchange closed)


@pytest.mark.asyncio
async def test_market_timings_as_the_engine_reads_them(oa: OpenAlgo) -> None:
    async with OpenAlgoGateway(oa.url, oa.api_key) as gateway:
        # closed days: nothing for the exchanges tradeguard takes from OpenAlgo (it lists
        # CRYPTO every day, which tradeguard does not use)
        for closed in (SATURDAY, CHRISTMAS):
            sessions = await gateway.market_timings(closed)
            assert [s for s in sessions if s.exchange in OPENALGO_EXCHANGES] == [], sessions
        tuesday = await gateway.market_timings(TUESDAY)
        clock = SystemClock()
        engine = RiskEngine(MarketCalendar())
        hours = MarketHours(engine, gateway, clock, Alerts(), fallback=MarketCalendar())
        assert await hours.refresh()  # today and tomorrow, as at start-up
    today = ist_day(clock.now())
    assert hours.status()["source"] == "openalgo"
    assert hours.dropped == 0
    trading = [d for d in (today, today + 1) if engine.calendar.sessions("NSE", d)]
    for day in trading:  # the standard hours, in IST
        start = ist_day_start(day)
        assert engine.calendar.sessions("NSE", day) == (
            (start + (9 * 3600 + 15 * 60) * S, start + (15 * 3600 + 30 * 60) * S),
        )
        assert set(hours.known[day]) >= OPENALGO_EXCHANGES  # a regular day lists all seven
    # a fixed trading day, read raw: every exchange's session, on that date once in IST
    day = day_number(TUESDAY)
    shift = clock_shift(day, tuesday)
    nse = [(s.start - shift, s.end - shift) for s in tuesday if s.exchange == "NSE"]
    start = ist_day_start(day)
    assert nse == [(start + (9 * 3600 + 15 * 60) * S, start + (15 * 3600 + 30 * 60) * S)]
    assert all(plausible(day, s) for s in tuesday), tuesday
