"""Core layer: per-trade rule settings and the pure functions that turn them into price levels.

All levels are integer units (see money.py) rounded to the instrument's tick: stop-loss, target
and breakeven in the position's favourable direction (up for LONG, down for SHORT), trailing
stops away from the best price (down for LONG, up for SHORT) and at least one tick from it
(docs/rules.md explains why).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from tradeguard.core.model import Side
from tradeguard.core.money import ceil_to_tick, floor_to_tick, fmt, to_units


class RuleError(ValueError):
    """A rule setting that cannot work (negative distance, stop on the wrong side...)."""


class LevelKind(StrEnum):
    POINTS = "POINTS"
    PERCENT = "PERCENT"
    PRICE = "PRICE"


@dataclass(frozen=True, slots=True)
class Offset:
    """A distance from the entry price: POINTS (rupees) or PERCENT of the entry price."""

    kind: LevelKind
    value: Decimal

    def __post_init__(self) -> None:
        if self.kind is LevelKind.PRICE:
            raise RuleError("an offset is POINTS or PERCENT, not PRICE")
        if not self.value.is_finite() or self.value <= 0:
            raise RuleError(f"{self.kind} offset must be positive, was {self.value}")
        if self.kind is LevelKind.PERCENT and self.value >= 100:
            raise RuleError(f"PERCENT offset must be below 100, was {self.value}")
        if self.kind is LevelKind.POINTS:
            to_units(self.value)

    def units(self, entry: int) -> Fraction | int:
        """The distance in integer units for a trade entered at `entry` (exact, unrounded)."""
        return _distance(self.kind, self.value, entry)


def _distance(kind: LevelKind, value: Decimal, entry: int) -> Fraction | int:
    """A POINTS or PERCENT offset from `entry`, in integer units (exact, unrounded)."""
    if kind is LevelKind.POINTS:
        return _points(value)
    return _percent_of(entry, value)


# A restart rebuilds every open trade's levels at once, and most trades share a handful of
# settings: convert each distinct Decimal once.
@functools.lru_cache(maxsize=4096)
def _points(value: Decimal) -> int:
    return to_units(value)


@functools.lru_cache(maxsize=4096)
def _ratio(value: Decimal) -> tuple[int, int]:
    return value.as_integer_ratio()


def _percent_of(entry: int, percent: Decimal) -> Fraction | int:
    """`percent`% of `entry`, exact: an int when it divides evenly."""
    num, den = _ratio(percent)
    num, den = entry * num, den * 100
    if num % den == 0:
        return num // den
    return Fraction(num, den)


@dataclass(frozen=True, slots=True)
class Level:
    """A stop-loss or target: POINTS or PERCENT away from entry, or an absolute PRICE."""

    kind: LevelKind
    value: Decimal

    def __post_init__(self) -> None:
        if not self.value.is_finite() or self.value <= 0:
            raise RuleError(f"{self.kind} level must be positive, was {self.value}")
        if self.kind is LevelKind.PERCENT and self.value >= 100:
            raise RuleError(f"PERCENT level must be below 100, was {self.value}")
        if self.kind is not LevelKind.PERCENT:
            to_units(self.value)


@dataclass(frozen=True, slots=True)
class TrailingRule:
    """Trail the stop `distance` behind the best price since entry.

    `activation`: the trail starts only once the best price is this far in profit.
    `step`: the best price counts only in whole steps from the entry price.
    """

    distance: Offset
    activation: Offset | None = None
    step: Offset | None = None


@dataclass(frozen=True, slots=True)
class BreakevenRule:
    """Once the best price is `trigger` in profit, the stop moves to entry +/- `buffer`."""

    trigger: Offset
    buffer: Offset | None = None


@dataclass(frozen=True, slots=True)
class TradeRules:
    """Every per-trade rule; each is optional."""

    stop_loss: Level | None = None
    target: Level | None = None
    trailing: TrailingRule | None = None
    breakeven: BreakevenRule | None = None
    square_off: time | None = None
    max_holding_seconds: int | None = None

    def __post_init__(self) -> None:
        if self.max_holding_seconds is not None and self.max_holding_seconds <= 0:
            raise RuleError("max holding time must be positive")


def round_favourable(value: Fraction | int, side: Side, tick: int) -> int:
    """Round a level to the tick grid: up for LONG, down for SHORT."""
    return ceil_to_tick(value, tick) if side is Side.LONG else floor_to_tick(value, tick)


def _away(entry: int, level: Level, side: Side, sign: int) -> Fraction | int:
    """Raw level `sign` * distance from entry, in the position's direction (unrounded)."""
    if level.kind is LevelKind.PRICE:
        return _points(level.value)
    return entry + sign * side.sign * _distance(level.kind, level.value, entry)


MAX_TARGET_FACTOR = 10  # a LONG target at most 10x the entry price


def stop_price(
    level: Level, side: Side, entry: int, tick: int, reference: int | None = None
) -> int:
    """The initial stop-loss level. Raises RuleError if it is not on the losing side of
    `reference` (the entry, or the best price since entry: a stop may lock in profit), or is
    absurd: a LONG stop at or below zero, a SHORT stop more than 100 % of the entry away."""
    stop = round_favourable(_away(entry, level, side, -1), side, tick)
    if reference is None or reference == entry:
        reference, what = entry, "the entry"
    else:
        what = "the best price since entry"
    if side.sign * (reference - stop) <= 0:
        raise RuleError(
            f"stop-loss {fmt(stop)} is not {'below' if side.sign > 0 else 'above'} {what} "
            f"{fmt(reference)} of a {side} trade"
        )
    if side is Side.LONG and stop <= 0:
        raise RuleError(
            f"stop-loss {fmt(stop)} is not above zero: a LONG stop must be less than the "
            f"entry {fmt(entry)} away"
        )
    if side is Side.SHORT and stop > 2 * entry:
        raise RuleError(
            f"stop-loss {fmt(stop)} is more than twice the entry {fmt(entry)}: a SHORT stop "
            f"may be at most 100 % of the entry away"
        )
    return stop


