"""Core layer: the schedule of time exits (square-off, maximum holding) and the market hours
they obey.

A trade's time exit is due at `trade.due` (from its rules). It fires only while the trade's
exchange is in session: due while the market is closed (a holiday, a weekend, after the close),
it is deferred to the start of the exchange's next session (`trade.deadline`) and fires there,
at the open, so the exit order can fill. A new calendar (the day's market hours arrived) re-times
deferred exits at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from tradeguard.core.model import TradeState
from tradeguard.core.sessions import MarketCalendar
from tradeguard.core.trade import POS, Trade

NONE_DUE = POS


class TimeExits:
    """A heap of (deadline, trade id); stale entries (edited, closed, re-timed) are skipped."""

    __slots__ = ("calendar", "heap", "next_at")

    def __init__(self, calendar: MarketCalendar) -> None:
        self.calendar = calendar
        self.heap: list[tuple[int, str]] = []
        self.next_at = NONE_DUE  # the earliest deadline: the tick path compares with it

    def schedule(self, trade: Trade) -> None:
        if trade.deadline is not None:
            heapq.heappush(self.heap, (trade.deadline, trade.trade_id))
            self.next_at = self.heap[0][0]

    def fire(self, now: int, trades: Mapping[str, Trade]) -> list[Trade]:
        """The ACTIVE trades whose time exit fires at `now`; those due while their exchange
        is closed are deferred to its next open instead."""
        firing = []
        heap = self.heap
        while heap and heap[0][0] <= now:
            at, trade_id = heapq.heappop(heap)
            trade = trades.get(trade_id)
            if trade is None or trade.deadline != at or trade.state is not TradeState.ACTIVE:
                continue  # closed, rescheduled by an edit, or already exiting
            exchange = trade.instrument.exchange
            if not self.calendar.is_open(exchange, now):
                # outside the exchange's session an exit order cannot fill: at the next open
                trade.deadline = self.calendar.next_open(exchange, now)
                heapq.heappush(heap, (trade.deadline, trade_id))
                continue
            firing.append(trade)
        self.next_at = heap[0][0] if heap else NONE_DUE
        return firing

    def set_calendar(self, calendar: MarketCalendar, now: int, trades: Mapping[str, Trade]) -> None:
        """Use `calendar` from now on; a deferred time exit is re-timed on it (to `now` if
        the exchange is open now), so a session the old calendar did not know is not missed."""
        self.calendar = calendar
        for trade in trades.values():
            if trade.state is not TradeState.ACTIVE or trade.deadline is None:
                continue
            if trade.due is None or trade.deadline == trade.due or trade.due > now:
                continue  # not deferred: it is checked against the session when due
            retimed = calendar.next_open(trade.instrument.exchange, now)
            if retimed != trade.deadline:
                trade.deadline = retimed
                heapq.heappush(self.heap, (retimed, trade.trade_id))
        self.next_at = self.heap[0][0] if self.heap else NONE_DUE
