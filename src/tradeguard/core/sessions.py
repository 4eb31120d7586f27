"""Core layer: exchange trading sessions (IST), so time exits and the stale-feed policy act
only while an exchange is open.

A `MarketCalendar` answers from two sources, per IST day:

- **known days** (`days`): the sessions OpenAlgo's `market/timings` gave for that date (the app
  fetches them; core never does I/O). For an exchange the source covers (`covered`: NSE, BSE,
  NFO, BFO, CDS, BCD, MCX), the day's sessions are exactly those listed: none listed means
  closed all day (a holiday, a weekend). What it lists for other exchanges is not used.
  A session may run past midnight (MCX's Muhurat session); it is open until its end.
- **the default calendar** for every other day (and for exchanges the source does not cover):
  the standard IST hours of the Indian exchanges OpenAlgo serves, Monday to Friday: NSE, BSE,
  NFO, BFO 09:15-15:30; CDS, BCD 09:00-17:00; MCX, NCDEX, NCO 09:00-23:30; minus `holidays`
  (IST dates the caller may add; none by default).

An exchange neither source lists (CRYPTO, GLOBAL_INDEX...) is always open. Sessions are
half-open: open from the start (inclusive) to the end (exclusive).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
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
# The exchanges OpenAlgo's market calendar reports on (an exchange it leaves out of a day's
# answer is closed that day); for the others the default hours stay in force. (Newer OpenAlgo
# versions list NCO too: app.market_hours then counts it in.)
OPENALGO_EXCHANGES = frozenset({"NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX"})
_EPOCH = date(1970, 1, 1)
_LOOKAHEAD_DAYS = 366

Session = tuple[int, int]  # (start, end) epoch ns, end exclusive
DaySessions = Mapping[str, tuple[Session, ...]]  # exchange -> that IST day's sessions


def day_number(when: date) -> int:
    """The IST day number (as timeutil.ist_day counts them) of a calendar date."""
    return (when - _EPOCH).days


def day_date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


@dataclass(frozen=True, slots=True)
class ExchangeSession:
    """One exchange's session on one date, as the market-hours source reports it."""

    exchange: str
    start: int  # epoch ns
    end: int  # epoch ns, exclusive


def plausible(day: int, session: ExchangeSession) -> bool:
    """A reported session that can belong to IST day `day`: it ends after it starts, lasts at
    most a day and overlaps the day."""
    start, end = ist_day_start(day), ist_day_start(day) + DAY_NS
    return session.start < session.end <= session.start + DAY_NS and (
        session.start < end and session.end > start
    )


_CASH = ("NSE", "BSE")  # 09:15-15:30 on a regular day (F&O may run later)
_QUARTER_HOUR = 900 * 1_000_000_000
_HOUR = 3600 * 1_000_000_000


def clock_shift(day: int, reported: list[ExchangeSession]) -> int:
    """How far a regular day's reported sessions are shifted from IST (0: not shifted).

    OpenAlgo computes a regular day's sessions from midnight on *its server's* clock: on a
    server not set to IST every session comes out shifted by the same amount (UTC: 5 h 30 min
    late). That is recognised when the cash equity exchanges report exactly their standard
    session (09:15-15:30, 6 h 15 min) moved by a whole number of quarter hours, at least an
    hour, and every reported session of an exchange with standard hours, moved back by that
    amount, starts at its exchange's standard start. A special session (another length) or
    hours an operator moved a little never match."""
    midnight = ist_day_start(day)
    open_ns, close_ns = (time_of_day_ns(t) for t in _EQUITY)
    cash = [s for s in reported if s.exchange in _CASH]
    if not cash or any(s.end - s.start != close_ns - open_ns for s in cash):
        return 0
    shift = cash[0].start - (midnight + open_ns)
    if shift % _QUARTER_HOUR or not _HOUR <= abs(shift) <= DAY_NS // 2:
        return 0
    for session in reported:  # (an exchange without standard hours, e.g. CRYPTO, aside)
        hours = DEFAULT_HOURS.get(session.exchange)
        if hours is not None and session.start - shift != midnight + time_of_day_ns(hours[0]):
            return 0
    return shift


def day_sessions(reported: Iterable[ExchangeSession]) -> DaySessions:
    """One day's reported sessions grouped by exchange, each exchange's in time order."""
    grouped: dict[str, list[Session]] = {}
    for session in reported:
        grouped.setdefault(session.exchange, []).append((session.start, session.end))
    return {exchange: tuple(sorted(found)) for exchange, found in grouped.items()}


@dataclass(frozen=True, slots=True)
class MarketCalendar:
    """Session hours per exchange: known days first, else the default weekly hours."""

    hours: Mapping[str, tuple[time, time]] = field(default_factory=lambda: dict(DEFAULT_HOURS))
    holidays: frozenset[date] = frozenset()
    days: Mapping[int, DaySessions] = field(default_factory=dict)  # IST day -> sessions
    covered: frozenset[str] = frozenset()  # exchanges the known days speak for

    def with_days(self, days: Mapping[int, DaySessions], covered: frozenset[str]) -> MarketCalendar:
        """This calendar with `days` known (replacing any it knew) for the `covered` exchanges;
        what a known day says of any other exchange is not used."""
        return dataclasses.replace(self, days=dict(days), covered=covered)

    def sessions(self, exchange: str, day: int) -> tuple[Session, ...] | None:
        """`exchange`'s sessions on IST day `day` (possibly none); None: always open."""
        known = self.days.get(day)
        if known is not None and exchange in self.covered:
            return known.get(exchange, ())
        hours = self.hours.get(exchange)
        if hours is None:
            return None
        when = day_date(day)
        if when.weekday() >= 5 or when in self.holidays:
            return ()
        start = ist_day_start(day)
        return ((start + time_of_day_ns(hours[0]), start + time_of_day_ns(hours[1])),)

    def _always_open(self, exchange: str) -> bool:
        return exchange not in self.hours and exchange not in self.covered

    def session_at(self, exchange: str, now_ns: int) -> Session | None:
        """The session `exchange` is in at `now_ns` (one that began the day before may still
        run), or None when it is closed."""
        day = ist_day(now_ns)
        for on in (day - 1, day):
            for start, end in self.sessions(exchange, on) or ():
                if start <= now_ns < end:
                    return start, end
        return None

    def is_open(self, exchange: str, now_ns: int) -> bool:
        """True if `exchange` is in a session at `now_ns`."""
        return self._always_open(exchange) or self.session_at(exchange, now_ns) is not None

    def session_start(self, exchange: str, now_ns: int) -> int | None:
        """Start (epoch ns) of the session `exchange` is in at `now_ns`; None when closed. An
        always-open exchange's session has no start (0)."""
        if self._always_open(exchange):
            return 0
        found = self.session_at(exchange, now_ns)
        return found[0] if found is not None else None

    def next_open(self, exchange: str, now_ns: int) -> int:
        """`now_ns` if the exchange is open, else the start of its next session."""
        if self.is_open(exchange, now_ns):
            return now_ns
        day = ist_day(now_ns)
        for on in range(day, day + _LOOKAHEAD_DAYS):
            for start, _ in self.sessions(exchange, on) or ():
                if start > now_ns:
                    return start
        return now_ns + DAY_NS  # a calendar with no session at all: check again tomorrow


ALWAYS_OPEN = MarketCalendar(hours={})
