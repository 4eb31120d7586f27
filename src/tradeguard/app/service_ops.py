"""App layer: the service facade's read side for live views and operations: change marks for
the dashboard publisher, single views, event visibility, health and metrics.

`ServiceOps` is composed by TradeService (app.service), which delegates to it: it reads the
engine, the store, the feed and the bus it is given, and builds trade and strategy views with
the facade's view functions; it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradeguard.app.events import EventBus
from tradeguard.app.monitor import Monitor
from tradeguard.app.ports import Clock, MarketFeed, Store
from tradeguard.app.views import account_of, history_view, owner_of
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.exit_order import ExitOrderState
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.trade import Trade

ViewOf = Callable[[Trade], dict[str, Any]]
StrategyViewOf = Callable[[StrategyBook], dict[str, Any]]


class ServiceOps:
    """Live views and operations of the facade."""

    def __init__(
        self,
        monitor: Monitor,
        store: Store,
        clock: Clock,
        feed: MarketFeed | None,
        bus: EventBus,
        stale_after: float,
        *,
        trade_view: ViewOf,
        strategy_view: StrategyViewOf,
    ) -> None:
        self.monitor = monitor
        self.store = store
        self.clock = clock
        self.feed = feed
        self.bus = bus
        self.stale_after = stale_after
        self._trade_view = trade_view
        self._strategy_view = strategy_view
        # where the market hours come from (app.market_hours), when the runtime keeps them
        self.market_hours: Callable[[], dict[str, Any]] | None = None

    @property
    def engine(self) -> RiskEngine:
        return self.monitor.engine

    # -- live views (dashboard pushes) -----------------------------------------------------

    def trade_marks(self) -> list[tuple[str, str, tuple[object, ...]]]:
        """(trade_id, account, signature) of every open trade: the signature changes whenever
        the trade's view would (last price, state, levels, quantity). Cheap: no views built."""
        out: list[tuple[str, str, tuple[object, ...]]] = []
        for trade in self.engine.trades():
            last = self.engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
            signature = (
                last,
                trade.state,
                trade.quantity,
                trade.stop,
                trade.target,
                trade.trailing,
                trade.breakeven,
                trade.best,
            )
            out.append((trade.trade_id, trade.account, signature))
        return out

    def trade_view_of(self, trade_id: str) -> dict[str, Any] | None:
        """The live view of an open trade of any account (None once it left the monitor)."""
        try:
            return self._trade_view(self.engine.trade(trade_id))
        except EngineError:
            return None

    async def closed_trade_view(self, trade_id: str) -> dict[str, Any] | None:
        """A trade that left the monitor, as stored (history view), or None."""
        record = await self.store.trade(trade_id)
        if record is None:
            return None
        return history_view(record)

    def strategy_marks(self) -> list[tuple[str, str, tuple[object, ...]]]:
        """(strategy_id, account, signature) of every strategy (P&L, state, levels)."""
        return [
            (
                book.strategy_id,
                owner_of(book.strategy_id),
                (
                    book.pnl,
                    book.realized,
                    book.state,
                    book.open_positions,
                    book.peak,
                    book.trailing_level,
                    book.halt_reason,
                ),
            )
            for book in self.engine.strategies()
        ]

    def strategy_view_of(self, strategy_id: str) -> dict[str, Any] | None:
        try:
            return self._strategy_view(self.engine.strategy(strategy_id))
        except EngineError:
            return None

    def event_visible_to(self, account: str, data: Mapping[str, Any]) -> bool:
        """Whether an event published for everyone (an alert) may be shown to `account`: not
        when it names another account's trade or strategy."""
        trade_id = data.get("trade_id")
        if isinstance(trade_id, str):
            try:
                if self.engine.trade(trade_id).account != account:
                    return False
            except EngineError:
                return False  # whose it was is unknown now: show it to nobody
        strategy_id = data.get("strategy_id")
        if isinstance(strategy_id, str) and account_of(strategy_id) is not None:
            return account_of(strategy_id) == account
        return True

    def recent_events(self, account: str, limit: int = 200) -> list[dict[str, Any]]:
        """The account's latest events (exits, levels, strategy changes, alerts), newest last."""
        events = [
            {"kind": e.kind, "data": e.data, "at": e.at}
            for e in self.bus.recent
            if e.account == account
            or (e.account is None and self.event_visible_to(account, e.data))
        ]
        return events[-limit:] if limit > 0 else []

    # -- operations -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Database, broker session, feed, staleness and background tasks; `status` is ok or
        degraded."""
        now = self.clock.now()
        stale: list[str] = []
        feed_connected = None
        if self.feed is not None:
            feed_connected = self.feed.connected
            stale = sorted(f"{e}:{s}" for s, e in self.feed.stale_symbols(now, self.stale_after))
        session_down = self.monitor.executor.session_down
        degraded = []
        if self.store.degraded:
            degraded.append("database")
        if feed_connected is False:
            degraded.append("feed")
        if session_down:
            degraded.append("broker_session")
        if stale:
            degraded.append("stale_symbols")
        supervisor = self.monitor.supervisor
        failing = supervisor.degraded()
        if failing:
            degraded.append("background_tasks")
        refused = self.store.refused_view()
        if refused["count"]:
            degraded.append("refused_records")
        unresolved = sorted(
            o.trade_id
            for o in self.monitor.snapshots.ledger
            if o.state is ExitOrderState.UNRESOLVED
        )
        if unresolved:
            degraded.append("exits_unresolved")
        queued = sorted(  # semi-auto: waiting for the trader in OpenAlgo's Action Center
            o.trade_id for o in self.monitor.snapshots.ledger if o.state is ExitOrderState.QUEUED
        )
        if queued:
            degraded.append("exits_queued")
        return {
            "status": "degraded" if degraded else "ok",
            "degraded": degraded,
            "database": {
                "degraded": self.store.degraded,
                "pending_writes": self.store.pending,
                "refused_records": refused,
            },
            "broker": {"session_down": session_down},
            "feed": {"connected": feed_connected, "stale_symbols": stale},
            "background": {"degraded": failing, "tasks": supervisor.status()},
            "monitor": {
                "running": self.monitor.running,
                "trades": sum(1 for _ in self.engine.trades()),
                "strategies": sum(1 for _ in self.engine.strategies()),
                "exits_in_flight": len(self.monitor.executor.in_flight()),
                "exits_unresolved": unresolved,
                "exits_queued": queued,
            },
            **({"market_hours": self.market_hours()} if self.market_hours else {}),
        }

    def metrics(self) -> dict[str, Any]:
        """Counters and latencies for /metrics (the interface renders Prometheus text)."""
        counters = self.monitor.counters
        return {
            "ticks": counters.ticks,
            "decisions": counters.decisions,
            "exits_by_reason": dict(counters.exits_by_reason),
            "latency": self.monitor.executor.metrics.summary(),
            "pending_writes": self.store.pending,
            "flushes": self.monitor.flushes,
            "events_published": self.bus.published,
            "event_subscribers": self.bus.subscribers,
        }
