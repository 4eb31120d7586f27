"""Core layer: the risk engine. Synchronous, single-threaded, deterministic.

`on_tick(tick, now)` costs the trades on the tick's symbol plus O(1) per strategy holding that
symbol: each symbol keeps a quiet band (no trade on it can change inside it) and one P&L bucket
per strategy, so nothing rescans all trades or recomputes a strategy's P&L. Time exits sit in a
heap (core.time_exits, with the market hours they obey); the day rolls over at IST midnight.
The engine never reads a clock: `now` is an argument.

Best prices are kept lazily: each symbol book is also the `PriceRun` its watched trades are
attached to, and a trade folds the run into its best price when read or evaluated. The run is
reset (after folding) only when a trade joins the symbol, so a newcomer never inherits prices
from before its entry. `sync_best()` folds every run and marks the trades whose best moved as
dirty; reading `dirty_trades` does it first, so a flush persists exact best prices.
"""

from __future__ import annotations

from collections.abc import Iterable

from tradeguard.core.decisions import Decisions, ExitDecision, StrategyChange
from tradeguard.core.lifecycle import EngineError, LifecycleCommands
from tradeguard.core.model import ExitReason, StrategyState, Tick, TradeState
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.rules import TradeRules
from tradeguard.core.sessions import ALWAYS_OPEN, MarketCalendar
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.symbols import Bucket, SymbolBook
from tradeguard.core.time_exits import TimeExits
from tradeguard.core.timeutil import DAY_NS, ist_day, ist_day_start
from tradeguard.core.trade import NEG, POS, Trade

__all__ = ["EngineError", "RiskEngine"]


def _merge(decisions: Decisions | None, more: Decisions | None) -> Decisions | None:
    """Combine two optional results of one engine call (None stays None when both are)."""
    if not more:
        return decisions
    if decisions is None:
        return more
    decisions.extend(more)
    return decisions


