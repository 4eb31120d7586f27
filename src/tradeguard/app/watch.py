"""App layer: the watch over exit orders that are working with nobody waiting for them.

The exit path waits `resolve_timeout` for an exit order's final report, then leaves the order
WORKING in the ledger for a late order update or a reconciliation to finish. With a broker
whose order reports come late or only by polling (no order push), neither may ever come: a
reconciliation that reads the order while its report still lags sees it `open`. So, every
`watch_interval` seconds, while at least one exit order is working in the ledger of an EXITING
trade that no exit task is resolving, `WorkingExitWatch` reads the broker's order book ONCE
(one request covers every such order: well within OpenAlgo's budget of about one book read per
second) and hands each of their rows to the executor as an order update: a final one finishes
the exit (CLOSED at the fill price, or EXIT_FAILED with the broker's message), exactly as a
pushed update would. An order the book does not list is read by `orderstatus` (at most
`watch_status_reads` per round). Nothing is read when no such exit order exists. A round that
cannot read the book is logged and tried again next round. Runs under the Supervisor.
"""

from __future__ import annotations

import logging

from tradeguard.app.executor import ExitExecutor
from tradeguard.app.ports import Clock
from tradeguard.core.broker import BrokerError
from tradeguard.core.engine import EngineError
from tradeguard.core.exit_order import ExitOrder, ExitOrderState
from tradeguard.core.model import TradeState

log = logging.getLogger(__name__)

_WATCHED = (ExitOrderState.WORKING, ExitOrderState.PARTLY_FILLED)


class WorkingExitWatch:
    """Polls the order book for working exit orders that nobody waits for."""

    def __init__(self, executor: ExitExecutor, clock: Clock) -> None:
        self.executor = executor
        self.clock = clock
        self.rounds = 0  # order-book reads made by the watch
        self.finished = 0  # final reports it handed over

    def unwatched(self) -> list[ExitOrder]:
        """Working exit orders (with an order id) of EXITING trades no exit task resolves."""
        parts = self.executor.parts
        busy = self.executor.in_flight()
        found: list[ExitOrder] = []
        for order in parts.ledger:
            if order.state not in _WATCHED or order.order_id is None or order.trade_id in busy:
                continue
            try:
                trade = parts.engine.trade(order.trade_id)
            except EngineError:
                continue
            if trade.state is TradeState.EXITING and parts.ledger.latest(trade.trade_id) is order:
                found.append(order)
        return found

    async def run(self) -> None:
        interval = self.executor.policy.watch_interval
        while True:
            await self.clock.sleep(interval)
            await self.round()

    async def round(self) -> int:
        """One look at the unwatched working exits; returns how many reports were final."""
        orders = self.unwatched()
        if not orders:
            return 0
        parts = self.executor.parts
        self.rounds += 1
        try:
            book = {r.order_id: r for r in await parts.broker.order_book()}
        except BrokerError as error:
            log.warning("working exits: order book unavailable (%s); next round", error)
            return 0
        reports = []
        reads = self.executor.policy.watch_status_reads
        for order in orders:
            assert order.order_id is not None
            report = book.get(order.order_id)
            if report is None and reads > 0:
                reads -= 1
                report = await parts.tracker.refresh(order.order_id, order.tag)
            if report is not None:
                reports.append(report)
        final = 0
        for report in reports:
            if report.status.is_final:
                final += 1
                log.info("working exits: order %s is %s", report.order_id, report.status)
            self.executor.on_order_update(report)
        self.finished += final
        return final
