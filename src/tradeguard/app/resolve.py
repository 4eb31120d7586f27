"""App layer: learning what became of an exit order, without ever guessing.

`OrderTracker` keeps the latest report per order id from the feed's order-update stream (an
update may arrive before `place_order` even returns the id) and waits for a final status: it
races the pushed update against `order_status` polls at a bounded rate; `refresh` reads one
order's status now. `find_placed` answers "did our unknown-outcome placement create an
order?" from the order book: exactly one unclaimed match is adopted; several are ambiguous
(never guessed); a book that shows none on `absent_confirmations` reads is "absent", which
places again only when the policy says so (`place_again_after_unknown`, default off).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tradeguard.app.ports import BrokerGateway, Clock
from tradeguard.core.broker import BrokerError, OrderReport
from tradeguard.core.reconcile import TradeSnapshot, exit_candidates

log = logging.getLogger(__name__)

_KEEP_REPORTS = 2_000


@dataclass(frozen=True, slots=True)
class ExecutorPolicy:
    """Timings and bounds of the exit path (seconds). Defaults suit OpenAlgo's rate limits:
    status polls stay well under 1/s per order on average once backed off."""

    poll_interval: float = 0.5  # first order_status poll after this long without an update
    poll_max_interval: float = 2.0
    resolve_timeout: float = 30.0  # then: left EXITING with its order id for reconciliation
    # ... and watched: one order-book read per `watch_interval` while such an exit works
    # (watch.py), plus at most `watch_status_reads` orderstatus reads for orders not listed
    watch_interval: float = 3.0
    watch_status_reads: int = 2
    retry_base: float = 0.25  # back-off after 429 / connection errors (nothing was placed)
    retry_max: float = 4.0
    retry_limit: int = 6
    session_interval: float = 2.0  # ping while the broker session is down (403)
    session_limit: int = 150  # -> 5 minutes of waiting, then EXIT_FAILED
    book_interval: float = 1.0  # between order-book checks of an unknown outcome
    book_checks: int = 5  # order-book reads tried for an unknown outcome
    absent_confirmations: int = 2  # "no such order" readings that count as absent
    # After an unknown outcome whose order the book does not show: place again (True), or
    # (the default) leave the exit unresolved, alert, and wait for the order book, the order
    # updates or a person. A slow broker (an order that shows up in the book late) or a
    # skewed clock can make an order that exists look absent: placing again risks a double
    # exit, which is why it is off unless chosen.
    place_again_after_unknown: bool = False
    max_attempts: int = 3  # placements per exit (each re-placement is audited)
    # createtrade from an entry order still `open` (its fill not reported yet: brokers without
    # order push report it seconds late): read its status every `entry_poll` seconds for up to
    # `entry_wait` seconds before refusing it as not complete
    entry_wait: float = 10.0
    entry_poll: float = 1.0


class Search(StrEnum):
    """What the order book said about an unknown outcome."""

    FOUND = "found"  # exactly one unclaimed matching order
    ABSENT = "absent"  # no such order on `absent_confirmations` reads
    AMBIGUOUS = "ambiguous"  # several could be it: never guessed
    UNREADABLE = "unreadable"  # the book could not be read


class OrderTracker:
    """Latest report per order id, and waiters for a final one."""

    def __init__(self, broker: BrokerGateway, clock: Clock, policy: ExecutorPolicy) -> None:
        self._broker = broker
        self._clock = clock
        self._policy = policy
        self._reports: OrderedDict[str, OrderReport] = OrderedDict()
        self._waiters: dict[str, list[asyncio.Future[OrderReport]]] = {}

    def push(self, report: OrderReport) -> None:
        """An order update (feed or poll). Wakes waiters when it is final."""
        self._reports[report.order_id] = report
        self._reports.move_to_end(report.order_id)
        while len(self._reports) > _KEEP_REPORTS:
            self._reports.popitem(last=False)
        if report.status.is_final:
            for waiter in self._waiters.pop(report.order_id, []):
                if not waiter.done():
                    waiter.set_result(report)

    def final(self, order_id: str) -> OrderReport | None:
        report = self._reports.get(order_id)
        return report if report is not None and report.status.is_final else None

    async def wait_final(self, order_id: str, strategy: str) -> OrderReport | None:
        """The order's final report, or None after `resolve_timeout` (still working or unknown)."""
        policy = self._policy
        known = self.final(order_id)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[OrderReport] = loop.create_future()
        self._waiters.setdefault(order_id, []).append(waiter)
        interval, waited = policy.poll_interval, 0.0
        try:
            while waited < policy.resolve_timeout:
                sleeper: asyncio.Future[Any] = asyncio.ensure_future(self._clock.sleep(interval))
                racers: set[asyncio.Future[Any]] = {waiter, sleeper}
                await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
                if waiter.done():
                    sleeper.cancel()
                    await asyncio.gather(sleeper, return_exceptions=True)
                    return waiter.result()
                waited += interval
                interval = min(interval * 2, policy.poll_max_interval)
                report = await self._poll(order_id, strategy)
                if report is not None and report.status.is_final:
                    self.push(report)
                    return report
            return None
        finally:
            if not waiter.done():
                waiter.cancel()
            waiters = self._waiters.get(order_id)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[order_id]

    async def refresh(self, order_id: str, strategy: str) -> OrderReport | None:
        """The order's status read now (None when it could not be read); final ones are kept
        and wake the order's waiters."""
        report = await self._poll(order_id, strategy)
        if report is not None:
            self.push(report)
        return report

    async def _poll(self, order_id: str, strategy: str) -> OrderReport | None:
        try:
            return await self._broker.order_status(order_id, strategy)
        except BrokerError as error:  # not found yet, 5xx, 429, session: poll again later
            log.info("order_status %s failed (%s); will poll again", order_id, error)
            return None

    async def find_placed(
        self,
        trade: TradeSnapshot,
        quantity: int,
        intent_at: int | None,
        claimed: Collection[str],
    ) -> tuple[OrderReport | None, Search]:
        """After an unknown outcome: the matching order (FOUND), or why there is none."""
        policy = self._policy
        absent = 0
        for check in range(policy.book_checks):
            if check:
                await self._clock.sleep(policy.book_interval)
            try:
                orders = await self._broker.order_book()
            except BrokerError as error:
                log.warning("order book unavailable while resolving %s: %s", trade.trade_id, error)
                continue
            for report in orders:
                if report.status.is_final:
                    self.push(report)
            found, count = exit_candidates(orders, trade, quantity, intent_at, claimed)
            if found is not None:
                return found, Search.FOUND
            if count:
                return None, Search.AMBIGUOUS
            absent += 1
            if absent >= policy.absent_confirmations:
                return None, Search.ABSENT
        return None, Search.UNREADABLE
