"""The dashboard's chart history (app.series.Series, app.charts.ChartBook): bounded whatever
the run's length, one point per bucket (the newest wins), the first point (the entry) kept,
the step doubling as it fills, and per-trade series following the open trades."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.app.charts import ChartBook
from tradeguard.app.series import NS_PER_SECOND, Series
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Instrument, Side, Tick
from tradeguard.core.money import to_units
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

S = NS_PER_SECOND


def test_one_point_per_bucket_the_newest_winning() -> None:
    series = Series(capacity=10)
    assert series.add(0, 100)
    assert series.add(S, 101)
    assert series.add(S + S // 2, 102)  # same 1 s bucket: replaces
    assert series.add(2 * S, 103)
    assert list(series) == [(0, 100), (S + S // 2, 102), (2 * S, 103)]


def test_an_unchanged_value_or_an_older_time_adds_nothing() -> None:
    series = Series(capacity=10)
    series.add(5 * S, 100)
    assert not series.add(6 * S, 100)
    assert not series.add(4 * S, 99)
    assert list(series) == [(5 * S, 100)]


def test_the_first_point_is_never_replaced() -> None:
    series = Series(capacity=10)
    series.add(0, 100)  # the entry
    series.add(S // 4, 101)
    series.add(S // 2, 102)
    assert list(series) == [(0, 100), (S // 2, 102)]


def test_a_full_series_doubles_its_step_and_keeps_the_newest_of_each_bucket() -> None:
    series = Series(capacity=5)
    for i in range(5):
        series.add(i * S, 100 + i)
    assert series.step == S
    series.add(5 * S, 105)
    assert series.step == 2 * S
    # buckets of 2 s from t=0: the entry, then the newest of {1}, {2,3}, {4}, then t=5 joins {4,5}
    assert list(series) == [(0, 100), (S, 101), (3 * S, 103), (5 * S, 105)]
    assert len(series) <= 5


@settings(max_examples=300, deadline=None)
@given(
    st.integers(3, 50),
    st.lists(st.tuples(st.integers(0, 20 * S), st.integers(-1000, 1000)), max_size=400),
)
def test_bounded_ordered_and_ending_at_the_newest_value(
    capacity: int, steps: list[tuple[int, int]]
) -> None:
    series = Series(capacity=capacity)
    at = 0
    newest: tuple[int, int] | None = None
    first: tuple[int, int] | None = None
    for gap, value in steps:
        at += gap
        if series.add(at, value):
            newest = (at, value)
            first = first or (at, value)
        assert len(series) <= capacity
    points = list(series)
    assert [t for t, _ in points] == sorted({t for t, _ in points})  # strictly increasing
    if newest is not None:
        assert points[-1] == newest
        assert points[0][0] == first[0]  # the first point's time is kept


def _engine_with(n: int) -> RiskEngine:
    engine = RiskEngine()
    engine.add_strategy("acct:s1", StrategyRiskConfig())
    for i in range(n):
        trade = Trade(
            trade_id=f"t{i}",
            strategy_id="acct:s1",
            instrument=Instrument(f"SYM{i % 50}", "NSE"),
            side=Side.LONG,
            quantity=1,
            entry_price=to_units("800"),
            entered_at=0,
            account="acct",
        )
        engine.add_trade(trade, 0)
    return engine


def test_the_chart_book_stays_bounded_with_a_thousand_open_trades() -> None:
    engine = _engine_with(1000)
    book = ChartBook(engine, trade_points=60)
    for second in range(1, 400):
        for s in range(50):
            price = to_units("800") + (second % 7) * 500
            engine.on_tick(Tick(f"SYM{s}", "NSE", price, second * S), second * S)
        assert book.sample(second * S)
        assert not book.sample(second * S + S // 2)  # at most once per second
    assert len(book.trades) == 1000
    assert max(len(series) for series in book.trades.values()) <= 60
    view = book.trade_series("acct", "t0")
    assert view["points"][0] == [0, "800.00"]  # the entry is kept
    assert len(book.strategy_series("acct", "s1")["points"]) > 1
