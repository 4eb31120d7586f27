"""App layer: live events for people: engine decisions and alerts turned into bus events.

`LiveEvents` implements the EventSink port over the EventBus (dashboard pushes, the terminal);
`BusAlerts` implements the AlertSink port: every alert is logged and published (toasts).
Neither blocks.

Every trade event names its trade's symbol, so a reader never has to look the trade up (it
may be closed and gone by then): `exit` (an exit fired: reason, trigger, last price and the
open P&L at that price), `level` (its protective levels moved), `exit_sent` (the broker took
an exit order: told only to subscribers that name it, the terminal) and `closed` (the trade
is CLOSED or CLOSED_EXTERNALLY, by its exit's fill or as gone at the broker: exit price and
realized P&L).
"""

from __future__ import annotations

import logging
from typing import Any

from tradeguard.app.events import Event, EventBus
from tradeguard.app.ports import Clock
from tradeguard.app.views import account_of, money_or_none, name_of
from tradeguard.core.decisions import ExitDecision, LevelChange, StrategyChange
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.exit_order import ExitOrder
from tradeguard.core.model import TradeState
from tradeguard.core.money import fmt
from tradeguard.core.trade import Trade

log = logging.getLogger("tradeguard.alerts")

_LEVELS = {
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class LiveEvents:
    """EventSink: publishes exits, level moves and strategy changes with their account."""

    def __init__(self, bus: EventBus, engine: RiskEngine, clock: Clock) -> None:
        self.bus = bus
        self.engine = engine
        self.clock = clock

    def _trade(self, trade_id: str) -> Trade | None:
        try:
            return self.engine.trade(trade_id)
        except EngineError:
            return None

    def publish(self, topic: str, payload: object) -> None:
        now = self.clock.now()
        if isinstance(payload, ExitDecision):
            self.bus.publish(self._exit(payload, now))
        elif isinstance(payload, LevelChange):
            self.bus.publish(self._level(payload, now))
        elif isinstance(payload, Trade):
            self.bus.publish(Event("closed", closed_data(payload), payload.account, now))
        elif isinstance(payload, StrategyChange):
            account = account_of(payload.strategy_id)
            data = {
                "strategy_id": payload.strategy_id,
                "state": payload.state.value,
                "reason": payload.reason,
            }
            self.bus.publish(Event("strategy", data, account, now))
        elif isinstance(payload, ExitOrder):
            self.bus.publish(Event("exit_sent", self._sent(payload), payload.account, now))
        else:
            self.bus.publish(Event(topic, {"value": repr(payload)}, None, now))

    def _exit(self, payload: ExitDecision, now: int) -> Event:
        trade = self._trade(payload.trade_id)
        open_pnl = None
        if trade is not None and payload.price is not None:
            open_pnl = fmt(trade.pnl_at(payload.price))
        data: dict[str, Any] = {
            "trade_id": payload.trade_id,
            "strategy_id": payload.strategy_id,
            "symbol": payload.symbol,
            "exchange": payload.exchange,
            "side": payload.side.value,
            "quantity": payload.quantity,
            "reason": payload.reason.value,
            "trigger": money_or_none(payload.trigger),
            "price": money_or_none(payload.price),
            "open_pnl": open_pnl,
        }
        return Event("exit", data, trade.account if trade else None, now)

    def _level(self, payload: LevelChange, now: int) -> Event:
        trade = self._trade(payload.trade_id)
        data = {
            "trade_id": payload.trade_id,
            "symbol": trade.instrument.symbol if trade else None,
            "exchange": trade.instrument.exchange if trade else None,
            "best_price": fmt(payload.best),
            "stop_loss": money_or_none(payload.stop),
            "stop_reason": payload.stop_reason.value if payload.stop_reason else None,
            "target": money_or_none(payload.target),
            "trailing_stop": money_or_none(payload.trailing),
            "breakeven_stop": money_or_none(payload.breakeven),
        }
        return Event("level", data, trade.account if trade else None, now)

    def _sent(self, order: ExitOrder) -> dict[str, Any]:
        symbol, exchange, product = order.key
        side = "LONG" if order.side == "SELL" else "SHORT"  # the trade's side: SELL closes LONG
        return {
            "trade_id": order.trade_id,
            "order_id": order.order_id,
            "symbol": symbol,
            "exchange": exchange,
            "product": product,
            "side": side,
            "action": order.side,
            "quantity": order.quantity,
            "reason": order.reason,
            "trigger": money_or_none(order.trigger) if order.reason in _PRICE_REASONS else None,
            "price": money_or_none(order.tick_price),
            "attempt": order.attempt,
        }


# Reasons whose trigger is a price (the portfolio ones are P&L amounts, MANUAL has none).
_PRICE_REASONS = frozenset({"STOP_LOSS", "BREAKEVEN_STOP", "TRAILING_STOP", "TARGET"})


def closed_data(trade: Trade) -> dict[str, Any]:
    """The `closed` event of a trade that left the book: what it was, why and how it ended."""
    return {
        "trade_id": trade.trade_id,
        "strategy_id": trade.strategy_id,
        "strategy": name_of(trade.strategy_id),
        "symbol": trade.instrument.symbol,
        "exchange": trade.instrument.exchange,
        "side": trade.side.value,
        "quantity": trade.quantity,
        "state": trade.state.value,
        "external": trade.state is TradeState.CLOSED_EXTERNALLY,
        "reason": trade.exit_reason.value if trade.exit_reason else None,
        "trigger": money_or_none(trade.exit_trigger),
        "exit_price": money_or_none(trade.exit_price),
        "realized_pnl": money_or_none(trade.realized_pnl),
    }


class BusAlerts:
    """AlertSink: log every alert and publish it for toasts. Detail values must be safe to show
    (the exit path never passes secrets)."""

    def __init__(self, bus: EventBus, clock: Clock, engine: RiskEngine | None = None) -> None:
        self.bus = bus
        self.clock = clock
        self.engine = engine
        self.count = 0

    def _account(self, detail: dict[str, Any]) -> str | None:
        """The account an alert is about (its trade's or strategy's), so only that account's
        dashboard shows it; None (everyone) for alerts about the whole service."""
        trade_id = detail.get("trade_id")
        if self.engine is not None and isinstance(trade_id, str):
            try:
                return self.engine.trade(trade_id).account
            except EngineError:
                pass
        strategy_id = detail.get("strategy_id")
        return account_of(strategy_id) if isinstance(strategy_id, str) else None

    def alert(self, level: str, message: str, **detail: Any) -> None:
        self.count += 1
        log.log(_LEVELS.get(level, logging.WARNING), "%s %s", message, detail or "")
        safe = {
            key: value
            if isinstance(value, str | int | float | bool) or value is None
            else repr(value)
            for key, value in detail.items()
        }
        self.bus.publish(
            Event(
                "alert",
                {"level": level, "message": message, **safe},
                self._account(detail),
                self.clock.now(),
            )
        )
