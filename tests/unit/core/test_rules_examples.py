"""The worked examples of docs/rules.md, one test each (E1..E24)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.core.engine import EngineError
from tradeguard.core.model import ExitReason, Side, StrategyState
from tradeguard.core.rules import RuleError, TradeRules
from tradeguard.core.sizing import Refusal, check_can_open, size_position
from tradeguard.core.strategy import AmountKind, SizingKind, StrategyRiskConfig

from .factory import (
    PERCENT,
    POINTS,
    PRICE,
    Rig,
    breakeven,
    instrument,
    ist,
    level,
    make_trade,
    offset,
    trail,
    u,
)

SL2 = TradeRules(stop_loss=level(POINTS, "2"))


def test_e1_stop_loss_long_points() -> None:
    rig = Rig()
    trade = make_trade(rules=SL2)
    rig.add(trade)
    assert trade.stop == u("98")
    assert not rig.tick("99.10").exits
    assert not rig.tick("98.05").exits
    (exit_,) = rig.tick("98.00").exits
    assert (exit_.reason, exit_.trigger, exit_.price) == (ExitReason.STOP_LOSS, u(98), u(98))
    assert exit_.quantity == 1
    assert exit_.side is Side.LONG


def test_e2_stop_loss_short_mirror() -> None:
    rig = Rig()
    trade = make_trade(side=Side.SHORT, rules=SL2)
    rig.add(trade)
    assert trade.stop == u("102")
    assert not rig.tick("101.95").exits
    (exit_,) = rig.tick("102.00").exits
    assert (exit_.reason, exit_.trigger) == (ExitReason.STOP_LOSS, u(102))


def test_e3_percent_stop_rounds_tighter() -> None:
    rules = TradeRules(stop_loss=level(PERCENT, "1.5"))
    assert make_trade(entry="101.30", rules=rules).stop == u("99.80")
    assert make_trade(entry="101.30", side=Side.SHORT, rules=rules).stop == u("102.80")


def test_e4_percent_target_rounds_away_from_entry() -> None:
    rules = TradeRules(target=level(PERCENT, "2"))
    rig = Rig()
    trade = make_trade(entry="101.30", rules=rules)
    rig.add(trade)
    assert trade.target == u("103.35")
    assert not rig.tick("103.30").exits
    assert rig.reasons(rig.tick("103.35")) == {"t1": "TARGET"}
    assert make_trade(entry="101.30", side=Side.SHORT, rules=rules).target == u("99.25")


def test_e5_absolute_prices_round_favourably() -> None:
    long_ = make_trade(rules=TradeRules(stop_loss=level(PRICE, "97.52")))
    assert long_.stop == u("97.55")
    short = make_trade(side=Side.SHORT, rules=TradeRules(target=level(PRICE, "95.52")))
    assert short.target == u("95.50")


def test_e6_gap_through_level_records_trigger_and_price() -> None:
    rig = Rig()
    rig.add(make_trade(rules=TradeRules(stop_loss=level(POINTS, "2"))))
    assert not rig.tick("99.00").exits
    (exit_,) = rig.tick("96.40").exits
    assert (exit_.trigger, exit_.price) == (u(98), u("96.40"))


def test_e7_trailing_long_points() -> None:
    rig = Rig()
    trade = make_trade(rules=TradeRules(trailing=trail(POINTS, "3")))
    rig.add(trade)
    assert trade.stop == u(97)
    rig.tick("101")
    assert trade.stop == u(98)
    rig.tick("104.20")
    assert trade.stop == u("101.20")
    assert not rig.tick("103").exits
    assert trade.stop == u("101.20")
    (exit_,) = rig.tick("101.20").exits
    assert (exit_.reason, exit_.trigger) == (ExitReason.TRAILING_STOP, u("101.20"))


def test_e8_trailing_short_percent() -> None:
    rig = Rig()
    trade = make_trade(side=Side.SHORT, entry="200", rules=TradeRules(trailing=trail(PERCENT, "1")))
    rig.add(trade)
    assert trade.stop == u(202)
    rig.tick("190")
    assert trade.stop == u("191.90")
    assert rig.reasons(rig.tick("191.90")) == {"t1": "TRAILING_STOP"}


def test_e9_activation() -> None:
    rig = Rig()
    trade = make_trade(rules=TradeRules(trailing=trail(POINTS, "2", activation="3")))
    rig.add(trade)
    rig.tick("102.95")
    assert trade.trailing is None
    assert trade.stop is None
    rig.tick("103")
    assert trade.trailing == u(101)


def test_e10_step() -> None:
    rig = Rig()
    trade = make_trade(rules=TradeRules(trailing=trail(POINTS, "2", step="1")))
    rig.add(trade)
    rig.tick("100.95")
    assert trade.trailing == u(98)
    rig.tick("101")
    assert trade.trailing == u(99)
    rig.tick("102.70")
    assert trade.trailing == u(100)


def test_e11_breakeven() -> None:
    rig = Rig()
    rules = TradeRules(stop_loss=level(POINTS, "2"), breakeven=breakeven("1.5", "0.10"))
    trade = make_trade(rules=rules)
    rig.add(trade)
    rig.tick("101.45")
    assert trade.stop == u(98)
    rig.tick("101.50")
    assert (trade.stop, trade.stop_reason) == (u("100.10"), ExitReason.BREAKEVEN_STOP)
    assert rig.reasons(rig.tick("100.10")) == {"t1": "BREAKEVEN_STOP"}


def test_e12_tie_and_tightest_name_the_reason() -> None:
    rig = Rig()
    trade = make_trade(rules=TradeRules(stop_loss=level(POINTS, "2"), trailing=trail(POINTS, "2")))
    rig.add(trade)
    assert (trade.stop, trade.stop_reason) == (u(98), ExitReason.STOP_LOSS)
    rig.tick("100.50")
    assert (trade.stop, trade.stop_reason) == (u("98.50"), ExitReason.TRAILING_STOP)
    assert rig.reasons(rig.tick("98.50")) == {"t1": "TRAILING_STOP"}


def test_e13_stop_never_loosens_after_peak() -> None:
    rig = Rig()
    trade = make_trade(rules=TradeRules(trailing=trail(POINTS, "3")))
    rig.add(trade)
    rig.tick("104.20")
    for price in ("103", "102.50", "103.95", "101.25"):
        rig.tick(price)
        assert trade.stop == u("101.20")


def test_e14_square_off_same_day_and_next_day() -> None:
    rig = Rig(s=StrategyRiskConfig(square_off_time=None))
    rules = TradeRules(square_off=ist_time("15:15"))
    early = make_trade("early", rules=rules, entered_at=ist(9, 20))
    late = make_trade("late", rules=rules, entered_at=ist(15, 20), symbol="B")
    rig.add(early)
    rig.add(late)
    assert not rig.tick("100", at=ist(15, 14, 59)).exits
    decisions = rig.engine.on_clock(ist(15, 15))
    assert rig.reasons(decisions) == {"early": "SQUARE_OFF"}
    (exit_,) = decisions.exits
    assert exit_.trigger is None
    assert exit_.price == u(100)
    assert late.deadline == ist(15, 15, day=26)


def test_e15_max_holding_and_earlier_deadline_wins() -> None:
    rig = Rig()
    hold = make_trade("hold", rules=TradeRules(max_holding_seconds=1800), entered_at=ist(10, 0))
    both = make_trade(
        "both",
        rules=TradeRules(max_holding_seconds=1800, square_off=ist_time("10:20")),
        entered_at=ist(10, 0),
        symbol="B",
    )
    rig.add(hold)
    rig.add(both)
    assert rig.reasons(rig.engine.on_clock(ist(10, 20))) == {"both": "SQUARE_OFF"}
    assert not rig.engine.on_clock(ist(10, 29, 59)).exits
    assert rig.reasons(rig.tick("100", at=ist(10, 30))) == {"hold": "MAX_HOLDING"}


def test_e16_price_rule_beats_time_on_same_tick() -> None:
    rig = Rig()
    rules = TradeRules(stop_loss=level(POINTS, "2"), square_off=ist_time("15:15"))
    rig.add(make_trade(rules=rules))
    assert rig.reasons(rig.tick("97.90", at=ist(15, 16))) == {"t1": "STOP_LOSS"}


def test_e17_portfolio_pnl_incremental_and_realized() -> None:
    rig = Rig()
    rig.add(make_trade("a", entry="1000", quantity=10, symbol="A"))
    rig.add(make_trade("b", side=Side.SHORT, entry="400", quantity=50, symbol="B"))
    book = rig.engine.strategy("s")
    rig.tick("1002", symbol="A")
    assert book.pnl == u(20)
    rig.tick("398", symbol="B")
    assert book.pnl == u(120)
    rig.engine.request_exit("a", rig.now)
    rig.engine.close_trade("a", u(1001), rig.now)
    assert (book.realized, book.pnl) == (u(10), u(110))


def test_e18_portfolio_stop_percent_of_allocated() -> None:
    config = StrategyRiskConfig(
        allocated_funds=Decimal(200_000),
        enable_portfolio_sl=True,
        portfolio_sl_type=AmountKind.PERCENT,
        portfolio_sl_value=Decimal(2),
    )
    rig = Rig(s=config)
    rig.add(make_trade("a", entry="1000", quantity=100))
    rig.add(make_trade("b", entry="50", quantity=10, symbol="B"))
    rig.tick("50", symbol="B")
    decisions = rig.tick("960.05", symbol="A")  # P&L -3,995
    assert not decisions.exits
    decisions = rig.tick("960", symbol="A")  # P&L -4,000
    assert rig.reasons(decisions) == {"a": "PORTFOLIO_STOP", "b": "PORTFOLIO_STOP"}
    assert rig.engine.strategy("s").state is StrategyState.HALTED
    assert decisions.exits[0].trigger == -u(4000)


def test_e19_portfolio_trailing_with_activation() -> None:
    config = StrategyRiskConfig(
        enable_portfolio_trailing_sl=True,
        portfolio_trailing_value=Decimal(1000),
        portfolio_trailing_activation=Decimal(2000),
    )
    rig = Rig(s=config)
    rig.add(make_trade(entry="100", quantity=1000))
    book = rig.engine.strategy("s")
    rig.tick("101.50")
    assert book.trailing_level is None
    rig.tick("102.60")
    assert book.trailing_level == u(1600)
    rig.tick("103")
    assert book.trailing_level == u(2000)
    (exit_,) = rig.tick("102").exits
    assert (exit_.reason, exit_.trigger) == (ExitReason.PORTFOLIO_TRAILING, u(2000))


def test_e20_daily_loss_limit_halts_until_next_day() -> None:
    rig = Rig(s=StrategyRiskConfig(daily_loss_limit=Decimal(3000)))
    rig.add(make_trade(entry="100", quantity=1000))
    (exit_,) = rig.tick("97").exits
    assert exit_.reason is ExitReason.DAILY_LOSS_LIMIT
    book = rig.engine.strategy("s")
    assert book.state is StrategyState.HALTED
    assert isinstance(check_can_open(book), Refusal)
    with pytest.raises(EngineError, match="daily loss limit"):
        rig.engine.resume("s", rig.now)
    rig.engine.close_trade("t1", u(97), rig.now)
    assert book.realized == -u(3000)
    changes = rig.engine.on_clock(ist(9, 0, day=26))
    assert [c.state for c in changes.strategies] == [StrategyState.ACTIVE]
    assert (book.realized, book.pnl, book.state) == (0, 0, StrategyState.ACTIVE)


def test_e21_trade_rule_beats_portfolio_rule() -> None:
    config = StrategyRiskConfig(enable_portfolio_sl=True, portfolio_sl_value=Decimal(100))
    rig = Rig(s=config)
    rig.add(make_trade("x", quantity=100, rules=TradeRules(stop_loss=level(POINTS, "1"))))
    rig.add(make_trade("y", quantity=1, symbol="B"))
    rig.tick("100", symbol="B")
    assert rig.reasons(rig.tick("99", symbol="A")) == {"x": "STOP_LOSS", "y": "PORTFOLIO_STOP"}


def test_e22_daily_limit_beats_portfolio_stop() -> None:
    config = StrategyRiskConfig(
        daily_loss_limit=Decimal(3000), enable_portfolio_sl=True, portfolio_sl_value=Decimal(2500)
    )
    rig = Rig(s=config)
    rig.add(make_trade(quantity=1000))
    assert rig.reasons(rig.tick("96.90")) == {"t1": "DAILY_LOSS_LIMIT"}


def test_e23_sizing() -> None:
    def book_with(**changes: object) -> object:
        rig = Rig(s=StrategyRiskConfig(allocated_funds=Decimal(100_000)).replace(**changes))
        return rig

    rig = book_with(position_size_type=SizingKind.FIXED_VALUE, position_size_value=Decimal(25_000))
    book = rig.engine.strategy("s")
    assert size_position(book, instrument(), u("1234.50")) == 20
    assert (
        size_position(
            book.__class__("n", book.config.replace(position_size_value=Decimal(50_000))),
            instrument(lot=75),
            u(150),
        )
        == 300
    )
    rig = book_with(
        position_size_type=SizingKind.PERCENT_ALLOCATION, position_size_value=Decimal(10)
    )
    book = rig.engine.strategy("s")
    assert size_position(book, instrument(), u(2500)) == 4
    rig.add(make_trade("big", entry="950", quantity=100))
    assert book.exposure == u(95_000)
    assert size_position(book, instrument(), u(2500)) == 2
    rig = book_with(position_size_type=SizingKind.FIXED_QUANTITY, position_size_value=Decimal(130))
    assert size_position(rig.engine.strategy("s"), instrument(lot=50), u(10)) == 100
    rig = book_with(
        position_size_type=SizingKind.FIXED_QUANTITY,
        position_size_value=Decimal(1),
        max_open_positions=5,
    )
    for n in range(5):
        rig.add(make_trade(f"t{n}", entry="10", symbol=f"S{n}"))
    refusal = size_position(rig.engine.strategy("s"), instrument(), u(10))
    assert isinstance(refusal, Refusal)
    assert "max_open_positions 5" in refusal.reason


def test_e24_resume_after_halt_rebases_portfolio_rules() -> None:
    config = StrategyRiskConfig(enable_portfolio_sl=True, portfolio_sl_value=Decimal(1000))
    rig = Rig(s=config)
    rig.add(make_trade("a", quantity=1000))
    assert rig.reasons(rig.tick("99")) == {"a": "PORTFOLIO_STOP"}
    rig.engine.close_trade("a", u(99), rig.now)
    rig.engine.resume("s", rig.now)
    rig.add(make_trade("b", quantity=1000, symbol="B"))
    assert not rig.tick("99.05", symbol="B").exits  # day P&L -1,950
    assert rig.reasons(rig.tick("99", symbol="B")) == {"b": "PORTFOLIO_STOP"}  # -2,000


def test_stop_on_wrong_side_is_refused() -> None:
    with pytest.raises(RuleError, match="stop-loss"):
        make_trade(rules=TradeRules(stop_loss=level(PRICE, "101")))
    with pytest.raises(RuleError, match="target"):
        make_trade(side=Side.SHORT, rules=TradeRules(target=level(PRICE, "101")))
    with pytest.raises(RuleError, match="one tick"):
        make_trade(rules=TradeRules(trailing=trail(POINTS, "0.01")))
    with pytest.raises(RuleError, match="buffer"):
        make_trade(rules=TradeRules(breakeven=breakeven("1", "1")))
    with pytest.raises(RuleError, match="positive"):
        offset(POINTS, "0")


def ist_time(text: str):
    from datetime import time

    hour, minute = text.split(":")
    return time(int(hour), int(minute))
