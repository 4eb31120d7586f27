"""A trailing stop never sits on the price (issue 12): at every price, a trailing level is at
least one tick and at least its configured distance from the best price. Before, a SHORT
percent trail about a tick wide rounded onto the best price once the price fell, and fired
on the very tick that made the new low."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Side, Tick, TradeState
from tradeguard.core.money import to_units
from tradeguard.core.rules import LevelKind, TradeRules
from tradeguard.core.strategy import StrategyRiskConfig

from .factory import PERCENT, POINTS, ist, make_trade, trail, u

NOW = ist(9, 30)


def test_the_issue_example_short_percent_trail_does_not_fire_on_the_new_low() -> None:
    """SHORT 20.00, tick 0.05, trail 0.25 %: 0.25 % of 20.00 is exactly one tick at entry."""
    engine = RiskEngine()
    engine.add_strategy("s", StrategyRiskConfig())
    trade = make_trade(
        side=Side.SHORT, entry="20", rules=TradeRules(trailing=trail(PERCENT, "0.25"))
    )
    engine.add_trade(trade, NOW)
    assert trade.trailing == u("20.05")
    moved = engine.on_tick(Tick("A", "NSE", u("19.95"), NOW), NOW)
    assert moved is not None
    assert not moved.exits  # the tick that made a new low does not fire
    # 0.25 % of 19.95 is 0.049875: below one tick, so the level keeps one tick: 20.00
    assert trade.trailing == u("20.00")
    assert trade.state is TradeState.ACTIVE
    decisions = engine.on_tick(Tick("A", "NSE", u("20.00"), NOW), NOW)
    assert decisions is not None
    assert [d.reason.value for d in decisions.exits] == ["TRAILING_STOP"]


def test_a_long_trail_rounds_down_away_from_the_best_price() -> None:
    """LONG, best 101.30, 1.5 % trail: raw 99.7805 -> 99.75 (a distance of 1.55 >= 1.5 %),
    not 99.80 (1.50 < 1.5 % of 101.30 = 1.5195)."""
    engine = RiskEngine()
    engine.add_strategy("s", StrategyRiskConfig())
    trade = make_trade(entry="100", rules=TradeRules(trailing=trail(PERCENT, "1.5")))
    engine.add_trade(trade, NOW)
    engine.on_tick(Tick("A", "NSE", u("101.30"), NOW), NOW)
    assert trade.trailing == u("99.75")


entries = st.integers(min_value=u("1"), max_value=u("2000"))
ticks = st.sampled_from(["0.05", "0.01", "0.1", "1"])
distances = st.one_of(
    st.tuples(st.just(PERCENT), st.sampled_from(["0.01", "0.05", "0.25", "0.3", "1", "2.5"])),
    st.tuples(st.just(POINTS), st.sampled_from(["0.05", "0.1", "1", "1.25"])),
)
moves = st.lists(st.integers(min_value=-30, max_value=30), min_size=1, max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([Side.LONG, Side.SHORT]), entries, ticks, distances, moves, st.booleans())
def test_a_trailing_level_keeps_a_tick_and_its_distance_from_the_best_price(
    side: Side,
    entry: int,
    tick: str,
    distance: tuple[LevelKind, str],
    steps: list[int],
    on_grid: bool,
) -> None:
    tick_units = to_units(tick)
    if on_grid:
        entry = entry // tick_units * tick_units or tick_units
    kind, value = distance
    if kind is POINTS and not tick_units <= to_units(value) < entry:
        return  # refused at entry: a POINTS trail is at least one tick and below the entry
    if kind is PERCENT and Fraction(entry) * Fraction(value) / 100 < tick_units:
        return  # refused at entry: a trail narrower than a tick
    engine = RiskEngine()
    engine.add_strategy("s", StrategyRiskConfig())
    trade = make_trade(
        side=side,
        tick=tick,
        entry=str(Decimal(entry).scaleb(-4)),
        rules=TradeRules(trailing=trail(kind, value)),
    )
    engine.add_trade(trade, NOW)
    price = entry // tick_units * tick_units or tick_units
    for step in steps:
        price = max(tick_units, price + step * tick_units)
        before = trade.best
        decisions = engine.on_tick(Tick("A", "NSE", price, NOW), NOW)
        if trade.state is not TradeState.ACTIVE:
            assert decisions is not None
            # a trailing exit never fires on the tick that made a new best price
            assert side.sign * (price - before) <= 0
            break
        best, level = trade.best, trade.trailing
        assert level is not None
        gap = side.sign * (best - level)
        assert gap >= tick_units
        wanted = to_units(value) if kind is POINTS else Fraction(best) * Fraction(value) / 100
        assert gap >= wanted
        assert level % tick_units == 0
