"""app.replay.run_replay on hand-built inputs: timing of entries and time exits, unpriced
exits, open trades at the end, determinism and refused input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.app.replay import ReplayError, ReplayTrade, run_replay
from tradeguard.core.model import ExitReason, Instrument, Side, StrategyState, Tick
from tradeguard.core.rules import Level, LevelKind, TradeRules
from tradeguard.core.strategy import AmountKind, StrategyRiskConfig

S = 1_000_000_000
T0 = 1_740_973_500 * S  # 2025-03-03 09:15:00 IST
RS = 10_000


def spec(trade_id: str, symbol: str = "A", **changes: object) -> ReplayTrade:
    values: dict[str, object] = {
        "trade_id": trade_id,
        "strategy_id": "s",
        "instrument": Instrument(symbol, "NSE", Decimal("0.05")),
        "side": Side.LONG,
        "quantity": 10,
        "entry_price": 100 * RS,
        "rules": TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal(5))),
    }
    values.update(changes)
    return ReplayTrade(**values)  # type: ignore[arg-type]


def tick(seconds: int, price: int, symbol: str = "A") -> Tick:
    return Tick(symbol, "NSE", price * RS, T0 + seconds * S)


def test_max_holding_fires_at_its_deadline_at_the_last_price() -> None:
    rules = TradeRules(max_holding_seconds=60)
    report = run_replay(
        {"s": StrategyRiskConfig()},
        [spec("x", rules=rules, entered_at=T0 + 10 * S)],
        [tick(0, 100), tick(30, 103), tick(95, 90)],
    )
    (row,) = report.exits
    assert (row.reason, row.at, row.price, row.pnl) == (
        ExitReason.MAX_HOLDING,
        T0 + 70 * S,
        103 * RS,
        30 * RS,
    )


def test_stop_fires_on_the_tick_and_fills_at_the_tick_price() -> None:
    report = run_replay({"s": StrategyRiskConfig()}, [spec("x")], [tick(0, 99), tick(5, 94)])
    (row,) = report.exits
    assert (row.reason, row.trigger, row.price, row.pnl, row.at) == (
        ExitReason.STOP_LOSS,
        95 * RS,
        94 * RS,
        -60 * RS,
        T0 + 5 * S,
    )


def test_portfolio_exit_of_a_trade_whose_symbol_never_ticked_fills_at_entry() -> None:
    config = StrategyRiskConfig(
        enable_portfolio_sl=True,
        portfolio_sl_type=AmountKind.AMOUNT,
        portfolio_sl_value=Decimal(20),
    )
    trades = [spec("a", rules=TradeRules()), spec("b", symbol="B", rules=TradeRules())]
    report = run_replay({"s": config}, trades, [tick(0, 99), tick(1, 98)])
    rows = {row.trade_id: row for row in report.exits}
    assert rows["a"].pnl == -20 * RS
    assert rows["a"].priced
    assert rows["b"].pnl == 0
    assert not rows["b"].priced
    (summary,) = report.strategies
    assert summary.state is StrategyState.HALTED
    assert summary.realized == -20 * RS
    assert [c.state for c in report.strategy_changes] == [StrategyState.HALTED]


def test_trades_entered_after_the_data_stay_open() -> None:
    report = run_replay(
        {"s": StrategyRiskConfig()},
        [spec("late", entered_at=T0 + 3600 * S), spec("early")],
        [tick(0, 101)],
    )
    assert not report.exits
    rows = {row.trade_id: row for row in report.open_trades}
    assert rows["early"].unrealized == 10 * RS
    assert rows["early"].last_price == 101 * RS
    assert rows["late"].unrealized == 10 * RS  # priced at the last tick seen
    (summary,) = report.strategies
    assert summary.open_trades == 2
    assert summary.unrealized == 20 * RS


def test_same_input_same_report() -> None:
    ticks = [tick(i, 100 + (i * 7) % 11 - 5) for i in range(50)]
    trades = [
        spec(f"t{i}", rules=TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal(i + 1))))
        for i in range(6)
    ]
    first = run_replay({"s": StrategyRiskConfig()}, trades, ticks)
    assert first.exits
    assert run_replay({"s": StrategyRiskConfig()}, trades, iter(ticks)) == first


@pytest.mark.parametrize(
    ("trades", "ticks", "fragment"),
    [
        ([spec("x")], [], "no ticks"),
        ([spec("x", strategy_id="zz")], [tick(0, 100)], "unknown strategy"),
        ([spec("x")], [tick(5, 100), tick(4, 100)], "backwards"),
    ],
)
def test_refused_input(trades: list[ReplayTrade], ticks: list[Tick], fragment: str) -> None:
    with pytest.raises(ReplayError, match=fragment):
        run_replay({"s": StrategyRiskConfig()}, trades, ticks)
