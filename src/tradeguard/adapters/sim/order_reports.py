"""Adapters layer: what the paper broker's order book *says*, as opposed to what happened.

The paper broker hands every order change to `OrderReports.changed`. A new order shows at once
(and is pushed, if pushes are on); a later change (a fill, a part fill, a rejection, a cancel)
shows in `visible`/`book` only when the broker reports it under the current `TimingConfig`:
after the report lag, and with polling only at the next poll. Order-update listeners (the
WebSocket server) hear a change when it shows, unless pushes are off or the broker is polled.
Reports of one order never go backwards: a change shows only if it is newer than the one shown.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from tradeguard.adapters.sim.timing import BrokerClock, TimerHandle, TimingConfig
from tradeguard.core.broker import OrderReport

log = logging.getLogger(__name__)

OrderListener = Callable[[OrderReport], None]


class OrderReports:
    """The reported side of the order book over one BrokerClock."""

    def __init__(self, clock: BrokerClock) -> None:
        self._clock = clock
        self._shown: dict[str, tuple[int, OrderReport]] = {}  # order id -> (seq, report)
        self._latest: dict[str, tuple[int, OrderReport]] = {}  # the newest change per order
        self._awaiting_poll: dict[str, tuple[int, OrderReport]] = {}
        self._seq = 0
        self._poll: TimerHandle | None = None
        self._last_poll = clock.timer.now() if clock.config.polled else 0.0
        self._listeners: list[OrderListener] = []
        clock.listeners.append(self._reconfigured)

    # -- listeners ---------------------------------------------------------------------------

    def add_listener(self, callback: OrderListener) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: OrderListener) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    # -- what the book says ------------------------------------------------------------------

    def visible(self, order_id: str) -> OrderReport | None:
        shown = self._shown.get(order_id)
        return None if shown is None else shown[1]

    def book(self) -> list[OrderReport]:
        return [report for _, report in self._shown.values()]

    def unreported(self) -> int:
        """How many orders have a change that does not show yet."""
        return sum(1 for oid, (seq, _) in self._latest.items() if self._shown[oid][0] < seq)

    # -- changes -----------------------------------------------------------------------------

    def changed(self, report: OrderReport) -> None:
        """An order changed at the broker (or was just placed)."""
        self._seq += 1
        entry = (self._seq, report)
        self._latest[report.order_id] = entry
        config = self._clock.config
        if report.order_id not in self._shown or config.instant_reports:
            self._show(entry, push=config.pushes)
            return
        lag = self._clock.report_lag()
        if lag <= 0:
            self._lagged(entry)
        else:
            self._clock.timer.call_later(lag, lambda: self._lagged(entry))

    def flush(self) -> None:
        """Show every change now (the timing went back to instant)."""
        self._awaiting_poll.clear()
        for entry in list(self._latest.values()):
            self._show(entry, push=self._clock.config.pushes)

    def _lagged(self, entry: tuple[int, OrderReport]) -> None:
        config = self._clock.config
        if not config.polled:
            self._show(entry, push=config.pushes)
            return
        order_id = entry[1].order_id
        waiting = self._awaiting_poll.get(order_id)
        if waiting is None or waiting[0] < entry[0]:
            self._awaiting_poll[order_id] = entry
        self._schedule_poll()

    def _schedule_poll(self) -> None:
        if self._poll is not None or not self._awaiting_poll:
            return
        interval = self._clock.poll_interval()
        now = self._clock.timer.now()
        polls = math.floor((now - self._last_poll) / interval) + 1
        delay = max(self._last_poll + polls * interval - now, 0.0)
        self._poll = self._clock.timer.call_later(delay, self._polled)

    def _polled(self) -> None:
        self._poll = None
        self._last_poll = self._clock.timer.now()
        waiting, self._awaiting_poll = self._awaiting_poll, {}
        for entry in sorted(waiting.values(), key=lambda e: e[0]):
            self._show(entry, push=False)  # a polled broker pushes nothing

    def _reconfigured(self, config: TimingConfig) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        self._last_poll = self._clock.timer.now()
        if config.instant_reports:
            self.flush()
        elif not config.polled:
            waiting, self._awaiting_poll = self._awaiting_poll, {}
            for entry in sorted(waiting.values(), key=lambda e: e[0]):
                self._show(entry, push=config.pushes)
        else:
            self._schedule_poll()

    def _show(self, entry: tuple[int, OrderReport], *, push: bool) -> None:
        seq, report = entry
        shown = self._shown.get(report.order_id)
        if shown is not None and shown[0] >= seq:
            return  # an older change than the one already shown
        self._shown[report.order_id] = entry
        if not push:
            return
        for listener in list(self._listeners):
            try:
                listener(report)
            except Exception:
                log.exception("order listener failed for %s", report.order_id)
