"""App layer: conversion between live core objects (Trade, StrategyBook, ExitOrder) and
storage records.

A Trade does not know its exit orders, and a StrategyBook does not know its account or display
name: `Snapshots` holds the exit-order ledger (core.exit_order.ExitLedger, the one source of
truth for what we have sent) beside the engine, so every TradeRecord / StrategyRecord /
ExitOrderRecord it builds is a complete, idempotent snapshot. A trade row's exit columns
(attempt, intent time, order id, message) are copied from the trade's latest exit order, for
display and for rows read by older tools; nothing reads them back but a start-up from a
database written before the ledger existed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tradeguard.app.ports import Store
from tradeguard.app.records import (
    AuditRecord,
    ExitOrderRecord,
    Record,
    StrategyRecord,
    TradeProgress,
    TradeRecord,
)
from tradeguard.app.views import name_of, owner_of
from tradeguard.core.codec import config_from_dict, config_to_dict, rules_from_dict, rules_to_dict
from tradeguard.core.engine import RiskEngine
from tradeguard.core.exit_order import ExitLedger, ExitOrder, ExitOrderState
from tradeguard.core.model import ExitReason, Instrument, Product, Side, TradeState
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.reconcile import TradeSnapshot
from tradeguard.core.rules import TradeRules
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.timeutil import ist_day
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)


# What a full snapshot fixed about a trade that only a lifecycle change or an edit moves.
Stored = tuple[TradeState, int, TradeRules]


class Snapshots:
    """Builds records from the engine's objects plus the side data the app keeps.

    It remembers, per open trade, the state, quantity and rules of the last full snapshot it
    built (or that recovery read back), so the flush can write a narrow TradeProgress when
    only the fast-moving fields have moved since, and a full TradeRecord otherwise."""

    def __init__(self, engine: RiskEngine, ledger: ExitLedger | None = None) -> None:
        self.engine = engine
        self.ledger = ledger if ledger is not None else ExitLedger()
        # A trade-level message for display (a cut quantity, a reconciliation note), shown as
        # the trade's exit_message until its next exit order has a message of its own.
        self.notes: dict[str, str] = {}
        self._stored: dict[str, Stored] = {}

    def note(self, trade_id: str, message: str | None) -> None:
        if message is None:
            self.notes.pop(trade_id, None)
        else:
            self.notes[trade_id] = message

    def mark_stored(self, trade: Trade) -> None:
        """The trade's row holds its current state, quantity and rules (a full snapshot of it
        was just built, or recovery read it back)."""
        self._stored[trade.trade_id] = (trade.state, trade.quantity, trade.rules)

    def forget(self, trade_id: str) -> None:
        """The trade is closed: drop its side data and its final exit rows (their order ids
        stay claimed in the ledger)."""
        self.ledger.forget_trade(trade_id)
        self.notes.pop(trade_id, None)
        self._stored.pop(trade_id, None)

    def flush_record(self, trade: Trade, now: int) -> TradeRecord | TradeProgress:
        """What the periodic flush writes for a dirty trade: a TradeProgress while the trade
        is ACTIVE and its full snapshot is unchanged but for the fast fields, else a full
        TradeRecord (which is never wrong, only wider)."""
        stored = self._stored.get(trade.trade_id)
        if (
            stored is not None
            and trade.state is TradeState.ACTIVE
            and stored[0] is TradeState.ACTIVE
            and stored[1] == trade.quantity
            and stored[2] is trade.rules
        ):
            return self.progress_record(trade, now)
        return self.trade_record(trade, now)

    def progress_record(self, trade: Trade, now: int) -> TradeProgress:
        inst, reason = trade.instrument, trade.stop_reason
        return TradeProgress(  # positional: this runs for every dirty trade every second
            trade.trade_id,
            trade.side is Side.LONG,
            trade.best,
            trade.stop,
            reason.value if reason is not None else None,
            trade.target,
            trade.trailing,
            trade.breakeven,
            self.engine.last_price(inst.symbol, inst.exchange),
            now,
        )

    def trade_record(self, trade: Trade, now: int) -> TradeRecord:
        last = self.ledger.latest(trade.trade_id)
        note = self.notes.get(trade.trade_id)
        self.mark_stored(trade)
        inst = trade.instrument
        return TradeRecord(
            trade_id=trade.trade_id,
            account=trade.account,
            strategy_id=trade.strategy_id,
            entry_order_id=trade.entry_order_id,
            symbol=inst.symbol,
            exchange=inst.exchange,
            product=trade.product.value,
            side=trade.side.value,
            entry_price=trade.entry_price,
            quantity=trade.quantity,
            tick_size=str(inst.tick_size),
            lot_size=inst.lot_size,
            rules=rules_to_dict(trade.rules),
            state=trade.state.value,
            entered_at=trade.entered_at,
            best_price=trade.best,
            stop_loss=trade.stop,
            stop_reason=trade.stop_reason.value if trade.stop_reason else None,
            target=trade.target,
            trailing_level=trade.trailing,
            breakeven_level=trade.breakeven,
            last_price=self.engine.last_price(inst.symbol, inst.exchange),
            exit_reason=(
                trade.exit_reason.value
                if trade.exit_reason
                else (last.reason if last is not None else None)
            ),
            exit_trigger=(
                trade.exit_trigger
                if trade.exit_trigger is not None
                else (last.trigger if last is not None else None)
            ),
            exit_tick_price=last.tick_price if last is not None else None,
            exit_tick_time=last.tick_time if last is not None else None,
            exit_attempt=last.attempt if last is not None else 0,
            exit_intent_at=last.intent_at if last is not None else None,
            exit_order_id=last.order_id if last is not None else None,
            exit_message=note or (last.message if last is not None else None),
            exit_price=trade.exit_price,
            realized_pnl=trade.realized_pnl,
            closed_at=trade.closed_at,
            updated_at=now,
        )

    def strategy_record(self, book: StrategyBook, now: int) -> StrategyRecord:
        return StrategyRecord(
            strategy_id=book.strategy_id,
            account=owner_of(book.strategy_id),
            name=name_of(book.strategy_id),
            config=config_to_dict(book.config),
            state=book.state.value,
            halt_reason=book.halt_reason,
            realized_pnl=book.realized,
            baseline=book.baseline,
            peak_pnl=book.peak,
            trailing_level=book.trailing_level,
            day=ist_day(now),
            updated_at=now,
        )

    def exit_record(self, order: ExitOrder, now: int) -> ExitOrderRecord:
        symbol, exchange, product = order.key
        return ExitOrderRecord(
            exit_id=order.exit_id,
            trade_id=order.trade_id,
            account=order.account,
            symbol=symbol,
            exchange=exchange,
            product=product,
            side=order.side,
            quantity=order.quantity,
            tag=order.tag,
            state=order.state.value,
            intent_at=order.intent_at,
            attempt=order.attempt,
            reason=order.reason,
            trigger=order.trigger,
            tick_price=order.tick_price,
            tick_time=order.tick_time,
            order_id=order.order_id,
            filled=order.filled,
            average_price=order.average_price,
            submitted_at=order.submitted_at,
            acked_at=order.acked_at,
            final_at=order.final_at,
            message=order.message,
            updated_at=now,
            pending_id=order.pending_id,
        )

    def reconcile_snapshot(self, trade: Trade, *, in_flight: bool = False) -> TradeSnapshot:
        last = self.ledger.latest(trade.trade_id)
        return TradeSnapshot(
            trade_id=trade.trade_id,
            symbol=trade.instrument.symbol,
            exchange=trade.instrument.exchange,
            product=trade.product.value,
            side=trade.side,
            quantity=trade.quantity,
            state=trade.state,
            entered_at=trade.entered_at,
            entry_order_id=trade.entry_order_id,
            exit_order_id=last.order_id if last is not None else None,
            exit_intent_at=last.intent_at if last is not None else None,
            exit_quantity=last.quantity if last is not None else None,
            exit_state=last.state if last is not None else None,
            in_flight=in_flight,
        )


def audit(at: int, action: str, subject: str, **detail: Any) -> AuditRecord:
    """An audit entry: by whoever `actor` in `detail` names (a person or an API key's
    account; it stays in the detail too), else by tradeguard itself (actor "engine")."""
    actor = detail.get("actor")
    who = actor if isinstance(actor, str) and actor else "engine"
    return AuditRecord(at=at, actor=who, action=action, subject=subject, detail=detail)


async def commit_logged(store: Store, records: Sequence[Record]) -> bool:
    """Commit records; a failure the store raises (a write it refuses) is logged, not raised:
    the exit path and the flush must go on. False: not committed now (queued or refused)."""
    try:
        return await store.commit(records)
    except Exception:
        log.exception("store commit failed")
        return False


def trade_from_record(record: TradeRecord) -> Trade:
    """Rebuild a live Trade from its last snapshot, best price included (levels follow)."""
    instrument = Instrument(
        record.symbol, record.exchange, Decimal(record.tick_size), record.lot_size
    )
    trade = Trade(
        trade_id=record.trade_id,
        strategy_id=record.strategy_id,
        instrument=instrument,
        side=Side(record.side),
        quantity=record.quantity,
        entry_price=record.entry_price,
        entered_at=record.entered_at,
        rules=rules_from_dict(record.rules),
        product=Product(record.product),
        account=record.account,
        entry_order_id=record.entry_order_id,
        state=TradeState(record.state),
        best=record.best_price,
    )
    if record.exit_reason and trade.state is not TradeState.ACTIVE:
        trade.exit_reason = ExitReason(record.exit_reason)
        trade.exit_trigger = record.exit_trigger
    return trade


def exit_from_record(record: ExitOrderRecord) -> ExitOrder:
    """Rebuild a ledger row from its last snapshot."""
    return ExitOrder(
        exit_id=record.exit_id,
        trade_id=record.trade_id,
        account=record.account,
        key=(record.symbol, record.exchange, record.product),
        side=record.side,
        quantity=record.quantity,
        tag=record.tag,
        intent_at=record.intent_at,
        attempt=record.attempt,
        reason=record.reason,
        trigger=record.trigger,
        tick_price=record.tick_price,
        tick_time=record.tick_time,
        state=ExitOrderState(record.state),
        order_id=record.order_id,
        filled=record.filled,
        average_price=record.average_price,
        submitted_at=record.submitted_at,
        acked_at=record.acked_at,
        final_at=record.final_at,
        message=record.message,
        pending_id=record.pending_id,
    )


def exit_from_trade_record(record: TradeRecord) -> ExitOrder | None:
    """The exit order of an EXITING / EXIT_FAILED trade row written before the ledger existed
    (no exit_orders row): an order id known -> WORKING (reconciliation reads its status),
    else an intent whose outcome is unknown. None when the row shows no exit."""
    if record.state not in ("EXITING", "EXIT_FAILED") or record.exit_intent_at is None:
        return None
    sent = record.exit_order_id is not None
    return ExitOrder(
        exit_id=f"{record.trade_id}:legacy{record.exit_attempt}",
        trade_id=record.trade_id,
        account=record.account,
        key=(record.symbol, record.exchange, record.product),
        side="SELL" if record.side == "LONG" else "BUY",
        quantity=record.quantity,
        tag="",
        intent_at=record.exit_intent_at,
        attempt=max(1, record.exit_attempt),
        reason=record.exit_reason,
        state=ExitOrderState.WORKING if sent else ExitOrderState.SUBMITTED_UNKNOWN,
        order_id=record.exit_order_id,
        message=record.exit_message,
    )


def config_from_record(record: StrategyRecord) -> StrategyRiskConfig:
    return config_from_dict(record.config)
