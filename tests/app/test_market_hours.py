"""Market hours (app.market_hours) on a real engine with a manual clock: the day's read of
OpenAlgo's market/timings (today and tomorrow) goes into the engine's calendar; a failed read
is retried with back-off (1, 2, 5 s...), the default calendar is in force meanwhile (one
critical alert per spell, an info alert when the hours are back), and after a good read the
next one waits for the next IST midnight. A blind market (the stale-feed policy) follows the
same hours: nothing is blind on a holiday."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

import pytest

from tests.app.clock import ManualClock
from tests.app.fakes import Alerts
from tradeguard.app.market_hours import AFTER_MIDNIGHT_S, MarketHours
from tradeguard.app.tasks import cancel_and_wait
from tradeguard.core.broker import RetryableError
from tradeguard.core.engine import RiskEngine
from tradeguard.core.sessions import ExchangeSession, MarketCalendar, day_number
from tradeguard.core.timeutil import ist_day_start

S = 1_000_000_000
MONDAY = date(2026, 3, 2)
MONDAY_23 = ist_day_start(day_number(MONDAY)) + 23 * 3600 * S  # 23:00 IST


class Timings:
    """A MarketTimings source answering from a script: a list of sessions or an error, per
    call; every date answered is recorded."""

    def __init__(self, *script: list[ExchangeSession] | Exception) -> None:
        self.script = list(script)
        self.asked: list[date] = []

    async def market_timings(self, day: date) -> list[ExchangeSession]:
        self.asked.append(day)
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def nse(day: date, start_h: float, end_h: float) -> ExchangeSession:
    base = ist_day_start(day_number(day))
    return ExchangeSession("NSE", base + int(start_h * 3600 * S), base + int(end_h * 3600 * S))


def keeper(source: Timings, clock: ManualClock) -> tuple[MarketHours, RiskEngine, Alerts]:
    engine = RiskEngine(MarketCalendar())
    alerts = Alerts()
    return MarketHours(engine, source, clock, alerts, fallback=MarketCalendar()), engine, alerts


@pytest.mark.asyncio
async def test_the_days_hours_go_into_the_engines_calendar() -> None:
    clock = ManualClock(MONDAY_23 - 13 * 3600 * S)  # Monday 10:00
    source = Timings([])  # OpenAlgo: a holiday (an empty list)
    hours, engine, alerts = keeper(source, clock)
    assert await hours.refresh()
    assert source.asked == [MONDAY, date(2026, 3, 3)]  # today and tomorrow
    assert not engine.calendar.is_open("NSE", clock.now())
    assert hours.status()["source"] == "openalgo"
    assert alerts.items == []


@pytest.mark.asyncio
async def test_a_session_not_on_its_date_is_dropped() -> None:
    clock = ManualClock(MONDAY_23)
    wrong = nse(date(2025, 3, 2), 9.25, 15.5)  # a year off (seen in OpenAlgo's own data)
    hours, engine, _ = keeper(Timings([nse(MONDAY, 9.25, 15.5), wrong]), clock)
    assert await hours.refresh()
    assert hours.dropped == 3  # the wrong one for both days read, Monday's for Tuesday
    assert engine.calendar.is_open("NSE", ist_day_start(day_number(MONDAY)) + 10 * 3600 * S)


@pytest.mark.asyncio
async def test_failed_reads_fall_back_alert_once_and_retry_with_back_off() -> None:
    clock = ManualClock(MONDAY_23)
    down = RetryableError("market/timings: OpenAlgo unreachable")
    source = Timings(down, down, down, down, [])
    hours, engine, alerts = keeper(source, clock)
    assert not await hours.refresh()  # the start-up read
    assert hours.status()["source"] == "default"
    assert engine.calendar.days == {}
    assert alerts.levels() == ["critical"]
    assert "default calendar" in alerts.items[0][1]
    task = asyncio.create_task(hours.run())
    try:
        for delay in (1.0, 2.0, 5.0, 10.0):  # back-off before each read (3 fail, 1 answers)
            await until(lambda: clock.sleepers == 1)
            assert clock.slept[-1] == delay
            clock.advance(delay)
        await until(lambda: not hours.using_fallback)
        assert alerts.levels() == ["critical", "info"]  # one per spell, then "back"
        await until(lambda: clock.sleepers == 1)
        # after a good read, the next waits for midnight IST (and a few seconds more)
        assert clock.slept[-1] == pytest.approx(3600 - 18 + AFTER_MIDNIGHT_S)  # 18 s of back-off
    finally:
        await cancel_and_wait(task)


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until `condition` holds (the manual clock never moves by itself)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")
