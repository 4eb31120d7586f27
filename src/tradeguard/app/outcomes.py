"""App layer: what the exit path does once an exit order's fate is known (or cannot be).

Every report goes into the exit order's ledger row first (core.exit_order: duplicates and late
reports change nothing), then: complete -> `engine.close_trade` at the real fill price (order
report, else the trade book's volume-weighted price, else the last price flagged for review),
committed as CLOSED with the strategy's new realized P&L; rejected / cancelled -> EXIT_FAILED
with the broker's message (or, learnt by polling, a plain "no reason known": `final_message`)
and an alert (a part filled before is taken off the trade first);
not final in time -> left EXITING with its order working in the ledger (it still counts on its
key), finished by a late order update or by reconciliation. An outcome that stays unknown ->
the row is UNRESOLVED, the trade EXIT_FAILED ("exit unresolved"), alerted critical.
A trade closed outside tradeguard (no fill of ours to price it) is recorded at its last known
price (`external_price`): the engine's last tick, else the broker's ltp from the position book,
else a quote; only when none is known at the entry (P&L 0), with a note saying so.
`ExitOutcomes` is composed by the executor (and used by recovery); it keeps no state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tradeguard.app.exit_parts import ExitParts
from tradeguard.app.ports import BrokerGateway
from tradeguard.app.records import Record
from tradeguard.app.snapshots import audit
from tradeguard.core.broker import BrokerError, OrderReport, OrderStatus, PositionReport
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.exit_order import ExitOrder, ExitOrderState
from tradeguard.core.model import TradeState
from tradeguard.core.money import fmt
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)


def exit_tag(strategy_id: str, reason: str, trade_id: str) -> str:
    """OpenAlgo's free-text `strategy` field of every exit order."""
    return f"tg:{strategy_id}:{reason}:{trade_id}"


def trade_last_price(engine: RiskEngine, trade: Trade) -> int:
    """The best price we know for a trade without a fill: last tick, else entry (no P&L)."""
    last = engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
    return last if last is not None else trade.entry_price


async def external_price(
    engine: RiskEngine,
    broker: BrokerGateway,
    trade: Trade,
    positions: Sequence[PositionReport] = (),
) -> tuple[int, str]:
    """The price of a trade closed outside tradeguard, and where it came from: the engine's
    last tick of its symbol ("last tick"), else the broker's ltp of the symbol in `positions`
    (a closed position stays in OpenAlgo's position book with quantity 0 and its ltp), else a
    quote; else the entry ("entry": no price known, P&L 0)."""
    symbol, exchange = trade.instrument.symbol, trade.instrument.exchange
    last = engine.last_price(symbol, exchange)
    if last is not None:
        return last, "last tick"
    for row in positions:
        if (row.symbol, row.exchange) == (symbol, exchange) and row.ltp:
            return row.ltp, "broker position book ltp"
    try:
        quote = (await broker.quotes([(symbol, exchange)])).get((symbol, exchange))
    except BrokerError as error:
        log.warning("no quote for %s:%s to price %s (%s)", symbol, exchange, trade.trade_id, error)
        quote = None
    if quote:
        return quote, "broker quote"
    return trade.entry_price, "entry"


def external_note(price: int, source: str) -> str:
    """The note of a trade closed outside tradeguard at `price` from `source`."""
    if source == "entry":
        return "no last price known (no tick, no broker ltp or quote): recorded at the entry, P&L 0"
    return f"recorded at the last known price {fmt(price)} ({source})"


def final_message(report: OrderReport) -> str:
    """What a trader reads about an exit order that ended without filling. The broker's reason
    comes only with a pushed order update: OpenAlgo's orderstatus and orderbook rows have no
    rejection reason, so a rejection learnt by polling says so instead of inventing one."""
    head = f"exit order {report.order_id} {report.status.value}"
    if report.rejection_reason:
        return f"{head}: {report.rejection_reason}"
    if report.status is OrderStatus.REJECTED:
        return (
            f"{head} by the broker; its reason is not known here (OpenAlgo's order status "
            "carries none when there is no order push): see the order in the broker's order book"
        )
    return f"{head} at the broker (not by tradeguard)"


