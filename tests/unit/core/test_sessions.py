"""Market hours (core.sessions, core.time_exits): square-off and max-holding exits do not fire
outside the exchange's session; they fire at the next session's open instead (before, they
fired at night and ended in EXIT_FAILED). Known days (OpenAlgo's market/timings) override the
default calendar: a holiday has no session, a special session is the day's only one."""

from __future__ import annotations

from datetime import date, time

from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Tick
from tradeguard.core.rules import TradeRules
from tradeguard.core.sessions import (
    ALWAYS_OPEN,
    OPENALGO_EXCHANGES,
    ExchangeSession,
    MarketCalendar,
    clock_shift,
    day_number,
    day_sessions,
    plausible,
)
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.timeutil import ist_day_start

from .factory import ist, make_trade, u

S = 1_000_000_000

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


# -- known days: the hours OpenAlgo's market/timings gave (holidays, special sessions) --------


def known(
    day: int, sessions: dict[str, list[tuple[int, int]]], base: MarketCalendar | None = None
) -> MarketCalendar:
    """The default calendar with 2026-11-<day> known as `sessions` (OpenAlgo's exchanges)."""
    number = day_number(date(2026, 11, day))
    reported = [ExchangeSession(e, s, t) for e, found in sessions.items() for s, t in found]
    return (base or MarketCalendar()).with_days(
        {number: day_sessions(reported)}, OPENALGO_EXCHANGES
    )


def test_a_known_holiday_closes_every_covered_exchange_and_only_that_day() -> None:
    holiday = known(26, {})  # Thursday: OpenAlgo answered an empty list
    assert not holiday.is_open("NSE", ist(10, 0, day=26))
    assert not holiday.is_open("MCX", ist(20, 0, day=26))
    assert holiday.is_open("NSE", ist(10, 0, day=25))  # the days around keep their hours
    assert holiday.is_open("NSE", ist(10, 0, day=27))
    assert holiday.next_open("NSE", ist(16, 0, day=25)) == ist(9, 15, day=27)
    # an exchange OpenAlgo's calendar does not cover keeps the default hours
    assert holiday.is_open("NCDEX", ist(10, 0, day=26))
    assert holiday.is_open("CRYPTO", ist(3, 0, day=26))  # unlisted anywhere: always open
    # what OpenAlgo lists for an exchange outside its calendar's seven is not used
    crypto = known(26, {"CRYPTO": [(ist(5, 30, day=26), ist(5, 29, day=27))]})
    assert crypto.is_open("CRYPTO", ist(3, 0, day=26))
    assert crypto.is_open("CRYPTO", ist(3, 0, day=28))


def test_a_special_session_is_the_only_session_of_its_day() -> None:
    muhurat = known(26, {"NSE": [(ist(18, 0, day=26), ist(19, 15, day=26))]})
    assert not muhurat.is_open("NSE", ist(10, 0, day=26))
    assert muhurat.is_open("NSE", ist(18, 0, day=26))
    assert not muhurat.is_open("NSE", ist(19, 15, day=26))
    assert muhurat.next_open("NSE", ist(9, 0, day=26)) == ist(18, 0, day=26)
    assert muhurat.session_start("NSE", ist(18, 30, day=26)) == ist(18, 0, day=26)
    assert muhurat.session_start("NSE", ist(10, 0, day=26)) is None
    assert not muhurat.is_open("BSE", ist(18, 30, day=26))  # not listed that day: closed


def test_a_session_past_midnight_stays_open_into_the_next_day() -> None:
    late = known(27, {"MCX": [(ist(18, 0, day=27), ist(0, 15, day=28))]})  # Friday night
    assert late.is_open("MCX", ist(23, 59, day=27))
    assert late.is_open("MCX", ist(0, 10, day=28))  # Saturday, still the Friday session
    assert not late.is_open("MCX", ist(0, 15, day=28))


def test_implausible_sessions_are_recognised() -> None:
    day = day_number(date(2026, 11, 26))
    assert plausible(day, ExchangeSession("NSE", ist(9, 15, day=26), ist(15, 30, day=26)))
    assert not plausible(day, ExchangeSession("NSE", ist(9, 15, day=25), ist(15, 30, day=25)))
    assert not plausible(day, ExchangeSession("NSE", ist(15, 30, day=26), ist(9, 15, day=26)))
    assert not plausible(day, ExchangeSession("NSE", ist(0, 0, day=26), ist(1, 0, day=27)))


def test_on_a_holiday_no_time_exit_fires_and_it_fires_at_the_next_open() -> None:
    risk = engine(known(26, {}))
    trade = make_trade(rules=TradeRules(square_off=time(15, 15)), entered_at=ist(16, 0))
    risk.add_trade(trade, ist(16, 0))  # after the 25th's close: due at 15:15 on the 26th
    assert not risk.on_clock(ist(15, 15, day=26)).exits  # the holiday: nothing fires
    assert not risk.on_clock(ist(9, 14, 59, day=27)).exits
    assert trade.deadline == ist(9, 15, day=27)
    decisions = risk.on_clock(ist(9, 15, day=27))
    assert [(d.trade_id, d.reason.value) for d in decisions.exits] == [("t1", "SQUARE_OFF")]


