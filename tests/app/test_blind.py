"""The stale-feed policy (app.blind) on a real engine and calendar with a manual clock: a
symbol with no price for longer than `after_s` of its exchange's session is exited (policy
exit, the default) or alerted once per blind spell (policy alert); nothing is blind while the
exchange is closed, and the night's silence never counts."""

from __future__ import annotations

from decimal import Decimal

from tests.app.clock import ManualClock
from tests.app.fakes import Alerts
from tradeguard.app.blind import BlindGuard
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Instrument, Side
from tradeguard.core.money import to_units
from tradeguard.core.sessions import MarketCalendar
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

S = 1_000_000_000
MONDAY_10 = 1_772_425_800 * S  # 2026-03-02 10:00:00 IST, a Monday


class PricedFeed:
    """The one feed query the guard makes: when the last price (streamed or polled) came."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], int] = {}

    def last_tick_at(self, symbol: str, exchange: str) -> int | None:
        return self.seen.get((symbol, exchange))


def setup(
    policy: str, start: int = MONDAY_10
) -> tuple[BlindGuard, ManualClock, PricedFeed, Alerts, list[Decisions]]:
    clock = ManualClock(start)
    engine = RiskEngine(MarketCalendar())
    engine.add_strategy("alice/s", StrategyRiskConfig())
    trade = Trade(
        trade_id="t1",
        strategy_id="alice/s",
        instrument=Instrument("SBIN", "NSE", Decimal("0.05")),
        side=Side.LONG,
        quantity=1,
        entry_price=to_units("800"),
        entered_at=start,
        account="alice",
    )
    engine.add_trade(trade, start)
    feed, alerts, sent = PricedFeed(), Alerts(), []
    guard = BlindGuard(engine, feed, clock, alerts, sent.append, policy=policy, after_s=30)  # type: ignore[arg-type]
    return guard, clock, feed, alerts, sent


def test_a_blind_symbol_is_exited_in_market_hours_by_default() -> None:
    guard, clock, feed, alerts, sent = setup("exit")
    feed.seen[("SBIN", "NSE")] = clock.now()
    clock.advance(30)
    guard.check()
    assert sent == []  # exactly 30 s: not yet
    clock.advance(1)
    guard.check()
    [decisions] = sent
    assert [(d.trade_id, d.reason.value) for d in decisions.exits] == [("t1", "STALE_FEED")]
    [(level, message, detail)] = alerts.items
    assert level == "critical"
    assert "NSE:SBIN" in message
    assert "exiting" in message
    assert detail == {"trade_id": "t1"}  # the alert reaches the trade's own account
    guard.check()
    assert len(sent) == 1  # EXITING: not exited twice


def test_a_fresh_price_keeps_the_trade() -> None:
    guard, clock, feed, _, sent = setup("exit")
    for _ in range(5):
        clock.advance(20)
        feed.seen[("SBIN", "NSE")] = clock.now()  # streamed or polled
        guard.check()
    assert sent == []


def test_nothing_is_blind_outside_the_session_and_the_night_does_not_count() -> None:
    evening = MONDAY_10 + 6 * 3600 * S  # 16:00 IST: NSE closed
    guard, clock, feed, alerts, sent = setup("exit", evening)
    feed.seen[("SBIN", "NSE")] = evening
    clock.advance(3600)
    guard.check()
    tomorrow_open = MONDAY_10 + (24 * 3600 - 45 * 60) * S  # Tuesday 09:15 IST
    clock.advance((tomorrow_open - clock.now()) / S + 20)
    guard.check()
    assert sent == []
    assert alerts.items == []
    clock.advance(11)
    guard.check()
    assert len(sent) == 1


def test_policy_alert_alerts_once_per_blind_spell_and_exits_nothing() -> None:
    guard, clock, feed, alerts, sent = setup("alert")
    clock.advance(31)
    guard.check()
    guard.check()
    assert sent == []
    [(_, message, _)] = alerts.items
    assert "NOT guarded" in message
    feed.seen[("SBIN", "NSE")] = clock.now()
    guard.check()
    clock.advance(31)
    guard.check()
    assert len(alerts.items) == 2  # a new spell, a new alert
