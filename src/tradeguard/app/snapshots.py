"""App layer: conversion between live core objects (Trade, StrategyBook) and storage records.

A Trade does not know its exit bookkeeping (attempt, intent time, order id, broker message),
and a StrategyBook does not know its account or display name: `Snapshots` keeps both beside
the engine, so every TradeRecord / StrategyRecord it builds is a complete, idempotent snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.app.ports import Store
from tradeguard.app.records import AuditRecord, Record, StrategyRecord, TradeProgress, TradeRecord
from tradeguard.app.views import name_of, owner_of
from tradeguard.core.codec import config_from_dict, config_to_dict, rules_from_dict, rules_to_dict
from tradeguard.core.decisions import ExitDecision
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import ExitReason, Instrument, Product, Side, TradeState
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.reconcile import TradeSnapshot
from tradeguard.core.rules import TradeRules
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.timeutil import ist_day
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ExitInfo:
    """A trade's exit bookkeeping (the intent and what came of it)."""

    reason: str | None = None
    trigger: int | None = None
    tick_price: int | None = None
    tick_time: int | None = None
    attempt: int = 0
    intent_at: int | None = None
    order_id: str | None = None
    message: str | None = None

    def begin(self, decision: ExitDecision, now: int) -> None:
        """A new exit attempt: the intent as it will be committed before the order goes out."""
        self.reason = decision.reason.value
        self.trigger = decision.trigger
        self.tick_price = decision.price
        self.tick_time = decision.at
        self.attempt += 1
        self.intent_at = now
        self.order_id = None
        self.message = None


# What a full snapshot fixed about a trade that only a lifecycle change or an edit moves.
Stored = tuple[TradeState, int, TradeRules]


class Snapshots:
    """Builds records from the engine's objects plus the side data the app keeps.

    It remembers, per open trade, the state, quantity and rules of the last full snapshot it
    built (or that recovery read back), so the flush can write a narrow TradeProgress when
    only the fast-moving fields have moved since, and a full TradeRecord otherwise."""

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine
        self.exits: dict[str, ExitInfo] = {}
        self._stored: dict[str, Stored] = {}

    def exit_info(self, trade_id: str) -> ExitInfo:
        info = self.exits.get(trade_id)
        if info is None:
            info = self.exits[trade_id] = ExitInfo()
        return info

    def mark_stored(self, trade: Trade) -> None:
        """The trade's row holds its current state, quantity and rules (a full snapshot of it
        was just built, or recovery read it back)."""
        self._stored[trade.trade_id] = (trade.state, trade.quantity, trade.rules)

    def forget(self, trade_id: str) -> None:
        """The trade is closed: drop its side data."""
        self.exits.pop(trade_id, None)
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
        info = self.exits.get(trade.trade_id) or ExitInfo()
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
            exit_reason=trade.exit_reason.value if trade.exit_reason else info.reason,
            exit_trigger=trade.exit_trigger if trade.exit_trigger is not None else info.trigger,
            exit_tick_price=info.tick_price,
            exit_tick_time=info.tick_time,
            exit_attempt=info.attempt,
            exit_intent_at=info.intent_at,
            exit_order_id=info.order_id,
            exit_message=info.message,
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

    def reconcile_snapshot(self, trade: Trade, *, in_flight: bool = False) -> TradeSnapshot:
        info = self.exits.get(trade.trade_id) or ExitInfo()
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
            exit_order_id=info.order_id,
            exit_intent_at=info.intent_at,
            in_flight=in_flight,
        )


def audit(at: int, action: str, subject: str, **detail: Any) -> AuditRecord:
    """An audit entry by tradeguard itself (actor "engine")."""
    return AuditRecord(at=at, actor="engine", action=action, subject=subject, detail=detail)


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


def exit_info_from_record(record: TradeRecord) -> ExitInfo:
    return ExitInfo(
        reason=record.exit_reason,
        trigger=record.exit_trigger,
        tick_price=record.exit_tick_price,
        tick_time=record.exit_tick_time,
        attempt=record.exit_attempt,
        intent_at=record.exit_intent_at,
        order_id=record.exit_order_id,
        message=record.exit_message,
    )


def config_from_record(record: StrategyRecord) -> StrategyRiskConfig:
    return config_from_dict(record.config)