def test_a_max_holding_due_before_a_special_session_fires_at_its_start() -> None:
    risk = engine(known(26, {"NSE": [(ist(18, 0, day=26), ist(19, 15, day=26))]}))
    trade = make_trade(rules=TradeRules(max_holding_seconds=3600), entered_at=ist(15, 0))
    risk.add_trade(trade, ist(15, 0))
    assert not risk.on_clock(ist(16, 0)).exits
    assert not risk.on_clock(ist(9, 15, day=26)).exits  # a normal open, not this day's
    assert not risk.on_clock(ist(17, 59, 59, day=26)).exits
    decisions = risk.on_clock(ist(18, 0, day=26))
    assert [d.reason.value for d in decisions.exits] == ["MAX_HOLDING"]


def test_new_hours_re_time_a_deferred_exit() -> None:
    # deferred on the default calendar to Monday's 09:15; then OpenAlgo says Saturday has a
    # special session (the exchanges announced one): the exit fires in it, not on Monday
    risk = engine()
    trade = make_trade(rules=TradeRules(max_holding_seconds=60), entered_at=ist(15, 29, day=27))
    risk.add_trade(trade, ist(15, 29, day=27))
    assert not risk.on_clock(ist(15, 31, day=27)).exits
    assert trade.deadline == ist(9, 15, day=30)
    saturday = known(28, {"NSE": [(ist(11, 0, day=28), ist(12, 0, day=28))]})
    risk.set_calendar(saturday, ist(0, 0, day=28))
    assert trade.deadline == ist(11, 0, day=28)
    assert not risk.on_clock(ist(10, 59, day=28)).exits
    assert [d.reason.value for d in risk.on_clock(ist(11, 0, day=28)).exits] == ["MAX_HOLDING"]


def test_new_hours_that_open_now_fire_a_deferred_exit_at_once() -> None:
    risk = engine(known(26, {}))  # told the 26th is a holiday
    trade = make_trade(rules=TradeRules(max_holding_seconds=60), entered_at=ist(10, 0, day=26))
    risk.add_trade(trade, ist(10, 0, day=26))
    assert not risk.on_clock(ist(10, 2, day=26)).exits
    # corrected: the 26th is a normal day after all
    risk.set_calendar(MarketCalendar(), ist(10, 5, day=26))
    assert [d.reason.value for d in risk.on_clock(ist(10, 5, day=26)).exits] == ["MAX_HOLDING"]


def test_an_undeferred_time_exit_is_untouched_by_new_hours() -> None:
    risk = engine()
    trade = make_trade(rules=TradeRules(square_off=time(15, 15)), entered_at=ist(10, 0))
    risk.add_trade(trade, ist(10, 0))
    risk.set_calendar(known(25, {}), ist(11, 0))  # today turns out to be a holiday
    assert trade.deadline == ist(15, 15)  # checked when due, against the session then
    assert not risk.on_clock(ist(15, 15)).exits
    assert trade.deadline == ist(9, 15, day=26)


def _openalgo_regular_day(day: int, shift_h: float) -> list[ExchangeSession]:
    """A regular day as OpenAlgo reports it, from midnight on a server `shift_h` hours off."""
    midnight = ist_day_start(day) + int(shift_h * 3600) * S
    hours = {"NSE": (9.25, 15.5), "BSE": (9.25, 15.5), "NFO": (9.25, 15 + 2 / 3)}
    hours |= {"BFO": (9.25, 15 + 2 / 3), "NCO": (9.0, 23 + 55 / 60)}  # as OpenAlgo 2.0.2.1
    hours |= {"CDS": (9.0, 17.0), "BCD": (9.0, 17.0), "MCX": (9.0, 23 + 55 / 60)}
    return [
        ExchangeSession(e, midnight + int(a * 3600) * S, midnight + int(b * 3600) * S)
        for e, (a, b) in hours.items()
    ]


def test_a_server_clock_not_in_ist_is_recognised_and_nothing_else_is() -> None:
    day = day_number(date(2026, 11, 26))
    utc = _openalgo_regular_day(day, 5.5)
    assert clock_shift(day, utc) == int(5.5 * 3600) * S  # a UTC server
    # OpenAlgo also lists CRYPTO (its server's whole day): it does not hide the shift
    crypto = ExchangeSession("CRYPTO", utc[0].start - int(9.25 * 3600) * S, utc[0].start)
    assert clock_shift(day, [*utc, crypto]) == int(5.5 * 3600) * S
    assert clock_shift(day, _openalgo_regular_day(day, -4.5)) == int(-4.5 * 3600) * S
    assert clock_shift(day, _openalgo_regular_day(day, 0)) == 0  # an IST server
    assert clock_shift(day, _openalgo_regular_day(day, 0.25)) == 0  # hours moved a little
    assert clock_shift(day, []) == 0  # a holiday
    muhurat = [ExchangeSession("NSE", ist(18, 0, day=26), ist(19, 15, day=26))]
    muhurat += [ExchangeSession("BSE", ist(18, 0, day=26), ist(19, 15, day=26))]
    assert clock_shift(day, muhurat) == 0
    mcx_only = [ExchangeSession("MCX", ist(17, 0, day=26), ist(23, 55, day=26))]
    assert clock_shift(day, mcx_only) == 0