class RiskEngine(LifecycleCommands):
    """Holds every open trade and strategy book; turns ticks and events into decisions."""

    def __init__(self, calendar: MarketCalendar = ALWAYS_OPEN) -> None:
        self._times = TimeExits(calendar)  # time exits fire only while the exchange is open
        self._books: dict[str, dict[str, SymbolBook]] = {}
        self._trades: dict[str, Trade] = {}
        self._strategies: dict[str, StrategyBook] = {}
        self._day: int | None = None
        self._day_end = POS
        self._dirty_trades: set[str] = set()
        self.dirty_strategies: set[str] = set()

    @property
    def dirty_trades(self) -> set[str]:
        """Trades changed since the last flush. Folds pending best prices first (sync_best)."""
        self.sync_best()
        return self._dirty_trades

    @dirty_trades.setter
    def dirty_trades(self, value: set[str]) -> None:
        self._dirty_trades = value

    def sync_best(self) -> None:
        """Fold every symbol's price run into its watched trades' best prices (marking those
        whose best moved dirty). Reading `Trade.best` is exact anyway; this is for persistence."""
        dirty = self._dirty_trades
        for by_symbol in self._books.values():
            for book in by_symbol.values():
                book.sync(dirty)

    # -- queries --------------------------------------------------------------------------

    def trade(self, trade_id: str) -> Trade:
        try:
            return self._trades[trade_id]
        except KeyError:
            raise EngineError(f"unknown trade {trade_id}") from None

    def strategy(self, strategy_id: str) -> StrategyBook:
        try:
            return self._strategies[strategy_id]
        except KeyError:
            raise EngineError(f"unknown strategy {strategy_id}") from None

    def trades(self) -> Iterable[Trade]:
        return self._trades.values()

    def strategies(self) -> Iterable[StrategyBook]:
        return self._strategies.values()

    def last_price(self, symbol: str, exchange: str) -> int | None:
        book = self._books.get(exchange, {}).get(symbol)
        return book.last if book is not None else None

    def symbols(self) -> list[tuple[str, str]]:
        """(symbol, exchange) of every symbol with an open trade: what the feed must carry."""
        return [
            (book.symbol, book.exchange)
            for by_symbol in self._books.values()
            for book in by_symbol.values()
            if book.buckets
        ]

    # -- strategies -----------------------------------------------------------------------

    def add_strategy(
        self,
        strategy_id: str,
        config: StrategyRiskConfig,
        *,
        state: StrategyState = StrategyState.ACTIVE,
        realized: int = 0,
        baseline: int = 0,
        peak: int | None = None,
        halt_reason: str | None = None,
    ) -> StrategyBook:
        """Add a strategy (new, or restored with today's realized P&L, baseline and peak)."""
        if strategy_id in self._strategies:
            raise EngineError(f"strategy {strategy_id} already exists")
        book = StrategyBook(
            strategy_id,
            config,
            state=state,
            realized=realized,
            baseline=baseline,
            peak=peak,
            halt_reason=halt_reason,
        )
        self._strategies[strategy_id] = book
        return book

    def configure_strategy(self, strategy_id: str, config: StrategyRiskConfig) -> None:
        book = self.strategy(strategy_id)
        book.configure(config)
        self.dirty_strategies.add(strategy_id)

    def reevaluate_strategy(self, strategy_id: str, now: int) -> Decisions:
        """Check a strategy's portfolio rules now (after its configuration changed)."""
        return self._evaluate_strategy(self.strategy(strategy_id), now)

    def pause(self, strategy_id: str, now: int) -> Decisions:
        """Pause a strategy: it takes no new trades (core.sizing refuses them). Its open trades
        stay guarded by every rule, and its portfolio rules keep running."""
        book = self.strategy(strategy_id)
        if book.state is not StrategyState.ACTIVE:
            raise EngineError(f"strategy {strategy_id} is {book.state}, not ACTIVE")
        book.state = StrategyState.PAUSED
        book.refresh_band()
        return self._strategy_changed(book, "paused by user", now)

    def resume(self, strategy_id: str, now: int) -> Decisions:
        """Resume a PAUSED or HALTED strategy. A HALTED one restarts its portfolio rules from the
        current P&L; the daily loss limit still counts the whole day."""
        book = self.strategy(strategy_id)
        if book.state is StrategyState.ACTIVE:
            raise EngineError(f"strategy {strategy_id} is already ACTIVE")
        if book.daily_limit is not None and book.pnl <= -book.daily_limit:
            raise EngineError(
                f"strategy {strategy_id} is beyond its daily loss limit; raise the limit or "
                "wait for the next trading day"
            )
        was_halted = book.state is StrategyState.HALTED
        book.state = StrategyState.ACTIVE
        book.halt_reason = None
        if was_halted:
            book.rebase()
        book.refresh_band()
        decisions = self._strategy_changed(book, "resumed by user", now)
        decisions.extend(self._evaluate_strategy(book, now))
        return decisions

    def _strategy_changed(self, book: StrategyBook, reason: str, now: int) -> Decisions:
        self.dirty_strategies.add(book.strategy_id)
        return Decisions(strategies=[StrategyChange(book.strategy_id, book.state, reason, now)])

    # -- trades ---------------------------------------------------------------------------

    def add_trade(self, trade: Trade, now: int, *, evaluate_strategy: bool = True) -> Decisions:
        """Start monitoring a trade (new, or restored from storage in any open state).

        `evaluate_strategy=False` (a restart adding every trade at once) leaves the strategy's
        portfolio rules to one `reevaluate_strategy` call after the last trade is in."""
        if trade.trade_id in self._trades:
            raise EngineError(f"trade {trade.trade_id} is already monitored")
        if not trade.state.is_open:
            raise EngineError(f"trade {trade.trade_id} is {trade.state}; nothing to monitor")
        strategy = self.strategy(trade.strategy_id)
        self._roll_day(now)
        self._trades[trade.trade_id] = trade
        strategy.trades[trade.trade_id] = trade
        strategy.exposure += trade.entry_price * trade.quantity
        book = self._symbol_book(trade.instrument.symbol, trade.instrument.exchange)
        bucket = book.buckets.get(trade.strategy_id)
        if bucket is None:
            bucket = book.buckets[trade.strategy_id] = Bucket(strategy)
        bucket.count += 1
        self._add_to_bucket(book, bucket, trade, +1)
        if trade.state is TradeState.ACTIVE:
            self._watch(trade)
        self._times.schedule(trade)
        self._dirty_trades.add(trade.trade_id)
        decisions = Decisions()
        if trade.state is TradeState.ACTIVE:
            if self._seen_since_entry(book, trade):
                assert book.last is not None
                self._evaluate_trade(trade, book.last, now, decisions)
            elif book.last is not None:
                book.pending = True  # the next tick is evaluated even at an unchanged price
        if evaluate_strategy:
            decisions.extend(self._evaluate_strategy(strategy, now))
        return decisions

    def _symbol_book(self, symbol: str, exchange: str) -> SymbolBook:
        by_symbol = self._books.setdefault(exchange, {})
        book = by_symbol.get(symbol)
        if book is None:
            book = by_symbol[symbol] = SymbolBook(symbol, exchange)
        return book

    def _add_to_bucket(self, book: SymbolBook, bucket: Bucket, trade: Trade, sign: int) -> None:
        signed_qty = sign * trade.sign * trade.quantity
        bucket.net += signed_qty
        bucket.cost += signed_qty * trade.entry_price
        value = bucket.net * book.last - bucket.cost if book.last is not None else 0
        bucket.book.pnl += value - bucket.value
        bucket.value = value

    @staticmethod
    def _seen_since_entry(book: SymbolBook, trade: Trade) -> bool:
        """True if the symbol's last price came at or after the trade's entry: a trade is
        never evaluated at a price from before it existed."""
        return book.last is not None and book.last_at >= trade.entered_at

    def _watch(self, trade: Trade) -> None:
        """Attach an ACTIVE trade to its symbol: every ACTIVE trade is watched, whatever its
        strategy's state (a paused or halted strategy never leaves a trade unguarded)."""
        book = self._books[trade.instrument.exchange][trade.instrument.symbol]
        book.sync(self._dirty_trades)  # the newcomer must not inherit earlier prices
        book.watch.append(trade)
        trade.run = book
        book.refresh_band()

    def _unwatch(self, trade: Trade) -> None:
        book = self._books[trade.instrument.exchange][trade.instrument.symbol]
        if trade in book.watch:
            trade.fold()
            if trade.best_moved:
                trade.best_moved = False
                self._dirty_trades.add(trade.trade_id)
            trade.run = None
            book.watch.remove(trade)
            book.refresh_band()

    def update_rules(self, trade_id: str, rules: TradeRules, now: int) -> Decisions:
        """Replace a trade's rules (a deliberate user edit) and re-evaluate at the last price."""
        trade = self.trade(trade_id)
        if trade.state is not TradeState.ACTIVE:
            raise EngineError(f"trade {trade_id} is {trade.state}; only ACTIVE trades can change")
        trade.apply_rules(rules)
        self._times.schedule(trade)
        book = self._books[trade.instrument.exchange][trade.instrument.symbol]
        book.refresh_band()
        self._dirty_trades.add(trade_id)
        decisions = Decisions(levels=[trade.level_change()])
        if self._seen_since_entry(book, trade):
            assert book.last is not None
            self._evaluate_trade(trade, book.last, now, decisions)
        return decisions

    # -- the tick path --------------------------------------------------------------------

    def on_tick(self, tick: Tick, now: int) -> Decisions | None:
        """Evaluate one tick. Returns None when nothing happened (the common case)."""
        decisions = self._roll_day(now) if now >= self._day_end else None
        by_symbol = self._books.get(tick.exchange)
        book = by_symbol.get(tick.symbol) if by_symbol is not None else None
        if book is not None and (tick.ltp != book.last or book.pending):
            ltp = book.last = tick.ltp
            book.last_at = now
            book.pending = False
            if ltp > book.run_hi:
                book.run_hi = ltp
            if ltp < book.run_lo:
                book.run_lo = ltp
            if not (book.lo < ltp < book.hi):
                decisions = self._evaluate_symbol(book, ltp, now, decisions)
            for bucket in book.buckets.values():
                value = bucket.net * ltp - bucket.cost
                strategy = bucket.book
                strategy.pnl += value - bucket.value
                bucket.value = value
                if not (strategy.lo < strategy.pnl < strategy.hi):
                    decisions = _merge(decisions, self._check_strategy(strategy, now))
        if now >= self._times.next_at:
            decisions = _merge(decisions, self._fire_deadlines(now))
        return decisions

    def on_clock(self, now: int) -> Decisions:
        """Time passes without ticks: fire due time exits and roll the day."""
        decisions = self._roll_day(now) or Decisions()
        if now >= self._times.next_at:
            decisions.extend(self._fire_deadlines(now))
        return decisions

    def _evaluate_symbol(
        self, book: SymbolBook, ltp: int, now: int, decisions: Decisions | None
    ) -> Decisions | None:
        """Evaluate the trades whose quiet band `ltp` left; recompute the symbol's band on the
        way. Exits are started after the loop (they leave the watch list)."""
        lo, hi = NEG, POS
        exits: list[tuple[Trade, ExitReason, int | None]] | None = None
        dirty = self._dirty_trades
        for trade in book.watch:
            if not (trade.lo < ltp < trade.hi):
                reason, trigger, changed = trade.on_price(ltp)
                dirty.add(trade.trade_id)
                if changed:
                    if decisions is None:
                        decisions = Decisions()
                    decisions.levels.append(trade.level_change())
                if reason is not None:
                    if exits is None:
                        exits = []
                    exits.append((trade, reason, trigger))
                    continue
            if trade.lo > lo:
                lo = trade.lo
            if trade.hi < hi:
                hi = trade.hi
        book.lo, book.hi = lo, hi
        if exits is not None:
            if decisions is None:
                decisions = Decisions()
            for trade, reason, trigger in exits:
                decisions.exits.append(self._begin_exit(trade, reason, trigger, ltp, now))
        return decisions

    def _evaluate_trade(self, trade: Trade, ltp: int, now: int, decisions: Decisions) -> bool:
        reason, trigger, changed = trade.on_price(ltp)
        self._dirty_trades.add(trade.trade_id)
        if changed:
            decisions.levels.append(trade.level_change())
        if reason is None:
            return False
        decisions.exits.append(self._begin_exit(trade, reason, trigger, ltp, now))
        return True

    def _evaluate_strategy(self, strategy: StrategyBook, now: int) -> Decisions:
        return self._check_strategy(strategy, now) or Decisions()

    def _check_strategy(self, strategy: StrategyBook, now: int) -> Decisions | None:
        """Portfolio rules on the strategy's current P&L; None when nothing fired."""
        if not strategy.watching:
            return None
        reason, trigger, changed = strategy.evaluate()
        if changed:
            self.dirty_strategies.add(strategy.strategy_id)
        if reason is None:
            return None
        return self._exit_strategy(strategy, reason, trigger, now, halt=True)

    def _exit_strategy(
        self,
        strategy: StrategyBook,
        reason: ExitReason,
        trigger: int | None,
        now: int,
        *,
        halt: bool,
    ) -> Decisions:
        decisions = Decisions()
        for trade in list(strategy.trades.values()):
            if trade.state is TradeState.ACTIVE:
                price = self._books[trade.instrument.exchange][trade.instrument.symbol].last
                decisions.exits.append(self._begin_exit(trade, reason, trigger, price, now))
        if halt:
            strategy.halt(reason.value)
            decisions.strategies.append(
                StrategyChange(strategy.strategy_id, strategy.state, reason.value, now)
            )
        self.dirty_strategies.add(strategy.strategy_id)
        return decisions

    def _begin_exit(
        self, trade: Trade, reason: ExitReason, trigger: int | None, price: int | None, now: int
    ) -> ExitDecision:
        trade.transition(TradeState.EXITING)
        trade.exit_reason = reason
        trade.exit_trigger = trigger
        self._unwatch(trade)
        self._dirty_trades.add(trade.trade_id)
        return ExitDecision(
            trade_id=trade.trade_id,
            strategy_id=trade.strategy_id,
            symbol=trade.instrument.symbol,
            exchange=trade.instrument.exchange,
            side=trade.side,
            quantity=trade.quantity,
            reason=reason,
            trigger=trigger,
            price=price,
            at=now,
        )

    @property
    def calendar(self) -> MarketCalendar:
        """The market hours time exits (and the stale-feed policy) obey."""
        return self._times.calendar

    def set_calendar(self, calendar: MarketCalendar, now: int) -> None:
        """Use `calendar` from now on (a time exit deferred on the old one is re-timed)."""
        self._times.set_calendar(calendar, now, self._trades)

    def _fire_deadlines(self, now: int) -> Decisions:
        decisions = Decisions()
        for trade in self._times.fire(now, self._trades):
            assert trade.deadline_reason is not None
            book = self._books[trade.instrument.exchange][trade.instrument.symbol]
            decisions.exits.append(
                self._begin_exit(trade, trade.deadline_reason, None, book.last, now)
            )
        return decisions

    def _roll_day(self, now: int) -> Decisions | None:
        day = ist_day(now)
        if self._day == day:
            return None
        first = self._day is None
        self._day = day
        self._day_end = ist_day_start(day) + DAY_NS
        if first:
            return None
        decisions = Decisions()
        for strategy in self._strategies.values():
            was = strategy.state
            strategy.new_day()
            self.dirty_strategies.add(strategy.strategy_id)
            if was is not strategy.state:
                decisions.strategies.append(
                    StrategyChange(strategy.strategy_id, strategy.state, "new trading day", now)
                )
        return decisions
