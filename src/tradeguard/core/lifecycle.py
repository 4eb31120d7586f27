"""Core layer: the engine's commands from outside the tick path: manual exits, exit outcomes
(failed, abandoned, filled, partly gone). A mixin of RiskEngine (core.engine), kept apart so
each file stays readable; it uses the engine's books through the attributes declared below.
"""

from __future__ import annotations

from tradeguard.core.decisions import Decisions, ExitDecision
from tradeguard.core.model import ExitReason, TradeState
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.symbols import Bucket, SymbolBook
from tradeguard.core.trade import Trade


class EngineError(ValueError):
    """A request the engine cannot honour (unknown trade or strategy, wrong state)."""


class LifecycleCommands:
    """Exits requested by people and the outcomes of exit orders (see RiskEngine)."""

    _books: dict[str, dict[str, SymbolBook]]
    _trades: dict[str, Trade]
    _strategies: dict[str, StrategyBook]
    _dirty_trades: set[str]
    dirty_strategies: set[str]

    def trade(self, trade_id: str) -> Trade:
        raise NotImplementedError

    def strategy(self, strategy_id: str) -> StrategyBook:
        raise NotImplementedError

    def _begin_exit(
        self, trade: Trade, reason: ExitReason, trigger: int | None, price: int | None, now: int
    ) -> ExitDecision:
        raise NotImplementedError

    def _exit_strategy(
        self,
        strategy: StrategyBook,
        reason: ExitReason,
        trigger: int | None,
        now: int,
        *,
        halt: bool,
    ) -> Decisions:
        raise NotImplementedError

    def _watch(self, trade: Trade) -> None:
        raise NotImplementedError

    def _unwatch(self, trade: Trade) -> None:
        raise NotImplementedError

    def _evaluate_trade(self, trade: Trade, ltp: int, now: int, decisions: Decisions) -> bool:
        raise NotImplementedError

    def _evaluate_strategy(self, strategy: StrategyBook, now: int) -> Decisions:
        raise NotImplementedError

    def _add_to_bucket(self, book: SymbolBook, bucket: Bucket, trade: Trade, sign: int) -> None:
        raise NotImplementedError

    # -- commands from outside ------------------------------------------------------------

    def request_exit(
        self, trade_id: str, now: int, reason: ExitReason = ExitReason.MANUAL
    ) -> ExitDecision:
        """A manual exit of one trade (same path as automatic exits)."""
        trade = self.trade(trade_id)
        if trade.state is not TradeState.ACTIVE and trade.state is not TradeState.EXIT_FAILED:
            raise EngineError(f"trade {trade_id} is {trade.state}; it cannot be exited now")
        book = self._books[trade.instrument.exchange][trade.instrument.symbol]
        return self._begin_exit(trade, reason, None, book.last, now)

    def exit_all(self, strategy_id: str, now: int, *, halt: bool = False) -> Decisions:
        """Exit every ACTIVE trade of a strategy (the dashboard's exit-all)."""
        return self._exit_strategy(
            self.strategy(strategy_id), ExitReason.MANUAL_ALL, None, now, halt=halt
        )

    def exit_failed(self, trade_id: str) -> None:
        """The broker rejected the exit: the trade needs attention and fires nothing more."""
        self.trade(trade_id).transition(TradeState.EXIT_FAILED)
        self._dirty_trades.add(trade_id)

    def exit_abandoned(self, trade_id: str, now: int) -> Decisions:
        """The exit was rejected/cancelled and nothing filled: back to ACTIVE, evaluate again."""
        trade = self.trade(trade_id)
        trade.transition(TradeState.ACTIVE)
        trade.exit_reason = None
        trade.exit_trigger = None
        self._watch(trade)
        self._dirty_trades.add(trade_id)
        decisions = Decisions()
        book = self._books[trade.instrument.exchange][trade.instrument.symbol]
        if book.last is not None and book.last_at >= trade.entered_at:
            self._evaluate_trade(trade, book.last, now, decisions)
        return decisions

    def close_trade(
        self, trade_id: str, fill_price: int, now: int, *, external: bool = False
    ) -> Decisions:
        """The exit filled at `fill_price` (or the position vanished: `external`)."""
        trade = self.trade(trade_id)
        trade.transition(TradeState.CLOSED_EXTERNALLY if external else TradeState.CLOSED)
        strategy = self._strategies[trade.strategy_id]
        book = self._books[trade.instrument.exchange][trade.instrument.symbol]
        self._unwatch(trade)
        bucket = book.buckets[trade.strategy_id]
        self._add_to_bucket(book, bucket, trade, -1)
        bucket.count -= 1
        if not bucket.count:
            del book.buckets[trade.strategy_id]
        if not book.buckets:
            # Nobody holds the symbol: the feed drops it, so its last price goes stale. A new
            # trade on it must wait for a fresh tick, never be judged on this old price.
            book.last = None
        realized = trade.pnl_at(fill_price)
        trade.exit_price = fill_price
        trade.realized_pnl = realized
        trade.closed_at = now
        strategy.realized += realized
        strategy.pnl += realized
        strategy.exposure -= trade.entry_price * trade.quantity
        del strategy.trades[trade_id]
        del self._trades[trade_id]
        self._dirty_trades.add(trade_id)
        self.dirty_strategies.add(strategy.strategy_id)
        return self._evaluate_strategy(strategy, now)

    def reduce_quantity(
        self, trade_id: str, quantity: int, fill_price: int | None, now: int
    ) -> Decisions:
        """Part of the trade is gone (partial exit fill, or a smaller broker position):
        keep `quantity` open; the difference is realized at `fill_price` (or the entry price
        when unknown, i.e. no P&L is invented)."""
        trade = self.trade(trade_id)
        if not 0 < quantity < trade.quantity:
            raise EngineError(
                f"trade {trade_id}: new quantity {quantity} must be in 1..{trade.quantity - 1}"
            )
        strategy = self._strategies[trade.strategy_id]
        book = self._books[trade.instrument.exchange][trade.instrument.symbol]
        bucket = book.buckets[trade.strategy_id]
        self._add_to_bucket(book, bucket, trade, -1)
        gone = trade.quantity - quantity
        price = fill_price if fill_price is not None else trade.entry_price
        realized = trade.sign * (price - trade.entry_price) * gone
        strategy.exposure -= trade.entry_price * gone
        trade.quantity = quantity
        self._add_to_bucket(book, bucket, trade, +1)
        strategy.realized += realized
        strategy.pnl += realized
        self._dirty_trades.add(trade_id)
        self.dirty_strategies.add(strategy.strategy_id)
        return self._evaluate_strategy(strategy, now)
