"""App layer: the monitor. Owns the RiskEngine on the event loop and wires it to the world.

Ticks from the feed go straight into `engine.on_tick` (no I/O on that path); exits become
executor tasks, level and strategy changes go to the event sink, and so does every trade that
closes (topic `closed`, whatever closed it: a fill, reconciliation). A flush loop writes the
fast-moving fields of every dirty trade and strategy in ONE batch at least every
`flush_interval`; lifecycle changes are written through by the executor and `add_trade`.
A clock loop fires time exits without ticks; an exit watch (app.watch) keeps reading the
order book for exit orders still working after the executor stopped waiting. The loops run
under the app's Supervisor (app.supervisor): one that dies is restarted, and one that keeps
dying shows on /health.
Subscriptions are reference-counted per symbol:
the first open trade subscribes it, the last one to close unsubscribes it.

Reconciliation with the broker's books (orders and positions) runs while monitoring:
- after EVERY feed reconnect (order updates sent while the feed was down are not replayed: an
  exit that filled meanwhile is found in the order book). The feed's `on_reconnect` callback
  calls `feed_reconnected()` at once; as a safety net each clock step also compares the feed's
  reconnect counter, so a drop and a reconnect that both fall between two clock steps are
  still seen;
- every `reconcile_interval` seconds (a position closed by hand at the broker becomes
  CLOSED_EXTERNALLY). Exits come first: a round that falls due while exits are running waits
  (at most one more interval) until they are done; it costs two reads (position book, order
  book).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tradeguard.app.errors import NotStored
from tradeguard.app.executor import ExitExecutor, cancel_all
from tradeguard.app.failpoints import Failpoints
from tradeguard.app.ports import Clock, EventSink, MarketFeed, Store
from tradeguard.app.records import Record
from tradeguard.app.snapshots import Snapshots, audit, commit_logged
from tradeguard.app.supervisor import Supervisor
from tradeguard.app.watch import WorkingExitWatch
from tradeguard.core.broker import OrderReport
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.exit_order import ExitOrder
from tradeguard.core.model import Tick
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)

SymbolKey = tuple[str, str]
_PERIODIC = "periodic reconcile"


@dataclass(slots=True)
class MonitorCounters:
    ticks: int = 0
    decisions: int = 0
    exits_by_reason: Counter[str] = field(default_factory=Counter)


Reconcile = Callable[[], Awaitable[object]]


class Monitor:
    """Runs the engine: ticks, clock, flushes, subscriptions, exits."""

    def __init__(
        self,
        engine: RiskEngine,
        executor: ExitExecutor,
        store: Store,
        feed: MarketFeed,
        clock: Clock,
        events: EventSink,
        snapshots: Snapshots,
        *,
        flush_interval: float = 1.0,
        clock_interval: float = 1.0,
        reconcile: Reconcile | None = None,
        reconcile_interval: float | None = None,
        flush_chunk: int = 500,
        supervisor: Supervisor | None = None,
        failpoints: Failpoints | None = None,
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.store = store
        self.feed = feed
        self.clock = clock
        self.events = events
        self.snapshots = snapshots
        self.flush_interval = flush_interval
        self.clock_interval = clock_interval
        self.flush_chunk = flush_chunk
        self.reconcile = reconcile
        self.supervisor = supervisor or Supervisor(clock, executor.parts.alerts, store)
        self.failpoints = failpoints or Failpoints()
        self.reconcile_interval = reconcile_interval  # None or <= 0: only after reconnects
        self.reconciles = 0  # reconciliations completed while running
        self.running = False
        self.flushes = 0
        self.counters = MonitorCounters()
        self._refs: dict[SymbolKey, int] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._reconnects = feed.reconnects  # the last count reconciled
        self.watch = WorkingExitWatch(executor, clock)
        executor.bind(self.dispatch, self._trade_closed, self._exit_sent)
        feed.set_handlers(self.on_tick, self.on_order_update)

    # -- life cycle -----------------------------------------------------------------------

    async def start(self, pending: Decisions | None = None) -> None:
        """Subscribe every symbol with an open trade, start the feed and the loops, then act
        on decisions made during recovery."""
        symbols: list[SymbolKey] = []
        for trade in self.engine.trades():
            key = (trade.instrument.symbol, trade.instrument.exchange)
            self._refs[key] = self._refs.get(key, 0) + 1
            if self._refs[key] == 1:
                symbols.append(key)
        await self.feed.start()
        if symbols:
            await self.feed.subscribe(symbols)
        self._reconnects = self.feed.reconnects
        self.running = True
        supervise = self.supervisor.start
        self._loops = [
            supervise("flush", self._flush_loop),
            supervise("clock", self._clock_loop),
            supervise("exit-watch", self.watch.run),
        ]
        interval = self.reconcile_interval
        if self.reconcile is not None and interval is not None and interval > 0:
            self._loops.append(supervise("reconcile", lambda: self._reconcile_loop(interval)))
        if pending:
            self.dispatch(pending)

    async def stop(self, *, grace: float = 2.0) -> None:
        """Stop taking ticks, let running exits finish (up to `grace`), flush everything,
        close the feed. Well within 5 s with the defaults."""
        self.running = False
        await cancel_all(self._loops)
        self._loops = []
        await self.executor.drain(grace)
        await cancel_all(list(self._side_tasks))
        await self.flush()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.feed.stop(), timeout=grace)

    # -- the tick path --------------------------------------------------------------------

    def on_tick(self, tick: Tick) -> None:
        if not self.running:
            return
        received = self.clock.now()
        self.counters.ticks += 1
        decisions = self.engine.on_tick(tick, received)
        if decisions:
            self.dispatch(decisions, received)

    def on_order_update(self, report: OrderReport) -> None:
        self.executor.on_order_update(report)

    def dispatch(self, decisions: Decisions, received_at: int | None = None) -> None:
        """Act on engine output: exits to the executor (all at once), changes to the sink."""
        self.counters.decisions += 1
        if decisions.exits:
            self.executor.submit(decisions.exits, received_at)
            for exit_decision in decisions.exits:
                self.counters.exits_by_reason[exit_decision.reason.value] += 1
                self.events.publish("exit", exit_decision)
        for level in decisions.levels:
            self.events.publish("level", level)
        for change in decisions.strategies:
            self.events.publish("strategy", change)

    # -- trades ---------------------------------------------------------------------------

    async def add_trade(self, trade: Trade, *, actor: str = "api") -> Decisions:
        """Start guarding a new trade: written through (durable: in the database or its
        journal) before it is monitored. Raises NotStored (nothing changed) when neither can
        take it, NotStored too when the database refuses it."""
        now = self.clock.now()
        records: list[Record] = [
            self.snapshots.trade_record(trade, now),
            audit(now, "trade_created", trade.trade_id, actor=actor, quantity=trade.quantity),
        ]
        try:
            stored = await self.store.commit(records)
        except Exception as error:
            self.snapshots.forget(trade.trade_id)
            log.exception("trade %s refused by the database", trade.trade_id)
            raise NotStored(f"the database refused the new trade: {error}") from None
        if not stored:
            self.snapshots.forget(trade.trade_id)
            log.error(
                "trade %s not created: neither the database nor the journal took it", trade.trade_id
            )
            raise NotStored(
                "the trade was not created: the database is unavailable and the local journal "
                "cannot be written either (see /health); nothing changed, retry later"
            )
        decisions = self.engine.add_trade(trade, now)
        self.engine.dirty_trades.discard(trade.trade_id)
        key = (trade.instrument.symbol, trade.instrument.exchange)
        self._refs[key] = self._refs.get(key, 0) + 1
        if self._refs[key] == 1:
            self._side(self.feed.subscribe([key]))
        self.dispatch(decisions)
        return decisions

    def add_split(self, trade: Trade, now: int) -> Decisions:
        """Monitor a part split off an open trade (app.partial): its symbol is subscribed
        already (the trade it came from holds it); counted so the last close unsubscribes.
        The caller writes it through and dispatches the decisions."""
        decisions = self.engine.add_trade(trade, now)
        key = (trade.instrument.symbol, trade.instrument.exchange)
        self._refs[key] = self._refs.get(key, 0) + 1
        return decisions

    def subscriptions(self) -> dict[SymbolKey, int]:
        return dict(self._refs)

    def _exit_sent(self, trade: Trade, order: ExitOrder) -> None:
        self.events.publish("exit_sent", order)

    def _trade_closed(self, trade: Trade) -> None:
        self.events.publish("closed", trade)
        key = (trade.instrument.symbol, trade.instrument.exchange)
        count = self._refs.get(key)
        if count is None:
            return
        if count <= 1:
            del self._refs[key]
            if self.running:
                self._side(self.feed.unsubscribe([key]))
        else:
            self._refs[key] = count - 1

    # -- persistence ----------------------------------------------------------------------

    async def flush(self) -> int:
        """Commit every dirty trade and strategy, in chunks of at most `flush_chunk` records,
        one transaction each. Returns how many records were written (trades already closed
        were written through by the executor). An ACTIVE trade whose state, quantity and
        rules are as last written gets a narrow TradeProgress, anything else a full snapshot.

        Chunking keeps the store's ordered queue short: an exit intent committed meanwhile
        waits behind one chunk at most, never behind a flush of thousands of trades. Each
        chunk is built just before it is queued, so no snapshot in it is older than a write
        the executor queued while an earlier chunk was being committed."""
        trade_ids, strategy_ids = self.engine.dirty_trades, self.engine.dirty_strategies
        self.engine.dirty_trades, self.engine.dirty_strategies = set(), set()
        keys = [(True, i) for i in sorted(trade_ids)] + [(False, i) for i in sorted(strategy_ids)]
        written = 0
        for start in range(0, len(keys), self.flush_chunk):
            try:
                chunk = self._flush_records(keys[start : start + self.flush_chunk])
            except Exception:  # a bug: keep them dirty; the supervisor restarts the loop
                self._dirty_again(keys[start:])
                raise
            try:
                await self.store.commit(chunk)
            except Exception:
                log.exception("flush failed; will retry")
                self._dirty_again(keys[start:])
                break
            written += len(chunk)
        if written:
            self.flushes += 1
        return written

    def _dirty_again(self, keys: list[tuple[bool, str]]) -> None:
        engine = self.engine
        for is_trade, key in keys:
            (engine.dirty_trades if is_trade else engine.dirty_strategies).add(key)

    def _flush_records(self, keys: list[tuple[bool, str]]) -> list[Record]:
        now = self.clock.now()
        records: list[Record] = []
        for is_trade, key in keys:
            with contextlib.suppress(EngineError):  # closed meanwhile: written through
                if is_trade:
                    records.append(self.snapshots.flush_record(self.engine.trade(key), now))
                else:
                    records.append(self.snapshots.strategy_record(self.engine.strategy(key), now))
        return records

    async def _commit(self, records: list[Record]) -> bool:
        return await commit_logged(self.store, records)

    # -- loops ----------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self.clock.sleep(self.flush_interval)
            self.failpoints.fail("flush_loop")
            await self.flush()

    async def _clock_loop(self) -> None:
        while True:
            await self.clock.sleep(self.clock_interval)
            self.failpoints.fail("clock_loop")
            self.on_clock()

    def on_clock(self) -> None:
        """One clock step: time exits and day roll-over; the broker session's probe when due;
        reconcile after a feed drop."""
        decisions = self.engine.on_clock(self.clock.now())
        if decisions:
            self.dispatch(decisions)
        self.executor.session.on_clock()
        if self._came_back():
            self._reconcile_soon("feed reconnected")

    # -- reconciliation -------------------------------------------------------------------

    def feed_reconnected(self) -> None:
        """The feed's on_reconnect callback: it re-authenticated and resubscribed; order
        updates sent meanwhile are lost, so reconcile now (once per reconnect, however it
        was noticed first)."""
        if self.running and self._came_back():
            self._reconcile_soon("feed reconnected")

    def _came_back(self) -> bool:
        """True once per feed reconnect not yet reconciled."""
        count = self.feed.reconnects
        back, self._reconnects = count != self._reconnects, count
        return back

    def _reconcile_soon(self, why: str) -> None:
        if self.reconcile is not None and self.running:
            self._side(self._reconcile_once(why))

    async def _reconcile_once(self, why: str) -> None:
        if self.reconcile is None:
            return
        log.log(logging.DEBUG if why == _PERIODIC else logging.INFO, "%s: reconciling", why)
        try:
            await self.reconcile()
        except Exception as error:  # books unreadable: the next round tries again
            log.warning("%s: reconciliation failed (%s); the next round retries", why, error)
            return
        self.reconciles += 1

    async def _reconcile_loop(self, interval: float) -> None:
        """Every `interval`: orders and positions. Exits come first: while exits are running
        the round waits for them, one clock step at a time, for at most one more interval."""
        step = min(self.clock_interval, interval)
        while True:
            await self.clock.sleep(interval)
            waited = 0.0
            while self.executor.in_flight() and waited < interval:
                await self.clock.sleep(step)
                waited += step
            self.failpoints.fail("reconcile_loop")
            await self._reconcile_once(_PERIODIC)

    def _side(self, work: Coroutine[Any, Any, Any] | Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_done)

    def _side_done(self, task: asyncio.Task[Any]) -> None:
        self._side_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed: %r", task.exception())
