"""Market hours (core.sessions): square-off and max-holding exits do not fire outside the
exchange's session; they fire at the next session's open instead (before, they fired at
night and ended in EXIT_FAILED)."""

from __future__ import annotations

from datetime import date, time

from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Tick
from tradeguard.core.rules import TradeRules
from tradeguard.core.sessions import ALWAYS_OPEN, MarketCalendar
from tradeguard.core.strategy import StrategyRiskConfig

from .factory import ist, make_trade, u

# 2026-11-25 is a Wednesday; the 27th a Friday; the 30th a Monday.


def engine(calendar: MarketCalendar = MarketCalendar()) -> RiskEngine:  # noqa: B008 - frozen
    risk = RiskEngine(calendar)
    risk.add_strategy("s", StrategyRiskConfig())
    return risk


def test_the_default_calendar() -> None:
    nse = MarketCalendar()
    assert nse.is_open("NSE", ist(9, 15))
    assert nse.is_open("NSE", ist(15, 29, 59))
    assert not nse.is_open("NSE", ist(15, 30))
    assert not nse.is_open("NSE", ist(9, 14, 59))
    assert nse.is_open("MCX", ist(23, 0))
    assert not nse.is_open("MCX", ist(23, 30))
    assert nse.is_open("CDS", ist(16, 59))
    assert not nse.is_open("NSE", ist(10, 0, day=28))  # Saturday
    assert nse.is_open("CRYPTO", ist(3, 0, day=29))  # unlisted: always open
    assert nse.next_open("NSE", ist(16, 0, day=27)) == ist(9, 15, day=30)  # Friday -> Monday
    assert nse.next_open("NSE", ist(8, 0)) == ist(9, 15)
    holiday = MarketCalendar(holidays=frozenset({date(2026, 11, 26)}))
    assert holiday.next_open("NSE", ist(16, 0)) == ist(9, 15, day=27)
    assert ALWAYS_OPEN.is_open("NSE", ist(3, 0, day=28))


def test_max_holding_expiring_after_the_close_fires_at_the_next_open() -> None:
    risk = engine()
    trade = make_trade(rules=TradeRules(max_holding_seconds=3600), entered_at=ist(15, 0))
    risk.add_trade(trade, ist(15, 0))
    assert not risk.on_clock(ist(16, 0)).exits  # due, but NSE is closed
    assert not risk.on_clock(ist(23, 59)).exits
    assert not risk.on_clock(ist(9, 14, 59, day=26)).exits
    decisions = risk.on_clock(ist(9, 15, day=26))
    assert [d.reason.value for d in decisions.exits] == ["MAX_HOLDING"]


def test_a_square_off_set_after_the_close_waits_for_the_open_and_skips_the_weekend() -> None:
    risk = engine()
    trade = make_trade(rules=TradeRules(square_off=time(16, 0)), entered_at=ist(10, 0, day=27))
    risk.add_trade(trade, ist(10, 0, day=27))
    assert not risk.on_clock(ist(16, 0, day=27)).exits
    assert not risk.on_clock(ist(10, 0, day=28)).exits  # Saturday
    tick = Tick("A", "NSE", u(101), ist(9, 15, day=30))
    decisions = risk.on_tick(tick, ist(9, 15, day=30))
    assert decisions is not None
    assert [d.reason.value for d in decisions.exits] == ["SQUARE_OFF"]


def test_a_deferred_time_exit_is_rescheduled_to_the_open() -> None:
    risk = engine()
    trade = make_trade(rules=TradeRules(max_holding_seconds=60), entered_at=ist(15, 29))
    risk.add_trade(trade, ist(15, 29))
    assert not risk.on_clock(ist(15, 31)).exits
    assert trade.deadline == ist(9, 15, day=26)


def test_without_a_calendar_time_exits_fire_at_any_hour() -> None:
    risk = engine(ALWAYS_OPEN)
    trade = make_trade(rules=TradeRules(max_holding_seconds=3600), entered_at=ist(15, 0))
    risk.add_trade(trade, ist(15, 0))
    assert [d.reason.value for d in risk.on_clock(ist(16, 0)).exits] == ["MAX_HOLDING"]
