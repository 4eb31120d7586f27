"""App layer: the service facade's read side for live views and operations: the cached trade
and strategy views (app.live_views) behind activetrades, the dashboard snapshot and the
dashboard publisher, event visibility, health and metrics.

`ServiceOps` is composed by TradeService (app.service), which delegates to it: it reads the
engine, the store, the feed and the bus it is given, and builds trade and strategy views with
the facade's view functions; it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradeguard.app.events import EventBus
from tradeguard.app.live_views import (
    CachedView,
    Signature,
    ViewCache,
    join,
    same_rules,
    strategy_signature,
    trade_signature,
)
from tradeguard.app.monitor import Monitor
from tradeguard.app.ports import Clock, MarketFeed, Store
from tradeguard.app.views import account_of, history_view, owner_of
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.exit_order import ExitOrderState
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.trade import Trade

ViewOf = Callable[[Trade, dict[str, Any] | None], dict[str, Any]]  # (trade, its rules view)
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
        self.trade_views: ViewCache[Trade] = ViewCache(
            self._trade_signature, self._build_trade, first_version=clock.now() // 1000
        )
        self.strategy_views: ViewCache[StrategyBook] = ViewCache(
            strategy_signature, lambda book, _: strategy_view(book)
        )
        # where the market hours come from (app.market_hours), when the runtime keeps them
        self.market_hours: Callable[[], dict[str, Any]] | None = None

    @property
    def engine(self) -> RiskEngine:
        return self.monitor.engine

    # -- live views (activetrades, dashboard snapshot and pushes) ---------------------------

    def _trade_signature(self, trade: Trade) -> Signature:
        instrument = trade.instrument
        return trade_signature(
            trade,
            self.engine.last_price(instrument.symbol, instrument.exchange),
            self.monitor.snapshots.ledger.latest(trade.trade_id),
        )

    def _build_trade(self, trade: Trade, previous: CachedView | None) -> dict[str, Any]:
        return self._trade_view(trade, same_rules(previous, trade))

    def live_trades(
        self, account: str | None = None, strategy_id: str | None = None
    ) -> list[tuple[Trade, CachedView]]:
        """Every open trade (of `account`, of `strategy_id`) with its cached view, each view
        rebuilt only if the trade changed since it was last built (app.live_views)."""
        views = self.trade_views
        out = []
        live = 0
        for trade in self.engine.trades():
            live += 1
            if account is not None and trade.account != account:
                continue
            if strategy_id is not None and trade.strategy_id != strategy_id:
                continue
            out.append((trade, views.get(trade.trade_id, trade)))
        if len(views) > live:  # some trades left the monitor: forget their views
            views.retain({t.trade_id for t in self.engine.trades()})
        return out

    def live_strategies(self, account: str | None = None) -> list[tuple[StrategyBook, CachedView]]:
        """Every strategy (of `account`) with its cached view."""
        views = self.strategy_views
        out = [
            (book, views.get(book.strategy_id, book))
            for book in self.engine.strategies()
            if account is None or owner_of(book.strategy_id) == account
        ]
        if account is None and len(views) > len(out):
            views.retain({book.strategy_id for book, _ in out})
        return out

    def active_trades_json(self, account: str, strategy_id: str | None = None) -> str:
        """The account's open trades (of one strategy) as a JSON array, from cached texts."""
        return join([entry.text for _, entry in self.live_trades(account, strategy_id)])

    def snapshot_json(self, account: str) -> str:
        """A dashboard's first message: `{"trades": [...], "strategies": [...]}` as JSON."""
        trades = join([entry.text for _, entry in self.live_trades(account)])
        strategies = join([entry.text for _, entry in self.live_strategies(account)])
        return f'{{"trades":{trades},"strategies":{strategies}}}'

    async def closed_trade_view(self, trade_id: str) -> dict[str, Any] | None:
        """A trade that left the monitor, as stored (history view), or None."""
        record = await self.store.trade(trade_id)
        if record is None:
            return None
        return history_view(record)

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
