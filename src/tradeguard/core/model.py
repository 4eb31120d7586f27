"""Core layer: the domain vocabulary: sides, products, instruments, ticks and trade states.

Every trade state change goes through `check_transition`; an illegal one is a bug and raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from tradeguard.core.money import to_units


class Side(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def sign(self) -> int:
        """+1 for LONG, -1 for SHORT: the sign of the position."""
        return 1 if self is Side.LONG else -1

    @property
    def exit_action(self) -> str:
        """The order action that closes this side (OpenAlgo's BUY/SELL)."""
        return "SELL" if self is Side.LONG else "BUY"


class Product(StrEnum):
    CNC = "CNC"
    MIS = "MIS"
    NRML = "NRML"


class TradeState(StrEnum):
    ACTIVE = "ACTIVE"
    EXITING = "EXITING"
    CLOSED = "CLOSED"
    EXIT_FAILED = "EXIT_FAILED"
    CLOSED_EXTERNALLY = "CLOSED_EXTERNALLY"

    @property
    def is_open(self) -> bool:
        """The position is (still) held at the broker as far as we know."""
        return self in _OPEN_STATES


_OPEN_STATES = frozenset({TradeState.ACTIVE, TradeState.EXITING, TradeState.EXIT_FAILED})

# The one transition table. EXITING -> ACTIVE is the "exit rejected or cancelled during recovery,
# evaluate again" path; EXIT_FAILED -> EXITING is a deliberate, audited retry.
TRANSITIONS: dict[TradeState, frozenset[TradeState]] = {
    TradeState.ACTIVE: frozenset({TradeState.EXITING, TradeState.CLOSED_EXTERNALLY}),
    TradeState.EXITING: frozenset(
        {
            TradeState.CLOSED,
            TradeState.EXIT_FAILED,
            TradeState.ACTIVE,
            TradeState.CLOSED_EXTERNALLY,
        }
    ),
    TradeState.EXIT_FAILED: frozenset(
        {
            TradeState.EXITING,
            TradeState.ACTIVE,
            TradeState.CLOSED,
            TradeState.CLOSED_EXTERNALLY,
        }
    ),
    TradeState.CLOSED: frozenset(),
    TradeState.CLOSED_EXTERNALLY: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A trade state change that the transition table does not allow: a bug, never data."""


def check_transition(trade_id: str, current: TradeState, new: TradeState) -> None:
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"trade {trade_id}: {current} -> {new} is not allowed")


class StrategyState(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    HALTED = "HALTED"


class ExitReason(StrEnum):
    STOP_LOSS = "STOP_LOSS"
    BREAKEVEN_STOP = "BREAKEVEN_STOP"
    TRAILING_STOP = "TRAILING_STOP"
    TARGET = "TARGET"
    SQUARE_OFF = "SQUARE_OFF"
    MAX_HOLDING = "MAX_HOLDING"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    PORTFOLIO_STOP = "PORTFOLIO_STOP"
    PORTFOLIO_TRAILING = "PORTFOLIO_TRAILING"
    PORTFOLIO_TARGET = "PORTFOLIO_TARGET"
    MANUAL = "MANUAL"
    MANUAL_ALL = "MANUAL_ALL"
    STALE_FEED = "STALE_FEED"  # no price for longer than allowed in market hours (stale_policy)

    @property
    def is_portfolio(self) -> bool:
        """Portfolio reasons carry a P&L amount as trigger, not a price."""
        return self in _PORTFOLIO_REASONS


_PORTFOLIO_REASONS = frozenset(
    {
        ExitReason.DAILY_LOSS_LIMIT,
        ExitReason.PORTFOLIO_STOP,
        ExitReason.PORTFOLIO_TRAILING,
        ExitReason.PORTFOLIO_TARGET,
    }
)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable symbol. `tick_size` in rupees; `tick` is the same in integer units."""

    symbol: str
    exchange: str
    tick_size: Decimal = Decimal("0.05")
    lot_size: int = 1
    tick: int = field(init=False)

    def __post_init__(self) -> None:
        if not self.symbol or not self.exchange:
            raise ValueError("instrument needs a symbol and an exchange")
        tick = to_units(self.tick_size)
        if tick <= 0:
            raise ValueError(f"{self.exchange}:{self.symbol}: tick size must be positive")
        if self.lot_size < 1:
            raise ValueError(f"{self.exchange}:{self.symbol}: lot size must be at least 1")
        object.__setattr__(self, "tick", tick)

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"


class Tick(NamedTuple):
    """A last-traded price. `ltp` in integer units, `exchange_ts` in epoch nanoseconds."""

    symbol: str
    exchange: str
    ltp: int
    exchange_ts: int
