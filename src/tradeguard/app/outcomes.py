"""App layer: what the executor does once an exit order's fate is known (or cannot be).

complete -> `engine.close_trade` at the real fill price (order report, else the trade book's
volume-weighted price, else the last price flagged for review), committed as CLOSED with the
strategy's new realized P&L; rejected / cancelled -> EXIT_FAILED with the broker's message and
an alert; not final in time -> left EXITING with its order id, finished by a late order update
or by reconciliation. `ExitOutcomes` is the executor's base class; it holds no state of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tradeguard.app.metrics import ExitMetrics
from tradeguard.app.ports import AlertSink, BrokerGateway, Clock, Store
from tradeguard.app.records import Record
from tradeguard.app.resolve import ExecutorPolicy, OrderTracker, claimed_ids
from tradeguard.app.snapshots import ExitInfo, Snapshots, audit, commit_logged
from tradeguard.core.broker import BrokerError, OrderReport, OrderStatus
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.model import TradeState
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)


def exit_tag(strategy_id: str, reason: str, trade_id: str) -> str:
    """OpenAlgo's free-text `strategy` field of every exit order."""
    return f"tg:{strategy_id}:{reason}:{trade_id}"


def trade_last_price(engine: RiskEngine, trade: Trade) -> int:
    """The best price we know for a trade without a fill: last tick, else entry (no P&L)."""
    last = engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
    return last if last is not None else trade.entry_price


