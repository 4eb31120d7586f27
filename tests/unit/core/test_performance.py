"""Tests (core.performance): the Performance view's figures against numbers worked out by hand
for six fixed trades, and properties that hold for any set of closed trades."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from tradeguard.core.performance import ClosedTrade, ist_date, performance
from tradeguard.core.timeutil import ist_day_start

R = 10_000  # units per rupee
DAY1 = ist_day_start((date(2025, 12, 9) - date(1970, 1, 1)).days)  # 00:00 IST, 9 Dec 2025
DAY2 = ist_day_start((date(2025, 12, 10) - date(1970, 1, 1)).days)  # 00:00 IST, 10 Dec
HOUR = 3_600 * 1_000_000_000

# Six trades over two IST days (listed out of close order on purpose):
#   id  strategy  reason         P&L      closes
#   a   alpha     TARGET        +500.00   day 1 10:00
#   b   alpha     STOP_LOSS     -200.00   day 1 11:00
#   c   beta      TRAILING_STOP +150.00   day 1 23:00 IST (17:30 UTC: still day 1 in IST)
#   d   beta      STOP_LOSS     -300.00   day 2 09:30
#   e   alpha     MANUAL           0.00   day 2 10:00
#   f   beta      TARGET        +250.50   day 2 14:00
TRADES = [
    ClosedTrade("f", "beta", "TARGET", 250_5000, DAY2 + 14 * HOUR),
    ClosedTrade("a", "alpha", "TARGET", 500 * R, DAY1 + 10 * HOUR),
    ClosedTrade("d", "beta", "STOP_LOSS", -300 * R, DAY2 + 9 * HOUR + HOUR // 2),
    ClosedTrade("b", "alpha", "STOP_LOSS", -200 * R, DAY1 + 11 * HOUR),
    ClosedTrade("e", "alpha", "MANUAL", 0, DAY2 + 10 * HOUR),
    ClosedTrade("c", "beta", "TRAILING_STOP", 150 * R, DAY1 + 23 * HOUR),
]


def test_counts_rates_and_averages_match_the_hand_computation() -> None:
    figures = performance(TRADES)
    assert (figures.trades, figures.wins, figures.losses, figures.flat) == (6, 3, 2, 1)
    assert figures.win_rate == Fraction(1, 2)  # 3 wins of 6 trades
    # total: 500 - 200 + 150 - 300 + 0 + 250.50 = 400.50
    assert figures.total_pnl == 400_5000
    assert figures.gross_profit == 900_5000  # 500 + 150 + 250.50
    assert figures.gross_loss == -500 * R  # -200 - 300
    assert figures.average_win == Fraction(900_5000, 3)  # 300.1666... rupees
    assert figures.average_loss == -250 * R  # (-200 - 300) / 2
    assert figures.profit_factor == Fraction(9005, 5000)  # 900.50 / 500 = 1.801
    assert (figures.best, figures.worst) == (500 * R, -300 * R)


def test_pnl_by_reason_and_by_strategy_match_the_hand_computation() -> None:
    figures = performance(TRADES)
    by_reason = {g.key: (g.trades, g.wins, g.losses, g.pnl) for g in figures.by_reason}
    assert by_reason == {
        "TARGET": (2, 2, 0, 750_5000),  # 500 + 250.50
        "STOP_LOSS": (2, 0, 2, -500 * R),  # -200 - 300
        "TRAILING_STOP": (1, 1, 0, 150 * R),
        "MANUAL": (1, 0, 0, 0),
    }
    assert [g.key for g in figures.by_reason] == ["STOP_LOSS", "MANUAL", "TRAILING_STOP", "TARGET"]
    by_strategy = {g.key: (g.trades, g.wins, g.losses, g.pnl) for g in figures.by_strategy}
    assert by_strategy == {
        "alpha": (3, 1, 1, 300 * R),  # 500 - 200 + 0
        "beta": (3, 2, 1, 100_5000),  # 150 - 300 + 250.50
    }


def test_daily_pnl_uses_ist_days_and_the_equity_curve_runs_in_close_order() -> None:
    figures = performance(TRADES)
    assert [(d.day, d.trades, d.pnl) for d in figures.daily] == [
        (date(2025, 12, 9), 3, 450 * R),  # 500 - 200 + 150
        (date(2025, 12, 10), 3, -49_5000),  # -300 + 0 + 250.50
    ]
    # a, b, c, d, e, f: 500, 300, 450, 150, 150, 400.50
    assert [(p.trade_id, p.equity) for p in figures.equity] == [
        ("a", 500 * R),
        ("b", 300 * R),
        ("c", 450 * R),
        ("d", 150 * R),
        ("e", 150 * R),
        ("f", 400_5000),
    ]
    assert figures.max_drawdown == 350 * R  # peak 500 (after a) down to 150 (after d)


def test_no_trades_has_no_rates() -> None:
    figures = performance([])
    assert (figures.trades, figures.total_pnl, figures.max_drawdown) == (0, 0, 0)
    assert figures.win_rate is None
    assert figures.average_win is None
    assert figures.average_loss is None
    assert figures.profit_factor is None
    assert figures.best is None
    assert figures.equity == ()
    assert figures.daily == ()


def test_ist_date_turns_at_ist_midnight() -> None:
    assert ist_date(DAY2 - 1) == date(2025, 12, 9)
    assert ist_date(DAY2) == date(2025, 12, 10)


closed_trades = st.lists(
    st.builds(
        ClosedTrade,
        trade_id=st.text("abcdef0123", min_size=1, max_size=6),
        strategy=st.sampled_from(["alpha", "beta", "gamma"]),
        reason=st.sampled_from(["TARGET", "STOP_LOSS", "MANUAL", "CLOSED_EXTERNALLY"]),
        pnl=st.integers(-(10**10), 10**10),
        closed_at=st.integers(DAY1, DAY1 + 40 * 24 * HOUR),
    ),
    max_size=40,
    unique_by=lambda t: t.trade_id,
)


@given(closed_trades)
def test_every_breakdown_adds_up_to_the_total(trades: list[ClosedTrade]) -> None:
    figures = performance(trades)
    assert figures.wins + figures.losses + figures.flat == figures.trades == len(trades)
    assert sum(g.pnl for g in figures.by_reason) == figures.total_pnl
    assert sum(g.pnl for g in figures.by_strategy) == figures.total_pnl
    assert sum(d.pnl for d in figures.daily) == figures.total_pnl
    assert sum(g.trades for g in figures.by_reason) == figures.trades
    assert sum(d.trades for d in figures.daily) == figures.trades
    assert figures.gross_profit + figures.gross_loss == figures.total_pnl
    assert (figures.equity[-1].equity if figures.equity else 0) == figures.total_pnl


@given(closed_trades, st.randoms(use_true_random=False))
def test_figures_do_not_depend_on_the_input_order(trades: list[ClosedTrade], rnd: object) -> None:
    shuffled = list(trades)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert performance(shuffled) == performance(trades)


@given(closed_trades)
def test_drawdown_is_the_deepest_fall_from_a_running_peak(trades: list[ClosedTrade]) -> None:
    figures = performance(trades)
    curve = [0, *(p.equity for p in figures.equity)]
    deepest = max(
        (curve[i] - curve[j] for i in range(len(curve)) for j in range(i, len(curve))), default=0
    )
    assert figures.max_drawdown == deepest
    if figures.wins:
        assert figures.average_win is not None
        assert figures.average_win > 0
    if figures.losses:
        assert figures.average_loss is not None
        assert figures.average_loss < 0
