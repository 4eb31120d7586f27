"""Core layer: a trade's level plan: every rule distance resolved once to integers.

The entry price of a trade never changes, so every distance of its rules (POINTS, or PERCENT of
the entry) is fixed. `LevelPlan` resolves them once when the rules are installed; afterwards the
trailing and breakeven stops for any best price are computed with integer arithmetic only
(ceil/floor through `//`), bit-identical to the exact Fraction reference functions in rules.py
(`trailing_price`, `breakeven_price`; tests/unit/core/test_fast_levels.py proves it).

It also knows the *wake* move: the smallest move of the best price (in the position's favour,
from the entry) at which a best-dependent level can change. Below it the trade's levels are
constant, so the engine need not evaluate it on a new best price.
"""

from __future__ import annotations

from fractions import Fraction

from tradeguard.core.model import Side
from tradeguard.core.money import to_units
from tradeguard.core.rules import LevelKind, Offset, TradeRules, round_favourable

NEVER = 1 << 62  # a wake move no best price reaches


def ratio(offset: Offset, entry: int) -> tuple[int, int]:
    """`offset.units(entry)` as an exact (numerator, positive denominator) pair of ints."""
    if offset.kind is LevelKind.POINTS:
        return to_units(offset.value), 1
    num, den = offset.value.as_integer_ratio()
    return entry * num, den * 100


def ceil_div(num: int, den: int) -> int:
    """ceil(num / den) for den > 0, in integers."""
    return -(-num // den)


class LevelPlan:
    """Integer form of one trade's trailing and breakeven rules (see the module docstring).

    Trailing level for anchor A/Ad (Ad = 1 without a step): raw = (A*mul - sub*Ad) / (Ad*div),
    rounded to the tick away from the anchor and kept a tick beyond it; POINTS: mul = 1,
    sub = sign*d, div = 1; PERCENT p/q: mul = 100q - sign*p, sub = 0, div = 100q.
    """

    __slots__ = (
        "activation",
        "be_level",
        "be_trigger",
        "entry",
        "sign",
        "step_den",
        "step_num",
        "tick",
        "tr_den",
        "tr_den_step",
        "tr_mul",
        "tr_sub",
        "tr_sub_step",
        "trail",
    )

    def __init__(self, rules: TradeRules, side: Side, entry: int, tick: int) -> None:
        sign = side.sign
        self.sign = sign
        self.entry = entry
        self.tick = tick
        trailing = rules.trailing
        self.trail = trailing is not None
        self.activation: int | None = None
        self.step_num = self.step_den = 1
        self.tr_mul = self.tr_sub = self.tr_den = self.tr_sub_step = self.tr_den_step = 0
        if trailing is not None:
            if trailing.activation is not None:
                self.activation = ceil_div(*ratio(trailing.activation, entry))
            if trailing.step is not None:
                self.step_num, self.step_den = ratio(trailing.step, entry)
            distance = trailing.distance
            if distance.kind is LevelKind.POINTS:
                self.tr_mul, self.tr_sub, div = 1, sign * to_units(distance.value), 1
            else:
                p, q = distance.value.as_integer_ratio()
                self.tr_mul, self.tr_sub, div = 100 * q - sign * p, 0, 100 * q
            self.tr_den = div * tick
            self.tr_sub_step = self.tr_sub * self.step_den
            self.tr_den_step = self.tr_den * self.step_den
            if trailing.step is None:
                self.step_num = 0  # marks "no step"
        breakeven = rules.breakeven
        self.be_trigger: int | None = None
        self.be_level: int | None = None
        if breakeven is not None:
            self.be_trigger = ceil_div(*ratio(breakeven.trigger, entry))
            buffer_num, buffer_den = (
                ratio(breakeven.buffer, entry) if breakeven.buffer is not None else (0, 1)
            )
            self.be_level = round_favourable(
                entry + sign * Fraction(buffer_num, buffer_den), side, tick
            )

    def levels(self, best: int) -> tuple[int | None, int | None, int]:
        """(trailing stop, breakeven stop, wake move) for `best`, in one pass (the tick path)."""
        sign, entry = self.sign, self.entry
        move = sign * (best - entry)
        wake = NEVER
        breakeven = None
        trigger = self.be_trigger
        if trigger is not None:
            if move < trigger:
                wake = trigger
            else:
                breakeven = self.be_level
        if not self.trail:
            return None, breakeven, wake
        activation = self.activation
        if activation is not None and move < activation:
            return None, breakeven, activation if activation < wake else wake
        tick = self.tick
        if self.step_num:
            steps = (move if move > 0 else 0) * self.step_den // self.step_num
            anchor = entry * self.step_den + sign * steps * self.step_num
            num = anchor * self.tr_mul - self.tr_sub_step
            den = self.tr_den_step
            anchor_den = self.step_den * tick
            nxt = -(-(steps + 1) * self.step_num // self.step_den)
        else:
            anchor = best
            num = best * self.tr_mul - self.tr_sub
            den = self.tr_den
            anchor_den = tick
            nxt = move + 1
        # Away from the anchor onto the grid, and at least one tick from it (rules.round_away).
        if sign > 0:
            trailing = (num // den) * tick
            cap = (anchor // anchor_den - 1) * tick
            if trailing > cap:
                trailing = cap
        else:
            trailing = -(-num // den) * tick
            cap = (-(-anchor // anchor_den) + 1) * tick
            if trailing < cap:
                trailing = cap
        return trailing, breakeven, nxt if nxt < wake else wake

    def trail_arms_at(self) -> int | None:
        """The first price on the tick grid at which the trail activates (its activation
        move from the entry reached), or None without a trail or an activation threshold.
        The trail is armed when `sign * (best - entry) >= activation` (see `levels`)."""
        if not self.trail or self.activation is None:
            return None
        tick = self.tick
        if self.sign > 0:
            return -(-(self.entry + self.activation) // tick) * tick
        return (self.entry - self.activation) // tick * tick

    def trailing(self, best: int) -> int | None:
        """The trailing stop for `best` (None without a trail or before its activation)."""
        return self.levels(best)[0]

    def breakeven(self, best: int) -> int | None:
        """The breakeven stop once armed by `best`, else None."""
        return self.levels(best)[1]

    def wake(self, best: int) -> int:
        """The smallest move at which a level may change again, given the current `best`."""
        return self.levels(best)[2]
