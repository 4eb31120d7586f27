"""Adapters layer: reads that see the writes still queued. Each function merges what the
database returned with the store's queue of records not yet committed (oldest first), so a
read during an outage shows the newest state the app committed."""

from __future__ import annotations

from collections.abc import Sequence

from tradeguard.adapters.db import rows
from tradeguard.app.records import (
    AccountRecord,
    AuditRecord,
    ExitOrderRecord,
    HistoryQuery,
    LoadedState,
    Record,
    StrategyRecord,
    TradeProgress,
    TradeRecord,
    UserRecord,
)


def load(state: LoadedState, queued: Sequence[Record]) -> LoadedState:
    strategies = {r.strategy_id: r for r in state.strategies}
    trades = {r.trade_id: r for r in state.trades}
    exits = {r.exit_id: r for r in state.exit_orders}
    claimed = set(state.claimed_order_ids)
    for record in queued:
        if isinstance(record, ExitOrderRecord):
            exits.pop(record.exit_id, None)
            if record.state not in rows.FINAL_EXIT_STATES:
                exits[record.exit_id] = record
            if record.order_id:
                claimed.add(record.order_id)
        elif isinstance(record, StrategyRecord):
            strategies[record.strategy_id] = record
        elif isinstance(record, TradeRecord):
            trades.pop(record.trade_id, None)
            if record.state in rows.OPEN_STATES:
                trades[record.trade_id] = record
        elif isinstance(record, TradeProgress) and record.trade_id in trades:
            trades[record.trade_id] = record.apply(trades[record.trade_id])
    return LoadedState(
        strategies=list(strategies.values()),
        trades=list(trades.values()),
        exit_orders=list(exits.values()),
        claimed_order_ids=frozenset(claimed),
    )


def exit_orders(
    stored: Sequence[ExitOrderRecord], queued: Sequence[Record], trade_id: str
) -> list[ExitOrderRecord]:
    """Every exit-order row of a trade, queued writes included, oldest first."""
    merged = {r.exit_id: r for r in stored}
    for record in queued:
        if isinstance(record, ExitOrderRecord) and record.trade_id == trade_id:
            merged[record.exit_id] = record
    return sorted(merged.values(), key=lambda r: (r.intent_at, r.exit_id))


def entry_trade(queued: Sequence[Record], account: str, order_id: str) -> str | None:
    """The trade queued for `order_id` of `account`, if any (the newest)."""
    for record in reversed(queued):
        if (
            isinstance(record, TradeRecord)
            and record.account == account
            and record.entry_order_id == order_id
        ):
            return record.trade_id
    return None


def trade(
    queued: Sequence[Record], trade_id: str
) -> tuple[TradeRecord | None, list[TradeProgress]]:
    """The last queued full snapshot of the trade (None: read it from the database) and the
    progress queued after it, to apply on top."""
    newest: TradeRecord | None = None
    later: list[TradeProgress] = []
    for record in queued:
        if isinstance(record, TradeRecord) and record.trade_id == trade_id:
            newest, later = record, []
        elif isinstance(record, TradeProgress) and record.trade_id == trade_id:
            later.append(record)
    return newest, later


def history(
    stored: Sequence[TradeRecord],
    queued: Sequence[Record],
    account: str | None,
    limit: int,
    wanted: HistoryQuery | None = None,
) -> list[TradeRecord]:
    merged = {r.trade_id: r for r in stored}
    for record in queued:
        if isinstance(record, TradeRecord) and account in (None, record.account):
            merged.pop(record.trade_id, None)
            if record.state in rows.CLOSED_STATES and (wanted is None or wanted.matches(record)):
                merged[record.trade_id] = record
    ordered = sorted(merged.values(), key=lambda r: (r.closed_at or 0, r.trade_id))
    return list(reversed(ordered))[:limit]


def accounts(stored: Sequence[AccountRecord], queued: Sequence[Record]) -> list[AccountRecord]:
    merged = {r.account: r for r in stored}
    merged.update({r.account: r for r in queued if isinstance(r, AccountRecord)})
    return sorted(merged.values(), key=lambda r: r.account)


def users(stored: Sequence[UserRecord], queued: Sequence[Record]) -> list[UserRecord]:
    merged = {r.username: r for r in stored}
    merged.update({r.username: r for r in queued if isinstance(r, UserRecord)})
    return sorted(merged.values(), key=lambda r: r.username)


def audit_entries(
    stored: Sequence[AuditRecord], queued: Sequence[Record], subject: str | None, limit: int
) -> list[AuditRecord]:
    """The newest `limit` entries, oldest first; entries still queued come last."""
    waiting = [r for r in queued if isinstance(r, AuditRecord) and subject in (None, r.subject)]
    return (list(stored) + waiting)[-limit:] if limit > 0 else []
