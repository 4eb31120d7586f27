"""App layer: exits that OpenAlgo's semi-auto mode queued in its Action Center, composed by the
executor (and read by the service facade).

OpenAlgo in semi-auto mode answers placeorder/placesmartorder with success, a
`pending_order_id` and no order id: nothing is placed until the trader approves it in
OpenAlgo's Action Center, and it is placed whenever they do. So a queued exit is neither placed
nor failed: its ledger row is QUEUED_FOR_APPROVAL with the pending id (it counts on its key like
a working order), the trade is EXIT_FAILED (it needs the trader; its rules fire nothing more),
and a critical alert says what to do in the Action Center.

While such a row may still be approved, no other exit is placed for the trade: a new exit
reaching the executor is refused (the trade stays EXIT_FAILED, alerted, audited), and a
person's retry (exittrade) is refused with a clear message unless they confirm the queued order
was rejected (`release`: the row is ABANDONED, audited with who said so). An approved order
shows in the order book: a watch per queued exit reads it every `interval` seconds and adopts
the one unclaimed order on the key with the exit's side and quantity placed after the intent
(several: alerted once, never guessed); the trade then closes on that order's fill like any
exit. After a restart the rows are read back QUEUED (reconciliation adopts an order approved
meanwhile) and `watch_all` watches them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from tradeguard.app.errors import Conflict
from tradeguard.app.exit_parts import ExitParts
from tradeguard.app.outcomes import ExitOutcomes
from tradeguard.app.snapshots import audit
from tradeguard.app.tasks import cancel_and_wait
from tradeguard.core.broker import BrokerError, OrderReport, Queued
from tradeguard.core.engine import EngineError
from tradeguard.core.exit_order import ExitOrder, ExitOrderState
from tradeguard.core.model import TradeState
from tradeguard.core.reconcile import exit_candidates
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)

Guard = Callable[[str, int, Coroutine[Any, Any, None]], Awaitable[None]]


def what_to_do(trade_id: str, pending_id: str | None) -> str:
    """The instructions for the trader, in every alert and refusal about a queued exit."""
    which = f"pending order {pending_id}" if pending_id else "the queued order"
    return (
        f"In OpenAlgo's Action Center, either APPROVE {which} (tradeguard adopts it and closes "
        f"the trade on its fill), or REJECT it and then retry the exit with exittrade and "
        f'"pending_rejected": true. tradeguard places no other exit for {trade_id} until then. '
        "Switch OpenAlgo's order mode to auto for automatic exits."
    )


async def queued_retry(
    queued: QueuedExits, trade: Trade, actor: str, pending_rejected: bool
) -> None:
    """Before a person's exit of `trade`: refused (Conflict, nothing changed) while its exit
    may still be approved in the Action Center, unless they confirm they rejected it there
    (`pending_rejected`): then the queued row is given up, audited."""
    row = queued.blocking(trade.trade_id)
    if row is None:
        return
    if not pending_rejected:
        raise Conflict(
            f"trade {trade.trade_id}: its exit is queued for approval in OpenAlgo's Action "
            f"Center (pending order {row.pending_id}); no second exit is placed while it may "
            f"still be approved. Approve it there, or reject it there and retry with "
            f'"pending_rejected": true'
        )
    await queued.release(trade, actor)


class QueuedExits:
    """Exits queued for approval: recorded, guarded against a second exit, watched, adopted."""

    def __init__(
        self,
        parts: ExitParts,
        outcomes: ExitOutcomes,
        claimed: Callable[[], set[str]],
        guard: Guard,
        *,
        interval: float = 2.0,
    ) -> None:
        self.parts = parts
        self.outcomes = outcomes
        self._claimed = claimed
        self._guard = guard
        self.interval = interval
        self._watches: dict[str, asyncio.Task[None]] = {}

    # -- reading --------------------------------------------------------------------------

    def blocking(self, trade_id: str) -> ExitOrder | None:
        """The trade's exit that is queued for approval (None: none may be approved)."""
        for order in self.parts.ledger.of_trade(trade_id):
            if order.state is ExitOrderState.QUEUED:
                return order
        return None

    # -- the queued reply -----------------------------------------------------------------

    async def hold(self, trade: Trade, order: ExitOrder, error: Queued) -> None:
        """The placement was queued: record the pending id, EXIT_FAILED, alert, watch."""
        p = self.parts
        now = p.clock.now()
        pending = error.pending_id
        order.queued(
            pending,
            now,
            f"queued for approval in OpenAlgo's Action Center (pending order {pending}): "
            "not placed until approved there",
        )
        p.touch(order.key)
        if trade.state is TradeState.EXITING:
            p.engine.exit_failed(trade.trade_id)
        await p.commit_exit(
            trade,
            order,
            audit(
                now,
                "exit_queued",
                trade.trade_id,
                pending_order_id=pending,
                exit_id=order.exit_id,
                detail=error.detail,
            ),
        )
        p.alerts.alert(
            "critical",
            f"exit of {trade.trade_id} ({order.side} {order.quantity} {order.key[0]}) was QUEUED "
            f"for approval (OpenAlgo semi-auto mode), NOT placed. "
            + what_to_do(trade.trade_id, pending),
            trade_id=trade.trade_id,
            pending_order_id=pending,
        )
        self.watch(trade.trade_id)

    async def refuse(self, trade: Trade, queued: ExitOrder) -> None:
        """A new exit of a trade whose queued exit may still be approved: not placed."""
        p = self.parts
        now = p.clock.now()
        if trade.state is TradeState.EXITING:
            p.engine.exit_failed(trade.trade_id)
        await p.commit(
            [
                p.snapshots.trade_record(trade, now),
                audit(
                    now,
                    "exit_refused_queued",
                    trade.trade_id,
                    pending_order_id=queued.pending_id,
                    reason=trade.exit_reason.value if trade.exit_reason else None,
                ),
            ]
        )
        p.alerts.alert(
            "critical",
            f"exit of {trade.trade_id} NOT placed: its earlier exit is still queued for "
            f"approval (pending order {queued.pending_id}). "
            + what_to_do(trade.trade_id, queued.pending_id),
            trade_id=trade.trade_id,
            pending_order_id=queued.pending_id,
        )

    async def release(self, trade: Trade, actor: str) -> list[ExitOrder]:
        """The trader says the queued order was rejected in the Action Center: the row is
        given up (ABANDONED, audited with who said so); a new exit may go out."""
        p = self.parts
        rows = [o for o in p.ledger.of_trade(trade.trade_id) if o.state is ExitOrderState.QUEUED]
        if not rows:
            return rows
        now = p.clock.now()
        for order in rows:
            order.abandon(
                now,
                f"pending order {order.pending_id} rejected in OpenAlgo's Action Center "
                f"(confirmed by {actor})",
            )
            p.touch(order.key)
            self._stop(trade.trade_id)
        await p.commit(
            [
                *(p.snapshots.exit_record(o, now) for o in rows),
                audit(
                    now,
                    "exit_queued_rejected",
                    trade.trade_id,
                    actor=actor,
                    pending_order_ids=[o.pending_id for o in rows],
                    exits=[o.exit_id for o in rows],
                ),
            ]
        )
        return rows

    # -- watching for the approved order --------------------------------------------------

    def watch_all(self) -> None:
        """Watch every queued exit in the ledger (after recovery)."""
        for order in list(self.parts.ledger):
            if order.state is ExitOrderState.QUEUED:
                self.watch(order.trade_id)

    def watch(self, trade_id: str) -> None:
        task = self._watches.get(trade_id)
        if task is not None and not task.done():
            return
        task = asyncio.create_task(self._watch(trade_id), name=f"tradeguard-queued-{trade_id}")
        self._watches[trade_id] = task
        task.add_done_callback(lambda t: self._done(trade_id, t))

    def _done(self, trade_id: str, task: asyncio.Task[None]) -> None:
        if self._watches.get(trade_id) is task:
            del self._watches[trade_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("watch of the queued exit of %s crashed: %r", trade_id, task.exception())

    def _stop(self, trade_id: str) -> None:
        task = self._watches.pop(trade_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def close(self) -> None:
        tasks, self._watches = list(self._watches.values()), {}
        await cancel_and_wait(*tasks)

    async def _watch(self, trade_id: str) -> None:
        p = self.parts
        warned = False
        while True:
            await p.clock.sleep(self.interval)
            order = self.blocking(trade_id)
            if order is None:
                return
            try:
                trade = p.engine.trade(trade_id)
            except EngineError:
                return  # closed meanwhile (by hand, reconciled)
            try:
                orders = await p.broker.order_book()
            except BrokerError as error:
                log.warning("order book unavailable while watching %s: %s", trade_id, error)
                continue
            if self.blocking(trade_id) is not order:
                return  # released or adopted while the book was read
            found, count = exit_candidates(
                orders,
                p.snapshots.reconcile_snapshot(trade),
                order.quantity,
                order.intent_at,
                self._claimed(),
            )
            if found is not None:
                await self._guard(trade_id, 0, self._adopt(trade, order, found))
                return
            if count and not warned:
                warned = True
                p.alerts.alert(
                    "critical",
                    f"{count} unclaimed orders could be the approved exit of {trade_id} "
                    f"(pending order {order.pending_id}): not guessed; check the order book",
                    trade_id=trade_id,
                )

    async def _adopt(self, trade: Trade, order: ExitOrder, report: OrderReport) -> None:
        if order.state is not ExitOrderState.QUEUED:
            return
        log.info("queued exit of %s approved: adopting order %s", trade.trade_id, report.order_id)
        if trade.state is TradeState.EXIT_FAILED:
            trade.transition(TradeState.EXITING)  # its exit is working again
        await self.outcomes.adopted(trade, order, report)
