"""Core layer: pre-trade checks and position sizing (whole lots, never above allocated funds)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tradeguard.core.model import Instrument, StrategyState
from tradeguard.core.money import fmt, to_units
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.strategy import SizingKind


@dataclass(frozen=True, slots=True)
class Refusal:
    """A new trade that the strategy's limits do not allow, and why."""

    reason: str


def size_position(book: StrategyBook, instrument: Instrument, price: int) -> int | Refusal:
    """The quantity a new trade at `price` may take, in whole lots, or a refusal.

    FIXED_QUANTITY: position_size_value units, rounded down to whole lots.
    FIXED_VALUE: as many whole lots as position_size_value rupees buy.
    PERCENT_ALLOCATION: as many whole lots as position_size_value % of allocated funds buy.
    With allocated funds set, the result is further capped so that the strategy's open
    exposure (sum of entry value of open trades) never exceeds them.
    """
    refusal = check_can_open(book)
    if refusal is not None:
        return refusal
    if price <= 0:
        return Refusal("price must be positive")
    config = book.config
    lot = instrument.lot_size
    lot_value = price * lot
    value = config.position_size_value
    if value <= 0:
        return Refusal("position_size_value is not set for this strategy")
    if config.position_size_type is SizingKind.FIXED_QUANTITY:
        lots = int(value) // lot
    elif config.position_size_type is SizingKind.FIXED_VALUE:
        lots = to_units(value) // lot_value
    else:
        funds = to_units(config.allocated_funds)
        if funds <= 0:
            return Refusal("PERCENT_ALLOCATION needs allocated_funds")
        lots = int(funds * Fraction(value) / 100) // lot_value
    allocated = to_units(config.allocated_funds)
    if allocated > 0:
        room = allocated - book.exposure
        lots = min(lots, max(room, 0) // lot_value)
    if lots <= 0:
        return Refusal(
            f"not even one lot ({lot} x {fmt(price)}) fits the sizing rule and the "
            f"{fmt(allocated_or_none(book))} allocated funds "
            f"({fmt(book.exposure)} already in open trades)"
        )
    return lots * lot


def allocated_or_none(book: StrategyBook) -> int | None:
    funds = to_units(book.config.allocated_funds)
    return funds if funds > 0 else None


def check_can_open(book: StrategyBook) -> Refusal | None:
    """The strategy-level gates on any new trade: state and max open positions."""
    if book.state is StrategyState.HALTED:
        return Refusal(f"strategy {book.strategy_id} is HALTED ({book.halt_reason})")
    if book.state is StrategyState.PAUSED:
        return Refusal(
            f"strategy {book.strategy_id} is PAUSED: it takes no new trades until resumed"
        )
    limit = book.config.max_open_positions
    if limit and book.open_positions >= limit:
        return Refusal(
            f"strategy {book.strategy_id} already has {book.open_positions} open positions "
            f"(max_open_positions {limit})"
        )
    return None


def check_new_trade(
    book: StrategyBook, instrument: Instrument, quantity: int, price: int
) -> Refusal | None:
    """Check a trade whose quantity is already known (e.g. created from a filled order)."""
    refusal = check_can_open(book)
    if refusal is not None:
        return refusal
    if quantity <= 0:
        return Refusal("quantity must be positive")
    if quantity % instrument.lot_size:
        return Refusal(
            f"quantity {quantity} is not a whole number of lots of {instrument.lot_size}"
        )
    allocated = to_units(book.config.allocated_funds)
    if allocated > 0 and book.exposure + quantity * price > allocated:
        return Refusal(
            f"{quantity} x {fmt(price)} would take open exposure to "
            f"{fmt(book.exposure + quantity * price)}, above the allocated {fmt(allocated)}"
        )
    return None
