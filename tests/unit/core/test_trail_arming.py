"""The price at which a trailing stop arms (LevelPlan.trail_arms_at), as the dashboard's
"trail arms at X" shows it: the first price on the tick grid whose move from the entry reaches
the activation, checked against the exact Fraction reference (rules.trailing_price)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.core.levels import LevelPlan
from tradeguard.core.model import Side
from tradeguard.core.rules import LevelKind, Offset, TradeRules, TrailingRule, trailing_price

from .factory import POINTS, trail, u

sides = st.sampled_from([Side.LONG, Side.SHORT])
ticks = st.sampled_from([1, 5, 25, 100, 500, 2_500, 10_000])
offsets = st.one_of(
    st.builds(
        Offset,
        st.just(LevelKind.POINTS),
        st.integers(1, 5_000_000).map(lambda n: Decimal(n).scaleb(-4)),
    ),
    st.builds(
        Offset,
        st.just(LevelKind.PERCENT),
        st.integers(1, 4_999).map(lambda n: Decimal(n).scaleb(-2)),
    ),
)


def test_a_long_trail_arms_at_entry_plus_activation() -> None:
    rules = TradeRules(trailing=trail(POINTS, "5", activation="10"))
    plan = LevelPlan(rules, Side.LONG, u("800"), u("0.05"))
    assert plan.trail_arms_at() == u("810")


def test_a_short_trail_arms_at_entry_minus_activation_on_the_grid() -> None:
    rules = TradeRules(trailing=trail(POINTS, "5", activation="10.02"))
    plan = LevelPlan(rules, Side.SHORT, u("800"), u("0.05"))
    assert plan.trail_arms_at() == u("789.95")  # 789.98 is off the grid; 790.00 is too early


def test_no_arming_price_without_an_activation_or_a_trail() -> None:
    no_activation = TradeRules(trailing=trail(POINTS, "5"))
    assert LevelPlan(no_activation, Side.LONG, u("800"), 500).trail_arms_at() is None
    assert LevelPlan(TradeRules(), Side.LONG, u("800"), 500).trail_arms_at() is None


@settings(max_examples=1_500, deadline=None)
@given(sides, st.integers(50_000, 5_000_000_000), ticks, offsets, offsets)
def test_the_trail_arms_exactly_at_that_price(
    side: Side, entry: int, tick: int, distance: Offset, activation: Offset
) -> None:
    entry = entry // tick * tick
    rule = TrailingRule(distance, activation)
    arms = LevelPlan(TradeRules(trailing=rule), side, entry, tick).trail_arms_at()
    assert arms is not None
    assert arms % tick == 0
    before = arms - side.sign * tick  # one tick less favourable: not armed yet
    assert trailing_price(rule, side, entry, arms, tick) is not None
    if side.sign * (before - entry) >= 0 and before > 0:
        assert trailing_price(rule, side, entry, before, tick) is None
