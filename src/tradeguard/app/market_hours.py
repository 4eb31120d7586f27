"""App layer: the exchanges' market hours, from OpenAlgo's `market/timings`, for the engine's
time exits and the stale-feed policy.

Once per IST day (just after midnight, and once at start-up) it reads the sessions of today and
tomorrow through the MarketTimings port (the OpenAlgo gateway: a polling-priority read in the
shared API budget) and gives the engine a calendar holding them (core.sessions), so a holiday
(an empty list) or a special session (only those hours) is known, and tomorrow's hours are
already there when the day rolls. Known days are kept in memory (today and later).

When a read fails it retries with back-off (`retry_s`, the last value repeating) until it gets
an answer. While today's hours are unknown, the documented default calendar (weekdays,
standard hours, no holidays) is in force: this is logged and alerted once per spell, shown on
/health (`market_hours.source: "default"`), and an info alert says when OpenAlgo's hours are
back. A reported session that cannot belong to its date is dropped with a warning; a regular
day computed on an OpenAlgo server whose clock is not in IST is shifted back to IST
(core.sessions.clock_shift), with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from tradeguard.app.ports import AlertSink, Clock, MarketTimings
from tradeguard.core.broker import BrokerError
from tradeguard.core.engine import RiskEngine
from tradeguard.core.sessions import (
    DEFAULT_HOURS,
    OPENALGO_EXCHANGES,
    DaySessions,
    ExchangeSession,
    MarketCalendar,
    clock_shift,
    day_date,
    day_sessions,
    plausible,
)
from tradeguard.core.timeutil import NS_PER_SECOND, ist_day, ist_day_start

log = logging.getLogger(__name__)

IST = timezone(timedelta(hours=5, minutes=30))
RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
AFTER_MIDNIGHT_S = 5.0  # the day's read waits this long past 00:00 IST


class MarketHours:
    """Keeps the engine's calendar in step with OpenAlgo's market timings."""

    def __init__(
        self,
        engine: RiskEngine,
        source: MarketTimings,
        clock: Clock,
        alerts: AlertSink,
        *,
        fallback: MarketCalendar,
        retry_s: tuple[float, ...] = RETRY_S,
        days_ahead: int = 1,
    ) -> None:
        if not retry_s or min(retry_s) <= 0:
            raise ValueError("retry_s needs at least one delay, all positive")
        self.engine = engine
        self.source = source
        self.clock = clock
        self.alerts = alerts
        self.fallback = fallback
        self.retry_s = retry_s
        self.days_ahead = days_ahead
        self.known: dict[int, DaySessions] = {}  # IST day -> its sessions as OpenAlgo gave them
        self.failures = 0  # consecutive failed reads
        self.last_error: str | None = None
        self.fetched_at: int | None = None
        self.fallback_since: int | None = None
        self.dropped = 0  # implausible sessions ignored since start
        self.shift_minutes = 0  # the last clock shift taken out of OpenAlgo's sessions
        self._read_once = asyncio.Event()

    @property
    def using_fallback(self) -> bool:
        return ist_day(self.clock.now()) not in self.known

    async def refresh(self) -> bool:
        """Read today's and the next days' sessions and install them. False if a read failed
        (what was read is kept; today's hours stay unknown unless an earlier read had them)."""
        now = self.clock.now()
        today = ist_day(now)
        fresh: dict[int, DaySessions] = {}  # installed together, after the last read
        try:
            for day in range(today, today + self.days_ahead + 1):
                fresh[day] = self._sessions(day, await self.source.market_timings(day_date(day)))
        except BrokerError as error:
            self.known.update(fresh)  # what was read stands
            self.failures += 1
            self.last_error = str(error)
            log.warning("market hours: OpenAlgo's market/timings failed: %s", error)
            self._install(today)
            return False
        self.known.update(fresh)
        self.failures = 0
        self.last_error = None
        self.fetched_at = self.clock.now()
        self._install(today)
        return True

    def _sessions(self, day: int, reported: list[ExchangeSession]) -> DaySessions:
        shift = clock_shift(day, reported)
        if shift:
            self.shift_minutes = shift // (60 * NS_PER_SECOND)
            log.warning(
                "market hours for %s: OpenAlgo's sessions are shifted by %+d min (its server "
                "clock is not in IST: set TZ=Asia/Kolkata for OpenAlgo); taken back to IST",
                day_date(day),
                self.shift_minutes,
            )
            reported = [
                ExchangeSession(s.exchange, s.start - shift, s.end - shift) for s in reported
            ]
        kept = [s for s in reported if plausible(day, s)]
        if len(kept) != len(reported):
            self.dropped += len(reported) - len(kept)
            bad = [s for s in reported if s not in kept]
            log.warning(
                "market hours for %s: sessions ignored (not on that date): %s", day_date(day), bad
            )
        return day_sessions(kept)

    def _install(self, today: int) -> None:
        for day in [d for d in self.known if d < today]:
            del self.known[day]  # past days matter no more (yesterday's late session aside)
        # the seven OpenAlgo's calendar always covers, and any other exchange with standard
        # hours it lists (NCO in newer versions); CRYPTO and the like stay always open
        listed = {e for sessions in self.known.values() for e in sessions if e in DEFAULT_HOURS}
        calendar = self.fallback.with_days(self.known, OPENALGO_EXCHANGES | listed)
        self.engine.set_calendar(calendar, self.clock.now())
        if today not in self.known:
            if self.fallback_since is None:
                self.fallback_since = self.clock.now()
                self.alerts.alert(
                    "critical",
                    "market hours: OpenAlgo did not give today's market timings "
                    f"({self.last_error or 'no answer'}); using the default calendar "
                    "(Monday to Friday, standard hours, no holidays) until it does",
                )
        elif self.fallback_since is not None:
            self.fallback_since = None
            self.alerts.alert("info", "market hours: OpenAlgo's market timings are in use again")

    def status(self) -> dict[str, Any]:
        """For /health: where today's hours come from and the days known."""
        today = ist_day(self.clock.now())
        return {
            "source": "default" if today not in self.known else "openalgo",
            "days": {
                day_date(day).isoformat(): _view(sessions)
                for day, sessions in sorted(self.known.items())
            },
            "fetched_at": _ist(self.fetched_at) if self.fetched_at else None,
            "fallback_since": _ist(self.fallback_since) if self.fallback_since else None,
            "failures": self.failures,
            "last_error": self.last_error,
            "dropped_sessions": self.dropped,
            "clock_shift_minutes": self.shift_minutes,
        }

    async def first_read(self, wait_s: float) -> None:
        """Wait (at most `wait_s` seconds) for the first read `run(read_first=True)` makes."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._read_once.wait()

    async def run(self, *, read_first: bool = False) -> None:
        """Read once a day after midnight IST (and at once with `read_first`); after a
        failure, retry with back-off."""
        if read_first:
            try:
                await self.refresh()
            finally:
                self._read_once.set()
        while True:
            if self.failures:
                delay = self.retry_s[min(self.failures, len(self.retry_s)) - 1]
            else:
                now = self.clock.now()
                next_day = ist_day_start(ist_day(now) + 1)
                delay = (next_day - now) / NS_PER_SECOND + AFTER_MIDNIGHT_S
            await self.clock.sleep(delay)
            try:
                await self.refresh()
            except Exception:  # the loop must keep running; the error is logged
                self.failures += 1
                log.exception("market hours refresh failed")


def _ist(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS_PER_SECOND, tz=IST).isoformat()


def _view(sessions: DaySessions) -> dict[str, list[list[str]]]:
    """Each exchange's sessions as [start, end] IST timestamps."""
    return {
        exchange: [[_ist(start), _ist(end)] for start, end in found]
        for exchange, found in sorted(sessions.items())
    }
