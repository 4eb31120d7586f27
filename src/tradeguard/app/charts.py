"""App layer: the dashboard's chart history: one bounded price series per open trade and one
P&L series per strategy (app.series), kept in memory so a page reload redraws every chart.

`ChartBook.sample(now)` (called by the view publisher's loop, at most once per `every` seconds)
reads each open trade's last price and each strategy's day P&L from the engine and adds them
to their series; a trade's series starts with its entry (entered_at, entry price). Series of
trades that left the engine and of removed strategies are dropped at the next sample, so memory
follows the open trades: at most `trade_points` points each (1,000 trades x 240 points x 16
bytes = 3.8 MB). A restart starts the series afresh from each trade's entry.
"""

from __future__ import annotations

from typing import Any

from tradeguard.app.errors import NotFound
from tradeguard.app.series import NS_PER_SECOND, Series
from tradeguard.app.views import owner_of, strategy_key
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.money import fmt


def series_view(key: str, series: Series) -> dict[str, Any]:
    """`points`: [[epoch ns, decimal string], ...], oldest first; `step_ms`: the resolution."""
    return {
        "id": key,
        "step_ms": series.step // 1_000_000,
        "points": [[at, fmt(value)] for at, value in series],
    }


class ChartBook:
    def __init__(
        self,
        engine: RiskEngine,
        *,
        every: float = 1.0,
        trade_points: int = 240,
        strategy_points: int = 720,
    ) -> None:
        self.engine = engine
        self.every = int(every * NS_PER_SECOND)
        self.trade_points = trade_points
        self.strategy_points = strategy_points
        self.trades: dict[str, Series] = {}
        self.strategies: dict[str, Series] = {}
        self._sampled_at: int | None = None

    def sample(self, now: int) -> bool:
        """Add every open trade's last price and every strategy's P&L at `now`; False (and
        nothing done) when the last sample is less than `every` old."""
        if self._sampled_at is not None and now - self._sampled_at < self.every:
            return False
        self._sampled_at = now
        engine = self.engine
        seen: set[str] = set()
        for trade in engine.trades():
            seen.add(trade.trade_id)
            series = self.trades.get(trade.trade_id)
            if series is None:
                series = self.trades[trade.trade_id] = Series(self.trade_points)
                series.add(min(trade.entered_at, now), trade.entry_price)
            last = engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
            if last is not None:
                series.add(now, last)
        for gone in [t for t in self.trades if t not in seen]:
            del self.trades[gone]
        books: set[str] = set()
        for book in engine.strategies():
            books.add(book.strategy_id)
            pnl = self.strategies.get(book.strategy_id)
            if pnl is None:
                pnl = self.strategies[book.strategy_id] = Series(self.strategy_points)
            pnl.add(now, book.pnl)
        for gone in [s for s in self.strategies if s not in books]:
            del self.strategies[gone]
        return True

    def trade_series(self, account: str, trade_id: str) -> dict[str, Any]:
        """An open trade's price series (entry first); NotFound for a trade that is not open
        or not the account's."""
        try:
            trade = self.engine.trade(trade_id)
        except EngineError:
            raise NotFound(f"trade {trade_id!r} not found") from None
        if trade.account != account:
            raise NotFound(f"trade {trade_id!r} not found")
        series = self.trades.get(trade_id)
        if series is None:  # opened since the last sample: its entry is all there is
            series = Series(self.trade_points)
            series.add(trade.entered_at, trade.entry_price)
        return series_view(trade_id, series)

    def strategy_series(self, account: str, name: str) -> dict[str, Any]:
        """A strategy's day P&L series; NotFound for a strategy the account does not have."""
        key = strategy_key(account, name)
        try:
            book = self.engine.strategy(key)
        except EngineError:
            raise NotFound(f"strategy {name!r} not found") from None
        if owner_of(book.strategy_id) != account:
            raise NotFound(f"strategy {name!r} not found")
        series = self.strategies.get(key)
        if series is None:
            series = Series(self.strategy_points)
        return series_view(key, series)
