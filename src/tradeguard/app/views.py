"""App layer: read models handed to interfaces: JSON-ready dicts, money as decimal strings.

Interfaces never see core objects; they get these views from the service facade.
"""

from __future__ import annotations

from typing import Any

from tradeguard.app.records import AuditEntry, TradeRecord
from tradeguard.core.codec import config_to_dict, rules_to_dict
from tradeguard.core.exit_order import ExitOrder, ExitOrderState
from tradeguard.core.money import fmt
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.trade import Trade


def strategy_key(account: str, name: str) -> str:
    """The engine's strategy id: strategy names are unique per account."""
    return f"{account}:{name}"


def account_of(strategy_id: str) -> str | None:
    """The account in a strategy id (None for ids not made by strategy_key)."""
    return strategy_id.split(":", 1)[0] if ":" in strategy_id else None


def owner_of(strategy_id: str) -> str:
    """The account a strategy belongs to ("default" for ids not made by strategy_key)."""
    return account_of(strategy_id) or "default"


def name_of(strategy_id: str) -> str:
    """The strategy's name as its account knows it."""
    return strategy_id.split(":", 1)[-1]


def money_or_none(units: int | None) -> str | None:
    return None if units is None else fmt(units)


def trade_view(
    trade: Trade,
    last_price: int | None,
    account: str | None = None,
    rules: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A live trade with its current levels and P&L at the last price (`rules`: the view of
    its rules when the caller has it already)."""
    mark = last_price if last_price is not None else trade.entry_price
    return {
        "trade_id": trade.trade_id,
        "account": account or trade.account,
        "strategy": trade.strategy_id,
        "symbol": trade.instrument.symbol,
        "exchange": trade.instrument.exchange,
        "product": trade.product.value,
        "side": trade.side.value,
        "quantity": trade.quantity,
        "lot_size": trade.instrument.lot_size,
        "entry_price": fmt(trade.entry_price),
        "entry_order_id": trade.entry_order_id,
        "last_price": money_or_none(last_price),
        "pnl": fmt(trade.pnl_at(mark)),
        "state": trade.state.value,
        "best_price": fmt(trade.best),
        "stop_loss": money_or_none(trade.stop),
        "stop_reason": trade.stop_reason.value if trade.stop_reason else None,
        "initial_stop": money_or_none(trade.initial_stop),
        "target": money_or_none(trade.target),
        "trailing_stop": money_or_none(trade.trailing),
        "breakeven_stop": money_or_none(trade.breakeven),
        # a trail set but not armed yet: the price at which it activates (core.levels)
        "trail_arms_at": money_or_none(
            trade.plan.trail_arms_at() if trade.trailing is None else None
        ),
        "exit_reason": trade.exit_reason.value if trade.exit_reason else None,
        "rules": rules_to_dict(trade.rules) if rules is None else rules,
        "entered_at": trade.entered_at,
    }


def exit_view(order: ExitOrder | None) -> dict[str, Any] | None:
    """A trade's latest exit order from the ledger: its state (UNRESOLVED: "exit unresolved",
    waiting for the order book or a person; QUEUED_FOR_APPROVAL: in OpenAlgo's Action Center,
    with its pending order id), order id, filled part and message."""
    if order is None:
        return None
    return {
        "state": order.state.value,
        "unresolved": order.state is ExitOrderState.UNRESOLVED,
        # semi-auto: waiting in OpenAlgo's Action Center as pending order `pending_order_id`
        "queued_for_approval": order.state is ExitOrderState.QUEUED,
        "pending_order_id": order.pending_id,
        "order_id": order.order_id,
        "quantity": order.quantity,
        "filled": order.filled,
        "attempt": order.attempt,
        "message": order.message,
    }


def strategy_view(book: StrategyBook, name: str, account: str) -> dict[str, Any]:
    """A strategy's configuration, state, portfolio P&L and its levels (as day P&L)."""
    base = book.baseline
    return {
        "strategy": name,
        "strategy_id": book.strategy_id,
        "account": account,
        "state": book.state.value,
        "halt_reason": book.halt_reason,
        "pnl": fmt(book.pnl),
        "realized_pnl": fmt(book.realized),
        "unrealized_pnl": fmt(book.pnl - book.realized),
        "open_positions": book.open_positions,
        "exposure": fmt(book.exposure),
        "levels": {
            "daily_loss_limit": money_or_none(
                -book.daily_limit if book.daily_limit is not None else None
            ),
            "stop": money_or_none(base - book.sl_amount if book.sl_amount is not None else None),
            "target": money_or_none(
                base + book.target_amount if book.target_amount is not None else None
            ),
            "trailing": money_or_none(
                base + book.trailing_level if book.trailing_level is not None else None
            ),
            "peak": fmt(base + book.peak),
        },
        "config": config_to_dict(book.config),
    }


def history_view(record: TradeRecord) -> dict[str, Any]:
    """A trade from storage (closed or open) with its exit reason and realized P&L."""
    return {
        "trade_id": record.trade_id,
        "account": record.account,
        "strategy": name_of(record.strategy_id),
        "symbol": record.symbol,
        "exchange": record.exchange,
        "product": record.product,
        "side": record.side,
        "quantity": record.quantity,
        "entry_price": fmt(record.entry_price),
        "state": record.state,
        "exit_reason": record.exit_reason,
        "exit_trigger": money_or_none(record.exit_trigger),
        "exit_price": money_or_none(record.exit_price),
        "exit_order_id": record.exit_order_id,
        "exit_message": record.exit_message,
        "pnl": money_or_none(record.realized_pnl),
        "entered_at": record.entered_at,
        "closed_at": record.closed_at,
    }


def audit_view(entry: AuditEntry, account: str) -> dict[str, Any]:
    """An audit entry for its account: what it is about (a trade id, or a strategy name)."""
    record = entry.record
    strategy = record.subject.split(":", 1)[1] if record.subject.startswith(f"{account}:") else None
    return {
        "id": entry.id,
        "at": record.at,
        "actor": record.actor,
        "action": record.action,
        "subject": record.subject,
        "strategy": strategy,
        "trade_id": None if strategy is not None or record.subject == account else record.subject,
        "detail": {k: v for k, v in record.detail.items() if k != "actor"},
    }