class ExitOutcomes:
    """Outcome handling shared by the executor's placement, resume and late-update paths."""

    def __init__(self, parts: ExitParts) -> None:
        self.parts = parts

    async def await_outcome(self, trade: Trade, order: ExitOrder, acked: int) -> None:
        """Wait for the order's final report (pushed or polled), then apply it."""
        p = self.parts
        assert order.order_id is not None
        report = await p.tracker.wait_final(order.order_id, order.tag)
        if report is None:
            p.alerts.alert(
                "warning",
                f"exit order {order.order_id} of {trade.trade_id} not final after "
                f"{p.policy.resolve_timeout:.0f}s; still tracking it",
                trade_id=trade.trade_id,
            )
            return
        if report.status is OrderStatus.COMPLETE:
            p.metrics.ack_to_complete.record(p.clock.now() - acked)
        await self.apply_final(trade, order, report)

    def note_report(self, order: ExitOrder, report: OrderReport) -> bool:
        """Put a report of the order into its ledger row; True when the row changed."""
        changed = order.apply_report(report, self.parts.clock.now())
        if changed:
            self.parts.touch(order.key)
        return changed

    async def apply_final(self, trade: Trade, order: ExitOrder, report: OrderReport) -> None:
        """A final report of the trade's exit order: close it, or mark the exit failed."""
        p = self.parts
        if order.order_id is None:
            p.ledger.bind(order, report.order_id)
        self.note_report(order, report)
        if report.status is OrderStatus.COMPLETE:
            await self._filled(trade, order, report)
            return
        filled = order.filled
        if 0 < filled < trade.quantity:
            now = p.clock.now()
            price = order.average_price
            p.dispatch(
                p.engine.reduce_quantity(trade.trade_id, trade.quantity - filled, price, now)
            )
        await self.fail(trade, order, final_message(report))

    async def _filled(self, trade: Trade, order: ExitOrder, report: OrderReport) -> None:
        p = self.parts
        price = report.average_price or order.average_price
        if price is None:
            price = await self._fill_price(report.order_id)
        review = False
        if price is None:
            price, review = trade_last_price(p.engine, trade), True
        if report.action.upper() != trade.side.exit_action or report.quantity != trade.quantity:
            review = True
            p.alerts.alert(
                "critical",
                f"exit order {report.order_id} of {trade.trade_id} was {report.action} "
                f"{report.quantity}, expected {trade.side.exit_action} {trade.quantity}",
                trade_id=trade.trade_id,
            )
        now = p.clock.now()
        decisions = p.engine.close_trade(trade.trade_id, price, now)
        await self.commit_closed(
            trade, "exit_filled", order=order, order_id=report.order_id, review=review
        )
        p.dispatch(decisions)

    async def _fill_price(self, order_id: str) -> int | None:
        """Volume-weighted price of the order's fills from the trade book."""
        try:
            fills = [f for f in await self.parts.broker.trade_book() if f.order_id == order_id]
        except BrokerError:
            return None
        quantity = sum(f.quantity for f in fills)
        if not quantity:
            return None
        return round(sum(f.average_price * f.quantity for f in fills) / quantity)

    async def commit_closed(
        self, trade: Trade, action: str, *, order: ExitOrder | None = None, **detail: object
    ) -> None:
        """The trade is closed (filled, or gone at the broker): its row, its strategy's, its
        exit order's (when one is concerned) and an audit entry, in one transaction."""
        p = self.parts
        now = p.clock.now()
        records: list[Record] = [
            p.snapshots.trade_record(trade, now),
            p.snapshots.strategy_record(p.engine.strategy(trade.strategy_id), now),
        ]
        if order is not None:
            records.append(p.snapshots.exit_record(order, now))
        records.append(
            audit(
                now,
                action,
                trade.trade_id,
                state=trade.state.value,
                exit_price=trade.exit_price,
                realized_pnl=trade.realized_pnl,
                **detail,
            )
        )
        p.snapshots.forget(trade.trade_id)
        p.closed(trade)
        await p.commit(records)

    async def fail(self, trade: Trade, order: ExitOrder | None, message: str) -> None:
        """EXIT_FAILED with the message, alerted. `order` still INTENT or SUBMITTED_UNKNOWN
        here never reached the broker (every caller knows nothing was placed: a rejection at
        placement, retries or session waits run out, an unreadable position): it is
        abandoned. A sent one keeps its state."""
        p = self.parts
        if trade.state is TradeState.EXITING:
            p.engine.exit_failed(trade.trade_id)
        now = p.clock.now()
        records: list[Record] = []
        if order is not None:
            if order.state in (ExitOrderState.INTENT, ExitOrderState.SUBMITTED_UNKNOWN):
                order.abandon(now, message)
                p.touch(order.key)
            else:
                order.message = message
            records.append(p.snapshots.exit_record(order, now))
        else:
            p.snapshots.note(trade.trade_id, message)
        await p.commit(
            [
                p.snapshots.trade_record(trade, now),
                *records,
                audit(now, "exit_failed", trade.trade_id, message=message),
            ]
        )
        p.alerts.alert(
            "error", f"exit of {trade.trade_id} FAILED: {message}", trade_id=trade.trade_id
        )

    async def not_placed(self, trade: Trade, order: ExitOrder, message: str) -> None:
        self.parts.alerts.alert(
            "critical",
            f"exit of {trade.trade_id} NOT PLACED (semi-auto or no-op?): {message}",
            trade_id=trade.trade_id,
        )
        await self.fail(trade, order, f"not placed: {message}")

    async def adopted(self, trade: Trade, order: ExitOrder, report: OrderReport) -> None:
        """The order book shows the one order our unknown outcome placed: it is ours."""
        p = self.parts
        now = p.clock.now()
        p.ledger.bind(order, report.order_id)
        order.acknowledged(report.order_id, now)
        self.note_report(order, report)
        await p.commit_exit(
            trade, order, audit(now, "exit_adopted", trade.trade_id, order_id=report.order_id)
        )
        await self.await_outcome(trade, order, now)

    async def unresolved(self, trade: Trade, order: ExitOrder, message: str) -> None:
        """The outcome stays unknown: never guessed, never placed again (unless the policy
        says so, see ExecutorPolicy): the row is UNRESOLVED (it still counts on its key and
        an order report or a reconciliation can still settle it), the trade EXIT_FAILED, so
        it fires nothing more until a person retries it; alerted critical."""
        p = self.parts
        now = p.clock.now()
        if order.state is not ExitOrderState.UNRESOLVED:
            order.unresolved(now, message)
        order.message = message
        if trade.state is TradeState.EXITING:
            p.engine.exit_failed(trade.trade_id)
        p.alerts.alert(
            "critical", f"exit of {trade.trade_id} UNRESOLVED: {message}", trade_id=trade.trade_id
        )
        await p.commit_exit(
            trade, order, audit(now, "exit_unresolved", trade.trade_id, message=message)
        )

    async def resume(self, trade_id: str, order_id: str) -> None:
        """Keep resolving an exit order that is already working (recovery, reconciliation)."""
        p = self.parts
        trade = p.engine.trade(trade_id)
        order = p.ledger.by_order(order_id)
        if order is None:
            order = p.ledger.latest(trade_id)
            if order is None or order.order_id not in (None, order_id):
                log.error("no ledger row for exit order %s of %s", order_id, trade_id)
                return
            p.ledger.bind(order, order_id)
            order.acknowledged(order_id, p.clock.now())
        await self.await_outcome(trade, order, p.clock.now())

    async def finish_late(self, trade_id: str, report: OrderReport) -> None:
        """A final report that came after the executor stopped waiting for it."""
        p = self.parts
        order = p.ledger.by_order(report.order_id)
        try:
            trade = p.engine.trade(trade_id)
        except EngineError:
            return
        if order is not None and trade.state is TradeState.EXITING:
            await self.apply_final(trade, order, report)