class ExitOutcomes:
    """Outcome handling shared by the executor's placement, resume and late-update paths."""

    engine: RiskEngine
    broker: BrokerGateway
    store: Store
    clock: Clock
    alerts: AlertSink
    snapshots: Snapshots
    policy: ExecutorPolicy
    metrics: ExitMetrics
    tracker: OrderTracker
    _waiting: dict[str, str]
    _dispatch: Callable[[Decisions], None]
    _closed: Callable[[Trade], None]

    async def _await_outcome(
        self, trade: Trade, info: ExitInfo, order_id: str, tag: str, acked: int
    ) -> None:
        report = await self.tracker.wait_final(order_id, tag)
        if report is None:
            self._waiting[order_id] = trade.trade_id
            self.alerts.alert(
                "warning",
                f"exit order {order_id} of {trade.trade_id} not final after "
                f"{self.policy.resolve_timeout:.0f}s; still tracking it",
                trade_id=trade.trade_id,
            )
            return
        if report.status is OrderStatus.COMPLETE:
            self.metrics.ack_to_complete.record(self.clock.now() - acked)
        await self.apply_final(trade, info, report)

    async def apply_final(self, trade: Trade, info: ExitInfo, report: OrderReport) -> None:
        """A final report of the trade's exit order: close it, or mark the exit failed."""
        if report.status is OrderStatus.COMPLETE:
            await self._filled(trade, info, report)
            return
        reason = report.rejection_reason or report.status.value
        filled = report.filled_quantity or 0
        if 0 < filled < trade.quantity and report.average_price:
            now = self.clock.now()
            self._dispatch(
                self.engine.reduce_quantity(
                    trade.trade_id, trade.quantity - filled, report.average_price, now
                )
            )
        await self._fail(trade, info, f"exit order {report.order_id} {report.status}: {reason}")

    async def _filled(self, trade: Trade, info: ExitInfo, report: OrderReport) -> None:
        price = report.average_price or await self._fill_price(report.order_id)
        review = False
        if price is None:
            price, review = trade_last_price(self.engine, trade), True
        if report.action.upper() != trade.side.exit_action or report.quantity != trade.quantity:
            review = True
            self.alerts.alert(
                "critical",
                f"exit order {report.order_id} of {trade.trade_id} was {report.action} "
                f"{report.quantity}, expected {trade.side.exit_action} {trade.quantity}",
                trade_id=trade.trade_id,
            )
        now = self.clock.now()
        decisions = self.engine.close_trade(trade.trade_id, price, now)
        info.order_id = report.order_id
        await self.commit_closed(trade, "exit_filled", order_id=report.order_id, review=review)
        self._dispatch(decisions)

    async def _fill_price(self, order_id: str) -> int | None:
        """Volume-weighted price of the order's fills from the trade book."""
        try:
            fills = [f for f in await self.broker.trade_book() if f.order_id == order_id]
        except BrokerError:
            return None
        quantity = sum(f.quantity for f in fills)
        if not quantity:
            return None
        return round(sum(f.average_price * f.quantity for f in fills) / quantity)

    async def commit_closed(self, trade: Trade, action: str, **detail: object) -> None:
        now = self.clock.now()
        records: list[Record] = [
            self.snapshots.trade_record(trade, now),
            self.snapshots.strategy_record(self.engine.strategy(trade.strategy_id), now),
            audit(
                now,
                action,
                trade.trade_id,
                state=trade.state.value,
                exit_price=trade.exit_price,
                realized_pnl=trade.realized_pnl,
                **detail,
            ),
        ]
        self.snapshots.forget(trade.trade_id)
        self._closed(trade)
        await self._commit(records)

    async def _fail(self, trade: Trade, info: ExitInfo, message: str) -> None:
        if trade.state is TradeState.EXITING:
            self.engine.exit_failed(trade.trade_id)
        info.message = message
        now = self.clock.now()
        await self._commit(
            [
                self.snapshots.trade_record(trade, now),
                audit(now, "exit_failed", trade.trade_id, message=message),
            ]
        )
        self.alerts.alert(
            "error", f"exit of {trade.trade_id} FAILED: {message}", trade_id=trade.trade_id
        )

    async def _not_placed(self, trade: Trade, info: ExitInfo, message: str) -> None:
        self.alerts.alert(
            "critical",
            f"exit of {trade.trade_id} NOT PLACED (semi-auto or no-op?): {message}",
            trade_id=trade.trade_id,
        )
        await self._fail(trade, info, f"not placed: {message}")

    async def _adopted(self, trade: Trade, info: ExitInfo, order: OrderReport) -> None:
        now = self.clock.now()
        await self._commit(
            [
                self.snapshots.trade_record(trade, now),
                audit(now, "exit_adopted", trade.trade_id, order_id=order.order_id),
            ]
        )
        tag = exit_tag(trade.strategy_id, info.reason or "EXIT", trade.trade_id)
        await self._await_outcome(trade, info, order.order_id, tag, now)

    async def _leave_unresolved(self, trade: Trade, info: ExitInfo) -> None:
        message = "exit outcome unknown and the order book unreadable; reconciliation will settle"
        info.message = message
        self.alerts.alert("critical", f"{trade.trade_id}: {message}", trade_id=trade.trade_id)
        now = self.clock.now()
        await self._commit(
            [self.snapshots.trade_record(trade, now), audit(now, "exit_unresolved", trade.trade_id)]
        )

    async def _commit(self, records: list[Record]) -> bool:
        return await commit_logged(self.store, records)

    # -- unknown outcomes -----------------------------------------------------------------

    async def _resolve_unknown(
        self, trade: Trade, info: ExitInfo
    ) -> tuple[OrderReport | None, bool]:
        claimed = claimed_ids(
            [i.order_id for i in self.snapshots.exits.values()],
            [t.entry_order_id for t in self.engine.trades()],
        )
        snapshot = self.snapshots.reconcile_snapshot(trade)
        order, absent = await self.tracker.find_placed(
            snapshot, trade.quantity, info.intent_at, claimed
        )
        if order is not None:
            info.order_id = order.order_id  # claimed at once: no await since the search
        return order, absent

    async def _resume(self, trade_id: str, order_id: str) -> None:
        trade = self.engine.trade(trade_id)
        info = self.snapshots.exit_info(trade_id)
        info.order_id = order_id
        tag = exit_tag(trade.strategy_id, info.reason or "EXIT", trade_id)
        await self._await_outcome(trade, info, order_id, tag, self.clock.now())

    async def _finish_late(self, trade_id: str, report: OrderReport) -> None:
        try:
            trade = self.engine.trade(trade_id)
        except EngineError:
            return
        if trade.state is TradeState.EXITING:
            await self.apply_final(trade, self.snapshots.exit_info(trade_id), report)
