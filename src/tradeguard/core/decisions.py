"""Core layer: what the engine decides. Immutable values; the app layer acts on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from tradeguard.core.model import ExitReason, Side, StrategyState


@dataclass(frozen=True, slots=True)
class ExitDecision:
    """Exit `quantity` of a trade. `trigger` is a price for trade rules and a P&L amount for
    portfolio rules (None for time and manual exits); `price` is the last price seen."""

    trade_id: str
    strategy_id: str
    symbol: str
    exchange: str
    side: Side
    quantity: int
    reason: ExitReason
    trigger: int | None
    price: int | None
    at: int


class LevelChange(NamedTuple):
    """A trade's protective levels after a change (for persistence and the dashboard).

    A NamedTuple, not a frozen dataclass: one is built per level move on the tick path, and a
    tuple is about three times cheaper to create."""

    trade_id: str
    best: int
    stop: int | None
    stop_reason: ExitReason | None
    target: int | None
    trailing: int | None
    breakeven: int | None


@dataclass(frozen=True, slots=True)
class StrategyChange:
    """A strategy's state changed (halted, resumed, new day)."""

    strategy_id: str
    state: StrategyState
    reason: str
    at: int


@dataclass(slots=True)
class Decisions:
    """Everything one engine call produced. Empty for the vast majority of ticks."""

    exits: list[ExitDecision] = field(default_factory=list)
    levels: list[LevelChange] = field(default_factory=list)
    strategies: list[StrategyChange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.exits or self.levels or self.strategies)

    def extend(self, other: Decisions) -> None:
        self.exits.extend(other.exits)
        self.levels.extend(other.levels)
        self.strategies.extend(other.strategies)
