"""Hypothesis properties of the engine: monotone stops, formulas, determinism, once-only exits,
incremental P&L equal to a full recomputation, and LONG/SHORT mirror symmetry."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Side, Tick, TradeState
from tradeguard.core.money import to_units
from tradeguard.core.rules import TradeRules
from tradeguard.core.strategy import StrategyRiskConfig

from .factory import PERCENT, POINTS, breakeven, ist, level, make_trade, trail, u

TICK = u("0.05")
ENTRY = u(100)
NOW = ist(9, 30)

steps = st.lists(st.integers(min_value=-40, max_value=40), min_size=1, max_size=60)
sides = st.sampled_from([Side.LONG, Side.SHORT])


@st.composite
def trade_rules(draw: st.DrawFn, *, points_only: bool = False) -> TradeRules:
    kinds = [POINTS] if points_only else [POINTS, PERCENT]
    stop = draw(st.none() | st.sampled_from(["0.5", "1", "2.35", "5"]))
    target = draw(st.none() | st.sampled_from(["1", "3", "7.5"]))
    trailing = None
    if draw(st.booleans()):
        trailing = trail(
            draw(st.sampled_from(kinds)),
            draw(st.sampled_from(["0.5", "1", "2.5"])),
            activation=draw(st.none() | st.sampled_from(["0.5", "2"])),
            step=draw(st.none() | st.sampled_from(["0.25", "1"])),
        )
    be = breakeven("1.5", "0.2") if draw(st.booleans()) else None
    return TradeRules(
        stop_loss=level(draw(st.sampled_from(kinds)), stop) if stop else None,
        target=level(draw(st.sampled_from(kinds)), target) if target else None,
        trailing=trailing,
        breakeven=be,
    )


def walk(start: int, moves: list[int]) -> list[int]:
    prices, price = [], start
    for move in moves:
        price = max(TICK, price + move * TICK)
        prices.append(price)
    return prices


def run(side: Side, rules: TradeRules, prices: list[int]) -> tuple[list[Decisions], object]:
    engine = RiskEngine()
    engine.add_strategy("s", StrategyRiskConfig())
    trade = make_trade(side=side, rules=rules)
    engine.add_trade(trade, NOW)
    out = []
    for price in prices:
        result = engine.on_tick(Tick("A", "NSE", price, NOW), NOW)
        out.append(result if result is not None else Decisions())
    return out, trade


@settings(max_examples=300, deadline=None)
@given(sides, trade_rules(), steps)
def test_effective_stop_never_loosens(side: Side, rules: TradeRules, moves: list[int]) -> None:
    engine = RiskEngine()
    engine.add_strategy("s", StrategyRiskConfig())
    trade = make_trade(side=side, rules=rules)
    engine.add_trade(trade, NOW)
    previous = trade.stop
    for price in walk(ENTRY, moves):
        engine.on_tick(Tick("A", "NSE", price, NOW), NOW)
        if previous is not None:
            assert trade.stop is not None
            assert side.sign * (trade.stop - previous) >= 0
        previous = trade.stop
        if trade.state is not TradeState.ACTIVE:
            break


def expected_trailing(side: Side, rules: TradeRules, best: int) -> int | None:
    """An independent Decimal implementation of the trailing formula in docs/rules.md."""
    assert rules.trailing is not None
    rule = rules.trailing
    entry = Decimal(ENTRY)
    move = side.sign * (Decimal(best) - entry)
    if rule.activation is not None and move < Decimal(to_units(rule.activation.value)):
        return None
    anchor = Decimal(best)
    if rule.step is not None:
        step = Decimal(to_units(rule.step.value))
        anchor = entry + side.sign * (max(move, Decimal(0)) // step) * step
    if rule.distance.kind is POINTS:
        raw = anchor - side.sign * Decimal(to_units(rule.distance.value))
    else:
        raw = anchor * (1 - side.sign * rule.distance.value / 100)
    # away from the anchor onto the grid, and at least one tick beyond it
    if side is Side.LONG:
        level = int((raw / TICK).to_integral_value(rounding=ROUND_FLOOR)) * TICK
        return min(
            level, int((anchor / TICK).to_integral_value(rounding=ROUND_FLOOR)) * TICK - TICK
        )
    level = int((raw / TICK).to_integral_value(rounding=ROUND_CEILING)) * TICK
    return max(level, int((anchor / TICK).to_integral_value(rounding=ROUND_CEILING)) * TICK + TICK)


@settings(max_examples=300, deadline=None)
@given(sides, trade_rules(), steps)
def test_trailing_level_matches_formula_from_best(
    side: Side, rules: TradeRules, moves: list[int]
) -> None:
    if rules.trailing is None:
        return
    engine = RiskEngine()
    engine.add_strategy("s", StrategyRiskConfig())
    trade = make_trade(side=side, rules=rules)
    engine.add_trade(trade, NOW)
    best = ENTRY
    for price in walk(ENTRY, moves):
        engine.on_tick(Tick("A", "NSE", price, NOW), NOW)
        if trade.state is not TradeState.ACTIVE:
            break
        best = max(best, price) if side is Side.LONG else min(best, price)
        assert trade.best == best
        assert trade.trailing == expected_trailing(side, rules, best)


@settings(max_examples=150, deadline=None)
@given(sides, trade_rules(), steps)
def test_identical_streams_give_identical_decisions(
    side: Side, rules: TradeRules, moves: list[int]
) -> None:
    prices = walk(ENTRY, moves)
    first, _ = run(side, rules, prices)
    second, _ = run(side, rules, prices)
    assert first == second


@st.composite
def books(draw: st.DrawFn) -> tuple[list[tuple[str, str, Side, int, int, TradeRules]], list]:
    """Several trades over 3 symbols in 2 strategies, and a mixed stream of ticks and closes."""
    trades = []
    for n in range(draw(st.integers(1, 8))):
        trades.append(
            (
                f"t{n}",
                draw(st.sampled_from(["s1", "s2"])),
                draw(sides),
                draw(st.integers(1, 50)),
                draw(st.sampled_from(["A", "B", "C"])),
                draw(trade_rules()),
            )
        )
    events = draw(
        st.lists(
            st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(-30, 30), st.integers(0, 9)),
            max_size=80,
        )
    )
    return trades, events


def portfolio_config(kind: int) -> StrategyRiskConfig:
    return [
        StrategyRiskConfig(),
        StrategyRiskConfig(enable_portfolio_sl=True, portfolio_sl_value=Decimal(150)),
        StrategyRiskConfig(
            enable_portfolio_trailing_sl=True,
            portfolio_trailing_value=Decimal(60),
            enable_portfolio_target=True,
            portfolio_target_value=Decimal(400),
        ),
    ][kind]


@settings(max_examples=200, deadline=None)
@given(books(), st.integers(0, 2), st.integers(0, 2))
def test_exits_once_and_incremental_pnl_equals_recomputation(
    book: tuple[list, list], kind1: int, kind2: int
) -> None:
    trades_spec, events = book
    engine = RiskEngine()
    engine.add_strategy("s1", portfolio_config(kind1))
    engine.add_strategy("s2", portfolio_config(kind2))
    all_trades = {}
    for trade_id, strategy, side, qty, symbol, rules in trades_spec:
        trade = make_trade(
            trade_id, side=side, quantity=qty, symbol=symbol, strategy=strategy, rules=rules
        )
        all_trades[trade_id] = trade
        engine.add_trade(trade, NOW)
    last = {"A": ENTRY, "B": ENTRY, "C": ENTRY}
    seen: dict[str, int] = {}
    exiting: list[str] = []
    for symbol, move, close_pick in events:
        last[symbol] = max(TICK, last[symbol] + move * TICK)
        result = engine.on_tick(Tick(symbol, "NSE", last[symbol], NOW), NOW) or Decisions()
        for exit_ in result.exits:
            seen[exit_.trade_id] = seen.get(exit_.trade_id, 0) + 1
            exiting.append(exit_.trade_id)
        if exiting and close_pick < 3:  # the oldest exit fills at the current price
            trade_id = exiting.pop(0)
            trade = all_trades[trade_id]
            price = engine.last_price(trade.instrument.symbol, "NSE") or trade.entry_price
            more = engine.close_trade(trade_id, price, NOW)
            for exit_ in more.exits:
                seen[exit_.trade_id] = seen.get(exit_.trade_id, 0) + 1
                exiting.append(exit_.trade_id)
    assert all(count == 1 for count in seen.values()), seen
    for strategy in engine.strategies():
        realized = sum(
            t.realized_pnl or 0
            for t in all_trades.values()
            if t.strategy_id == strategy.strategy_id and t.state is TradeState.CLOSED
        )
        unrealized = sum(
            t.pnl_at(engine.last_price(t.instrument.symbol, "NSE") or t.entry_price)
            for t in all_trades.values()
            if t.strategy_id == strategy.strategy_id and t.state.is_open
        )
        assert strategy.realized == realized
        assert strategy.pnl == realized + unrealized


@settings(max_examples=200, deadline=None)
@given(trade_rules(points_only=True), steps)
def test_long_and_short_are_mirror_images(rules: TradeRules, moves: list[int]) -> None:
    prices = walk(ENTRY, moves)
    if min(prices) <= TICK or max(prices) >= 2 * ENTRY - TICK:
        return
    mirrored = [2 * ENTRY - p for p in prices]
    long_decisions, long_trade = run(Side.LONG, rules, prices)
    short_decisions, short_trade = run(Side.SHORT, rules, mirrored)
    for long_d, short_d in zip(long_decisions, short_decisions, strict=True):
        assert [(e.reason, e.trigger) for e in long_d.exits] == [
            (e.reason, 2 * ENTRY - e.trigger if e.trigger is not None else None)
            for e in short_d.exits
        ]
    assert long_trade.stop == (2 * ENTRY - short_trade.stop if short_trade.stop else None)
