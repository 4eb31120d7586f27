"""Core layer: exchange trading sessions (IST), so time exits and the stale-feed policy act
only while an exchange is open.

The default calendar holds the standard IST hours of the Indian exchanges OpenAlgo serves
(Monday to Friday): NSE, BSE, NFO, BFO 09:15-15:30; CDS, BCD 09:00-17:00; MCX, NCDEX, NCO
09:00-23:30. Exchange holidays are a set of IST dates the caller may add (none by default).
An exchange the calendar does not list (CRYPTO, GLOBAL_INDEX...) is always open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from tradeguard.core.timeutil import DAY_NS, ist_day, ist_day_start, time_of_day_ns

_EQUITY = (time(9, 15), time(15, 30))
_CURRENCY = (time(9, 0), time(17, 0))
_COMMODITY = (time(9, 0), time(23, 30))

DEFAULT_HOURS: Mapping[str, tuple[time, time]] = {
    "NSE": _EQUITY,
    "BSE": _EQUITY,
    "NFO": _EQUITY,
    "BFO": _EQUITY,
    "CDS": _CURRENCY,
    "BCD": _CURRENCY,
    "MCX": _COMMODITY,
    "NCDEX": _COMMODITY,
    "NCO": _COMMODITY,
}
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class MarketCalendar:
    """Session hours per exchange (IST, Monday to Friday) and holidays (IST dates)."""

    hours: Mapping[str, tuple[time, time]] = field(default_factory=lambda: dict(DEFAULT_HOURS))
    holidays: frozenset[date] = frozenset()

    def is_open(self, exchange: str, now_ns: int) -> bool:
        """True if `exchange` is in its session at `now_ns` (start inclusive, end exclusive)."""
        hours = self.hours.get(exchange)
        if hours is None:
            return True
        day = ist_day(now_ns)
        if not self._trading_day(day):
            return False
        since_midnight = now_ns - ist_day_start(day)
        return time_of_day_ns(hours[0]) <= since_midnight < time_of_day_ns(hours[1])

    def session_start(self, exchange: str, now_ns: int) -> int | None:
        """Start (epoch ns) of the session `exchange` is in at `now_ns`; None when closed. An
        always-open exchange's session has no start (0)."""
        hours = self.hours.get(exchange)
        if hours is None:
            return 0
        if not self.is_open(exchange, now_ns):
            return None
        return ist_day_start(ist_day(now_ns)) + time_of_day_ns(hours[0])

    def next_open(self, exchange: str, now_ns: int) -> int:
        """`now_ns` if the exchange is open, else the start of its next session."""
        hours = self.hours.get(exchange)
        if hours is None or self.is_open(exchange, now_ns):
            return now_ns
        day = ist_day(now_ns)
        start = time_of_day_ns(hours[0])
        if now_ns - ist_day_start(day) >= start:
            day += 1  # today's session has begun (and ended): the next one
        for _ in range(366):
            if self._trading_day(day):
                return ist_day_start(day) + start
            day += 1
        return now_ns + DAY_NS  # a calendar with no trading day at all: check again tomorrow

    def _trading_day(self, day: int) -> bool:
        when = _EPOCH + timedelta(days=day)
        return when.weekday() < 5 and when not in self.holidays


ALWAYS_OPEN = MarketCalendar(hours={})