def target_price(level: Level, side: Side, entry: int, tick: int) -> int:
    """The target level. Raises RuleError if it is not on the winning side of entry, or is
    absurd: a LONG target above 10x the entry, a SHORT target at or below zero."""
    target = round_favourable(_away(entry, level, side, +1), side, tick)
    if side.sign * (target - entry) <= 0:
        raise RuleError(
            f"target {fmt(target)} is not {'above' if side.sign > 0 else 'below'} the entry "
            f"{fmt(entry)} of a {side} trade"
        )
    if side is Side.LONG and target > MAX_TARGET_FACTOR * entry:
        raise RuleError(
            f"target {fmt(target)} is more than {MAX_TARGET_FACTOR} times the entry "
            f"{fmt(entry)}: a LONG target may be at most {MAX_TARGET_FACTOR}x the entry"
        )
    if side is Side.SHORT and target <= 0:
        raise RuleError(
            f"target {fmt(target)} is not above zero: a SHORT target must be less than the "
            f"entry {fmt(entry)} away"
        )
    return target


def trailing_price(rule: TrailingRule, side: Side, entry: int, best: int, tick: int) -> int | None:
    """The trailing stop for a best price, or None while the trail is not yet activated."""
    move = side.sign * (best - entry)
    if rule.activation is not None and move < rule.activation.units(entry):
        return None
    anchor: Fraction | int = best
    if rule.step is not None:
        step = rule.step.units(entry)
        whole = (Fraction(max(move, 0)) // step) * step
        anchor = entry + side.sign * whole
    if rule.distance.kind is LevelKind.POINTS:
        raw = anchor - side.sign * rule.distance.units(entry)
    else:
        raw = Fraction(anchor) * (1 - side.sign * Fraction(rule.distance.value) / 100)
    return round_away(raw, anchor, side, tick)


def round_away(raw: Fraction | int, anchor: Fraction | int, side: Side, tick: int) -> int:
    """A trailing level onto the grid, away from its anchor (down for LONG, up for SHORT), and
    at least one tick beyond the anchor: it keeps at least its configured distance and never
    sits on the best price, whatever the price (a PERCENT distance shrinks with the price)."""
    if side is Side.LONG:
        return min(floor_to_tick(raw, tick), floor_to_tick(anchor, tick) - tick)
    return max(ceil_to_tick(raw, tick), ceil_to_tick(anchor, tick) + tick)


def breakeven_price(
    rule: BreakevenRule, side: Side, entry: int, best: int, tick: int
) -> int | None:
    """The breakeven stop once armed by the best price, else None."""
    if side.sign * (best - entry) < rule.trigger.units(entry):
        return None
    buffer = rule.buffer.units(entry) if rule.buffer is not None else Fraction(0)
    return round_favourable(entry + side.sign * buffer, side, tick)


def validate_rules(rules: TradeRules, side: Side, entry: int, tick: int) -> None:
    """Refuse rule settings that cannot work for this trade (clear message, nothing changes)."""
    if rules.stop_loss is not None:
        stop_price(rules.stop_loss, side, entry, tick)
    if rules.target is not None:
        target_price(rules.target, side, entry, tick)
    validate_offsets(rules, entry, tick)


def _offsets(rules: TradeRules) -> list[tuple[str, Offset]]:
    """Every POINTS distance of `rules`, named (PERCENT ones are below 100 % by construction)."""
    named: list[tuple[str, Offset | None]] = []
    if rules.trailing is not None:
        named += [
            ("trailing distance", rules.trailing.distance),
            ("trailing activation", rules.trailing.activation),
            ("trailing step", rules.trailing.step),
        ]
    if rules.breakeven is not None:
        named += [
            ("breakeven trigger", rules.breakeven.trigger),
            ("breakeven buffer", rules.breakeven.buffer),
        ]
    return [(n, o) for n, o in named if o is not None and o.kind is LevelKind.POINTS]


def validate_offsets(rules: TradeRules, entry: int, tick: int) -> None:
    """The part of `validate_rules` beyond the stop and target levels (those are checked by
    `stop_price` / `target_price` themselves)."""
    if rules.trailing is not None and rules.trailing.distance.units(entry) < tick:
        raise RuleError("trailing distance is smaller than one tick")
    for name, offset in _offsets(rules):
        if offset.units(entry) >= entry:
            raise RuleError(
                f"{name} {fmt(to_units(offset.value))} is not less than the entry "
                f"{fmt(entry)}: a distance must be below 100 % of the entry"
            )
    step = rules.trailing.step if rules.trailing is not None else None
    if step is not None and step.units(entry) < tick:
        raise RuleError("trailing step is smaller than one tick")
    if rules.breakeven is not None:
        buffer = rules.breakeven.buffer
        if buffer is not None and buffer.units(entry) >= rules.breakeven.trigger.units(entry):
            raise RuleError("breakeven buffer must be smaller than its trigger")
