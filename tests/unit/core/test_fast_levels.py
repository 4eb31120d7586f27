"""The integer level plan (core/levels.py) against the exact Fraction reference (core/rules.py),
and the engine's lazy best price: exact whenever read, never polluted by earlier ticks."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import RiskEngine
from tradeguard.core.levels import NEVER, LevelPlan
from tradeguard.core.model import ExitReason, Side, Tick, TradeState
from tradeguard.core.money import from_units
from tradeguard.core.rules import (
    BreakevenRule,
    LevelKind,
    Offset,
    TradeRules,
    TrailingRule,
    breakeven_price,
    stop_price,
    trailing_price,
)
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

from .factory import POINTS, Rig, breakeven, ist, level, make_trade, trail, u

sides = st.sampled_from([Side.LONG, Side.SHORT])
ticks = st.sampled_from([1, 5, 25, 100, 500, 2_500, 10_000])
entries = st.integers(min_value=1, max_value=5_000_000_000)
points = st.integers(min_value=1, max_value=50_000_000).map(lambda n: Decimal(n).scaleb(-4))
percents = st.builds(
    lambda n, places: Decimal(n).scaleb(-places),
    st.integers(min_value=1, max_value=999_999),
    st.integers(min_value=0, max_value=4),
).filter(lambda d: d < 100)
offsets = st.one_of(
    st.builds(Offset, st.just(LevelKind.POINTS), points),
    st.builds(Offset, st.just(LevelKind.PERCENT), percents),
)
trailings = st.builds(TrailingRule, offsets, st.none() | offsets, st.none() | offsets)
breakevens = st.builds(BreakevenRule, offsets, st.none() | offsets)


def reference(rules: TradeRules, side: Side, entry: int, best: int, tick: int) -> tuple:
    trailing = trailing_price(rules.trailing, side, entry, best, tick) if rules.trailing else None
    be = breakeven_price(rules.breakeven, side, entry, best, tick) if rules.breakeven else None
    return trailing, be


@settings(max_examples=3_000, deadline=None)
@given(
    sides,
    entries,
    ticks,
    st.none() | trailings,
    st.none() | breakevens,
    st.integers(min_value=-(10**9), max_value=10**9),
)
def test_integer_levels_equal_the_fraction_reference(
    side: Side,
    entry: int,
    tick: int,
    trailing: TrailingRule | None,
    be: BreakevenRule | None,
    move: int,
) -> None:
    rules = TradeRules(trailing=trailing, breakeven=be)
    best = max(1, entry + side.sign * move)
    plan = LevelPlan(rules, side, entry, tick)
    expected = reference(rules, side, entry, best, tick)
    assert plan.levels(best)[:2] == expected
    assert (plan.trailing(best), plan.breakeven(best)) == expected


@settings(max_examples=1_500, deadline=None)
@given(
    sides,
    st.integers(min_value=10_000, max_value=50_000_000),
    ticks,
    st.none() | trailings,
    st.none() | breakevens,
    st.integers(min_value=0, max_value=5_000_000),
    st.integers(min_value=0, max_value=10**6),
)
def test_levels_cannot_change_below_the_wake_move(
    side: Side,
    entry: int,
    tick: int,
    trailing: TrailingRule | None,
    be: BreakevenRule | None,
    move: int,
    extra: int,
) -> None:
    rules = TradeRules(trailing=trailing, breakeven=be)
    plan = LevelPlan(rules, side, entry, tick)
    best = entry + side.sign * move
    wake = plan.wake(best)
    assert wake > move
    if wake == NEVER:
        assert rules.trailing is None
        later = move + extra
    else:
        later = move + extra % (wake - move)  # any move in [move, wake)
    later_best = entry + side.sign * later
    if later_best > 0:
        assert reference(rules, side, entry, later_best, tick) == reference(
            rules, side, entry, best, tick
        )


# -- the engine's lazy best price ---------------------------------------------------------


def plain(side: Side = Side.LONG, trade_id: str = "t1", entry: str = "100") -> Trade:
    return make_trade(
        trade_id, side=side, entry=entry, rules=TradeRules(level(POINTS, "20"), level(POINTS, "30"))
    )


def test_plain_trade_is_not_evaluated_on_a_new_best_but_its_best_is_exact() -> None:
    rig = Rig()
    trade = plain()
    rig.add(trade)
    assert (trade.lo, trade.hi) == (u(80), u(130))  # stop and target: no best-price bound
    rig.engine.sync_best()
    rig.engine.dirty_trades = set()
    for price in ["101", "103.5", "102", "106.25", "99", "104"]:
        assert not rig.tick(price)  # no level change, no exit
    assert rig.engine._dirty_trades == set()  # never evaluated
    assert rig.engine.trade("t1").best == u("106.25")
    assert [t.best for t in rig.engine.trades()] == [u("106.25")]
    assert rig.engine.dirty_trades == {"t1"}  # reading the dirty set folds pending best prices


def test_short_plain_trade_best_is_exact() -> None:
    rig = Rig()
    trade = plain(Side.SHORT)
    rig.add(trade)
    for price in ["99", "97.30", "98", "101", "97.35"]:
        rig.tick(price)
    assert trade.best == u("97.30")


def test_late_trade_is_not_polluted_by_ticks_before_its_entry() -> None:
    rig = Rig()
    rig.add(plain(Side.LONG, "early"))
    rig.add(plain(Side.SHORT, "early-short"))
    for price in ["104", "108", "92", "100"]:
        rig.tick(price)
    late_long = plain(Side.LONG, "late", "100")
    late_short = plain(Side.SHORT, "late-short", "100")
    rig.add(late_long)
    rig.add(late_short)
    for price in ["101", "99.5", "100.5"]:
        rig.tick(price)
    assert rig.engine.trade("late").best == u(101)
    assert rig.engine.trade("late-short").best == u("99.5")
    assert rig.engine.trade("early").best == u(108)
    assert rig.engine.trade("early-short").best == u(92)


def test_exit_records_the_exact_best_price() -> None:
    rig = Rig()
    trade = plain()
    rig.add(trade)
    for price in ["103", "107.5", "101"]:
        rig.tick(price)
    decisions = rig.tick("80")
    assert rig.reasons(decisions) == {"t1": "STOP_LOSS"}
    assert trade.state is TradeState.EXITING
    assert trade.run is None  # detached: later ticks cannot move it
    rig.tick("120")
    assert trade.best == u("107.5")


def test_paused_trades_move_and_exiting_trades_keep_their_best_price() -> None:
    rig = Rig()
    trade = plain()
    rig.add(trade)
    rig.tick("104")
    rig.engine.pause("s", rig.now)
    rig.tick("108")  # paused: still guarded, the best price moves
    rig.engine.resume("s", rig.now)
    rig.tick("103")
    assert trade.best == u(108)
    rig.engine.request_exit("t1", rig.now)
    rig.tick("110")  # exiting: no effect
    assert trade.best == u(108)
    rig.engine.exit_abandoned("t1", rig.now)  # evaluated again at the last price (110)
    assert trade.best == u(110)
    rig.tick("109")
    rig.tick("111")
    assert trade.best == u(111)


def test_unarmed_breakeven_arms_on_the_same_tick_as_before() -> None:
    rig = Rig()
    trade = make_trade(
        rules=TradeRules(stop_loss=level(POINTS, "2"), breakeven=breakeven("1.5", "0.1"))
    )
    rig.add(trade)
    assert not rig.tick("101.45")
    decisions = rig.tick("101.50")
    assert [c.stop for c in decisions.levels] == [u("100.10")]
    assert decisions.levels[0].best == u("101.50")
    assert trade.stop_reason is ExitReason.BREAKEVEN_STOP


def test_edit_sees_the_lazy_best_price() -> None:
    rig = Rig()
    trade = plain()
    rig.add(trade)
    for price in ["104", "106", "103"]:
        rig.tick(price)
    decisions = rig.engine.update_rules(
        "t1", TradeRules(level(POINTS, "20"), level(POINTS, "30"), trail(POINTS, "2")), rig.now
    )
    assert decisions.levels[0].best == u(106)
    assert trade.trailing == u(104)


# -- the engine against a straightforward reference evaluation ----------------------------


rules_pool = st.builds(
    TradeRules,
    st.none() | st.sampled_from([level(POINTS, "2"), level(LevelKind.PERCENT, "1.5")]),
    st.none() | st.sampled_from([level(POINTS, "3"), level(LevelKind.PERCENT, "4")]),
    st.none()
    | st.sampled_from(
        [
            trail(POINTS, "1"),
            trail(LevelKind.PERCENT, "1.2", activation="0.5"),
            trail(POINTS, "1.5", step="0.35"),
            trail(LevelKind.PERCENT, "0.8", activation="1", step="0.25"),
        ]
    ),
    st.none() | st.just(breakeven("1", "0.1")),
)


class Reference:
    """Every trade evaluated on every tick with the Fraction functions of rules.py."""

    def __init__(self, trade: Trade) -> None:
        self.trade = trade
        self.rules = trade.rules
        self.best = trade.entry_price
        tick = trade.instrument.tick
        self.initial = (
            stop_price(self.rules.stop_loss, trade.side, trade.entry_price, tick)
            if self.rules.stop_loss
            else None
        )
        self.active = True
        self.levels = self._levels()

    def _levels(self) -> tuple:
        trade = self.trade
        trailing, be = reference(
            self.rules, trade.side, trade.entry_price, self.best, trade.instrument.tick
        )
        stop = self.initial
        for candidate in (be, trailing):
            if candidate is not None and (stop is None or trade.sign * (candidate - stop) > 0):
                stop = candidate
        return stop, trailing, be

    def on_price(self, ltp: int) -> tuple[bool, bool]:
        """(levels changed, exited)"""
        sign = self.trade.sign
        before = self.levels
        if sign * (ltp - self.best) > 0:
            self.best = ltp
            self.levels = self._levels()
        stop = self.levels[0]
        target = self.trade.target
        exited = (stop is not None and sign * (ltp - stop) <= 0) or (
            target is not None and sign * (ltp - target) >= 0
        )
        self.active = not exited
        return before != self.levels, exited


def ids(items: list) -> set[str]:
    return {item.trade_id for item in items}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(sides, rules_pool, st.sampled_from(["A", "B"]), st.integers(0, 60)), max_size=6
    ),
    st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(-4, 4)), max_size=80),
)
def test_engine_matches_per_tick_reference(
    specs: list[tuple[Side, TradeRules, str, int]], moves: list[tuple[str, int]]
) -> None:
    """Trades join at different times on two symbols; after every tick the engine's level
    changes, exits, best prices and levels equal a per-tick evaluation of every trade."""
    engine = RiskEngine()
    engine.add_strategy("s", StrategyRiskConfig())
    now = ist(9, 30)
    last = {"A": u(100), "B": u(100)}
    refs: dict[str, Reference] = {}
    pending = sorted((at, n, side, rules, sym) for n, (side, rules, sym, at) in enumerate(specs))
    for i, (symbol, move) in enumerate(moves):
        while pending and pending[0][0] <= i:
            _, n, side, rules, sym = pending.pop(0)
            entry = str(from_units(last[sym]))
            trade = make_trade(f"t{n}", side=side, rules=rules, symbol=sym, entry=entry)
            ref = refs[trade.trade_id] = Reference(trade)
            decisions = engine.add_trade(trade, now)
            if engine.last_price(sym, "NSE") is not None:
                ref.on_price(last[sym])
            assert ids(decisions.exits) == (set() if ref.active else {trade.trade_id})
            if not ref.active:
                engine.close_trade(trade.trade_id, last[sym], now)
                del refs[trade.trade_id]
        last[symbol] = max(u("0.05"), last[symbol] + move * u("0.05"))
        result = engine.on_tick(Tick(symbol, "NSE", last[symbol], now), now) or Decisions()
        changed, exited = set(), set()
        for trade_id, ref in refs.items():
            if ref.active and ref.trade.instrument.symbol == symbol:
                moved, out = ref.on_price(last[symbol])
                if moved:
                    changed.add(trade_id)
                if out:
                    exited.add(trade_id)
        assert ids(result.levels) == changed
        assert ids(result.exits) == exited
        for trade_id, ref in refs.items():
            trade = engine.trade(trade_id)
            assert trade.best == ref.best
            assert (trade.stop, trade.trailing, trade.breakeven) == ref.levels
        for decision in result.exits:
            engine.close_trade(decision.trade_id, last[symbol], now)
            del refs[decision.trade_id]
