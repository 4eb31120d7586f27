"""Builders for core tests: instruments, trades and an engine rig driven by explicit time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Instrument, Side, Tick
from tradeguard.core.money import to_units
from tradeguard.core.rules import (
    BreakevenRule,
    Level,
    LevelKind,
    Offset,
    TradeRules,
    TrailingRule,
)
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

IST = timezone(timedelta(hours=5, minutes=30))
POINTS, PERCENT, PRICE = LevelKind.POINTS, LevelKind.PERCENT, LevelKind.PRICE


def u(value: str | int) -> int:
    return to_units(str(value))


def ist(hh: int, mm: int, ss: int = 0, day: int = 25) -> int:
    """Epoch ns of HH:MM:SS IST on 2026-11-<day>."""
    return int(datetime(2026, 11, day, hh, mm, ss, tzinfo=IST).timestamp()) * 1_000_000_000


def level(kind: LevelKind, value: str) -> Level:
    return Level(kind, Decimal(value))


def offset(kind: LevelKind, value: str) -> Offset:
    return Offset(kind, Decimal(value))


def trail(
    kind: LevelKind, value: str, activation: str | None = None, step: str | None = None
) -> TrailingRule:
    return TrailingRule(
        offset(kind, value),
        offset(POINTS, activation) if activation else None,
        offset(POINTS, step) if step else None,
    )


def breakeven(trigger: str, buffer: str | None = None) -> BreakevenRule:
    return BreakevenRule(offset(POINTS, trigger), offset(POINTS, buffer) if buffer else None)


def instrument(symbol: str = "A", tick: str = "0.05", lot: int = 1) -> Instrument:
    return Instrument(symbol, "NSE", Decimal(tick), lot)


def make_trade(
    trade_id: str = "t1",
    *,
    side: Side = Side.LONG,
    entry: str = "100",
    quantity: int = 1,
    rules: TradeRules | None = None,
    symbol: str = "A",
    strategy: str = "s",
    entered_at: int | None = None,
    tick: str = "0.05",
) -> Trade:
    return Trade(
        trade_id=trade_id,
        strategy_id=strategy,
        instrument=instrument(symbol, tick),
        side=side,
        quantity=quantity,
        entry_price=u(entry),
        entered_at=entered_at if entered_at is not None else ist(9, 20),
        rules=rules,
    )


class Rig:
    """An engine with strategies, fed ticks at explicit IST times."""

    def __init__(self, **strategies: StrategyRiskConfig) -> None:
        self.engine = RiskEngine()
        for name, config in (strategies or {"s": StrategyRiskConfig()}).items():
            self.engine.add_strategy(name, config)
        self.now = ist(9, 20)

    def add(self, trade: Trade) -> Decisions:
        return self.engine.add_trade(trade, self.now)

    def tick(self, price: str, symbol: str = "A", at: int | None = None) -> Decisions:
        if at is not None:
            self.now = at
        result = self.engine.on_tick(Tick(symbol, "NSE", u(price), self.now), self.now)
        return result if result is not None else Decisions()

    def reasons(self, decisions: Decisions) -> dict[str, str]:
        return {d.trade_id: d.reason.value for d in decisions.exits}
