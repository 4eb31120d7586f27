"""Rules a trader can trust (issue 12): a paused strategy keeps guarding its open trades, a
new trade is never evaluated at a price from before its entry, and a halted strategy made
ACTIVE again by the day roll watches its trades."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.app.replay import ReplayTrade, run_replay
from tradeguard.core.model import Instrument, Side, StrategyState, Tick, TradeState
from tradeguard.core.rules import Level, LevelKind, TradeRules
from tradeguard.core.sizing import check_can_open
from tradeguard.core.strategy import StrategyRiskConfig

from .factory import POINTS, Rig, ist, level, make_trade, trail, u


def test_a_paused_strategy_keeps_firing_stops_targets_trails_and_time_exits() -> None:
    rig = Rig()
    stop = make_trade("stop", rules=TradeRules(stop_loss=level(POINTS, "2")))
    trailing = make_trade("trail", symbol="B", rules=TradeRules(trailing=trail(POINTS, "3")))
    timed = make_trade("timed", symbol="C", rules=TradeRules(max_holding_seconds=60))
    for trade in (stop, trailing, timed):
        rig.add(trade)
    rig.engine.pause("s", rig.now)
    assert rig.engine.strategy("s").state is StrategyState.PAUSED
    assert rig.reasons(rig.tick("97.95")) == {"stop": "STOP_LOSS"}
    rig.tick("110", symbol="B")
    assert trailing.best == u(110)  # the trail keeps moving while paused
    assert rig.reasons(rig.tick("106.95", symbol="B")) == {"trail": "TRAILING_STOP"}
    rig.now += 61 * 1_000_000_000
    assert rig.reasons(rig.engine.on_clock(rig.now)) == {"timed": "MAX_HOLDING"}


def test_a_paused_strategy_takes_no_new_trades() -> None:
    rig = Rig()
    rig.engine.pause("s", rig.now)
    refusal = check_can_open(rig.engine.strategy("s"))
    assert refusal is not None
    assert "PAUSED" in refusal.reason


def test_a_paused_strategy_keeps_its_portfolio_rules() -> None:
    rig = Rig(s=StrategyRiskConfig(daily_loss_limit=Decimal(50)))
    rig.add(make_trade(quantity=10))
    rig.engine.pause("s", rig.now)
    decisions = rig.tick("94.95")
    assert rig.reasons(decisions) == {"t1": "DAILY_LOSS_LIMIT"}


def test_a_price_from_before_the_entry_is_not_evaluated() -> None:
    rig = Rig()
    rig.add(make_trade("t0"))  # keeps the symbol's last price
    rig.tick("97", at=ist(9, 15))
    late = make_trade("t1", rules=TradeRules(stop_loss=level(POINTS, "2")), entered_at=ist(9, 16))
    rig.now = ist(9, 16)
    assert not rig.add(late).exits
    assert late.state is TradeState.ACTIVE
    assert late.best == u(100)
    assert not rig.tick("100", at=ist(9, 16, 1)).exits
    assert rig.reasons(rig.tick("97.95")) == {"t1": "STOP_LOSS"}


def test_the_first_tick_after_the_entry_counts_even_at_the_old_price() -> None:
    rig = Rig()
    rig.add(make_trade("t0"))
    rig.tick("97", at=ist(9, 15))
    late = make_trade("t1", rules=TradeRules(stop_loss=level(POINTS, "2")), entered_at=ist(9, 16))
    rig.now = ist(9, 16)
    rig.add(late)
    assert rig.reasons(rig.tick("97", at=ist(9, 17))) == {"t1": "STOP_LOSS"}


def test_an_edit_does_not_evaluate_a_price_from_before_the_entry() -> None:
    rig = Rig()
    rig.add(make_trade("t0"))
    rig.tick("97", at=ist(9, 15))
    rig.now = ist(9, 16)
    rig.add(make_trade("t1", entered_at=ist(9, 16)))
    decisions = rig.engine.update_rules("t1", TradeRules(stop_loss=level(POINTS, "2")), rig.now)
    assert not decisions.exits


S = 1_000_000_000
T0 = 1_740_973_500 * S  # 2025-03-03 09:15:00 IST
RS = 10_000


def _spec(trade_id: str, entry: int, rules: TradeRules, at: int) -> ReplayTrade:
    return ReplayTrade(
        trade_id=trade_id,
        strategy_id="s",
        instrument=Instrument("A", "NSE", Decimal("0.05")),
        side=Side.LONG,
        quantity=1,
        entry_price=entry * RS,
        rules=rules,
        entered_at=at,
    )


def test_replay_an_earlier_trade_does_not_change_a_later_ones_exit() -> None:
    """The issue's reproduction: with T0 present, T1 was stopped at the pre-entry 97."""
    ticks = [Tick("A", "NSE", 97 * RS, T0), Tick("A", "NSE", 100 * RS, T0 + S)]
    t1 = _spec("T1", 100, TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal(2))), T0 + S)
    t0 = _spec("T0", 97, TradeRules(), T0)
    alone = run_replay({"s": StrategyRiskConfig()}, [t1], ticks)
    together = run_replay({"s": StrategyRiskConfig()}, [t0, t1], ticks)
    assert alone.exits == ()
    assert together.exits == ()
    assert {row.trade_id for row in together.open_trades} == {"T0", "T1"}


def test_a_halted_strategy_made_active_by_the_day_roll_watches_its_trades() -> None:
    rig = Rig(s=StrategyRiskConfig(daily_loss_limit=Decimal(5)))
    trade = make_trade(quantity=10, rules=TradeRules(stop_loss=level(POINTS, "20")))
    rig.add(trade)
    assert rig.reasons(rig.tick("99.5")) == {"t1": "DAILY_LOSS_LIMIT"}
    assert rig.engine.strategy("s").state is StrategyState.HALTED
    rig.engine.exit_abandoned("t1", rig.now)  # the exit did not go through: ACTIVE again
    assert trade.state is TradeState.ACTIVE
    next_day = ist(9, 15, day=26)
    rig.now = next_day
    changes = rig.engine.on_clock(next_day)
    assert [c.state for c in changes.strategies] == [StrategyState.ACTIVE]
    assert rig.reasons(rig.tick("79.95", at=next_day + 1)) == {"t1": "STOP_LOSS"}


def test_a_halted_strategys_reopened_trade_keeps_its_own_rules() -> None:
    rig = Rig(s=StrategyRiskConfig(daily_loss_limit=Decimal(5)))
    trade = make_trade(quantity=10, rules=TradeRules(stop_loss=level(POINTS, "20")))
    rig.add(trade)
    rig.tick("99.5")
    rig.engine.exit_abandoned("t1", rig.now)
    assert rig.engine.strategy("s").state is StrategyState.HALTED
    assert rig.reasons(rig.tick("79.95")) == {"t1": "STOP_LOSS"}
