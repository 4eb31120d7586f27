"""Core layer: the engine's per-symbol state: last price, watched trades and their combined
quiet band, one P&L bucket per strategy, and the symbol's price run (for lazy best prices).

A symbol book *is* the `PriceRun` its watched trades are attached to: the tick path only moves
`run_hi`/`run_lo`, and a trade folds the run into its best price when it is read or evaluated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeguard.core.trade import NEG, POS, PriceRun

if TYPE_CHECKING:
    from tradeguard.core.portfolio import StrategyBook
    from tradeguard.core.trade import Trade


class Bucket:
    """One strategy's open quantity on one symbol: signed net quantity and signed cost."""

    __slots__ = ("book", "cost", "count", "net", "value")

    def __init__(self, book: StrategyBook) -> None:
        self.book = book
        self.count = 0
        self.net = 0
        self.cost = 0
        self.value = 0


class SymbolBook(PriceRun):
    """One symbol: last price, watched trades, quiet band, per-strategy P&L buckets, and (as a
    PriceRun) the running high/low its watched trades fold into their best prices."""

    __slots__ = (
        "buckets",
        "exchange",
        "hi",
        "last",
        "last_at",
        "lo",
        "pending",
        "symbol",
        "watch",
    )

    def __init__(self, symbol: str, exchange: str) -> None:
        super().__init__()
        self.symbol = symbol
        self.exchange = exchange
        self.last: int | None = None
        self.last_at = 0  # engine time of the tick that set `last`
        self.pending = False  # a trade joined after `last`: evaluate the next tick regardless
        self.watch: list[Trade] = []
        self.buckets: dict[str, Bucket] = {}
        self.lo = NEG
        self.hi = POS

    def refresh_band(self) -> None:
        lo, hi = NEG, POS
        for trade in self.watch:
            if trade.lo > lo:
                lo = trade.lo
            if trade.hi < hi:
                hi = trade.hi
        self.lo, self.hi = lo, hi

    def sync(self, dirty: set[str]) -> None:
        """Fold the run into every watched trade (marking moved ones dirty), then reset it."""
        if self.run_hi == NEG and self.run_lo == POS:
            return
        for trade in self.watch:
            trade.fold()
            if trade.best_moved:
                trade.best_moved = False
                dirty.add(trade.trade_id)
        self.reset()
