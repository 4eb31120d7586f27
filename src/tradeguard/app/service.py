"""App layer: the service facade. Every interface (REST API, dashboard, CLI) goes through it.

Methods take the authenticated account name and return JSON-ready views (app.views). They
refuse bad input with an app.errors.ServiceError subclass and change nothing then. Each action
is written through and audited before it takes effect; exits go through the same executor as
automatic exits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tradeguard.app.audit_log import audit_page
from tradeguard.app.charts import ChartBook
from tradeguard.app.entries import TradeEntries
from tradeguard.app.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    NotStored,
)
from tradeguard.app.events import EventBus
from tradeguard.app.history import TradeHistory
from tradeguard.app.monitor import Monitor
from tradeguard.app.partial import PartialExits
from tradeguard.app.ports import BrokerGateway, Clock, MarketFeed, Store
from tradeguard.app.positions import BrokerPositions
from tradeguard.app.records import AuditQuery, AuditRecord, Record
from tradeguard.app.semiauto import queued_retry
from tradeguard.app.service_ops import ServiceOps
from tradeguard.app.snapshots import audit
from tradeguard.app.trade_input import (
    CreateTrade,
    merge_rules,
    probe,
    protective_stop,
)
from tradeguard.app.views import (
    exit_view,
    name_of,
    owner_of,
    strategy_key,
    strategy_view,
    trade_view,
)
from tradeguard.core.codec import config_from_dict, config_to_dict, rules_to_dict
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.model import TradeState
from tradeguard.core.money import MoneyError, fmt
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.rules import RuleError
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

__all__ = ["CreateTrade", "TradeService", "strategy_key"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")


class TradeService:
    """The one facade over the running monitor, the broker and storage."""

    def __init__(
        self,
        monitor: Monitor,
        broker: BrokerGateway,
        store: Store,
        clock: Clock,
        *,
        feed: MarketFeed | None = None,
        bus: EventBus | None = None,
        stale_after: float = 30.0,
    ) -> None:
        self.monitor = monitor
        self.broker = broker
        self.store = store
        self.clock = clock
        self.feed = feed
        self.bus = bus or EventBus()
        self.entries = TradeEntries(monitor, broker, store, clock)
        # Closed trades, filtered: history rows, CSV export rows, performance (history.py).
        self.history = TradeHistory(store)
        self.history_export = self.history.export
        self.performance = self.history.performance
        self.positions = BrokerPositions(
            broker, clock, lambda: self.engine.trades(), lambda: self.monitor.snapshots.ledger
        )
        self.partials = PartialExits(monitor, clock, self._commit_durable)
        self.ops = ServiceOps(
            monitor,
            store,
            clock,
            feed,
            self.bus,
            stale_after,
            trade_view=self._trade_view,
            strategy_view=self._strategy_view,
        )
        # Live views and operations (service_ops.py), delegated.
        self.live_trades = self.ops.live_trades
        self.live_strategies = self.ops.live_strategies
        self.snapshot_json = self.ops.snapshot_json
        self.closed_trade_view = self.ops.closed_trade_view
        self.event_visible_to = self.ops.event_visible_to
        self.recent_events = self.ops.recent_events
        self.health = self.ops.health
        self.metrics = self.ops.metrics
        # Chart history for the dashboard (app.charts), sampled by the view publisher.
        self.charts = ChartBook(monitor.engine)
        self.trade_series = self.charts.trade_series
        self.strategy_series = self.charts.strategy_series

    @property
    def engine(self) -> RiskEngine:
        return self.monitor.engine

    @property
    def stale_after(self) -> float:
        """Seconds of silence after which a symbol counts as stale (health)."""
        return self.ops.stale_after

    @stale_after.setter
    def stale_after(self, seconds: float) -> None:
        self.ops.stale_after = seconds

    # -- strategies -----------------------------------------------------------------------

    def _book(self, account: str, name: str) -> StrategyBook:
        try:
            return self.engine.strategy(strategy_key(account, name))
        except EngineError:
            raise NotFound(f"strategy {name!r} not found") from None

    def _strategy_view(self, book: StrategyBook) -> dict[str, Any]:
        return strategy_view(book, name_of(book.strategy_id), owner_of(book.strategy_id))

    async def configure_strategy(
        self, account: str, name: str, settings: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        """Create a strategy, or change some of its settings (the others stay)."""
        if not _NAME.match(name or ""):
            raise InvalidRequest(
                "strategy name must be 1-50 letters, digits, '_', '-' or '.', starting with a "
                "letter or digit"
            )
        key = strategy_key(account, name)
        existing = next((b for b in self.engine.strategies() if b.strategy_id == key), None)
        try:
            config = config_from_dict(dict(settings), existing.config if existing else None)
        except (RuleError, MoneyError) as error:
            raise InvalidRequest(str(error)) from None
        now = self.clock.now()
        if existing is None:
            book = self.engine.add_strategy(key, config)
            action = "strategy_created"
        else:
            book = existing
            self.engine.configure_strategy(key, config)
            action = "strategy_configured"
        await self._commit(
            [
                self.monitor.snapshots.strategy_record(book, now),
                audit(now, action, key, actor=actor, settings=dict(settings)),
            ]
        )
        self._dispatch(self.engine.reevaluate_strategy(key, now))
        return self._strategy_view(book)

    @staticmethod
    def strategy_settings() -> dict[str, Any]:
        """Every strategy setting configure_strategy accepts, with its default value."""
        return config_to_dict(StrategyRiskConfig())

    def get_strategy(self, account: str, name: str) -> dict[str, Any]:
        return self._strategy_view(self._book(account, name))

    def list_strategies(self, account: str) -> list[dict[str, Any]]:
        """The account's strategies (cached, shared views: read them, never change them)."""
        return [entry.view for _, entry in self.ops.live_strategies(account)]

    async def pause_strategy(self, account: str, name: str, actor: str) -> dict[str, Any]:
        return await self._state_change(account, name, actor, pause=True)

    async def resume_strategy(self, account: str, name: str, actor: str) -> dict[str, Any]:
        return await self._state_change(account, name, actor, pause=False)

    async def _state_change(
        self, account: str, name: str, actor: str, *, pause: bool
    ) -> dict[str, Any]:
        book = self._book(account, name)
        now = self.clock.now()
        try:
            if pause:
                decisions = self.engine.pause(book.strategy_id, now)
            else:
                decisions = self.engine.resume(book.strategy_id, now)
        except EngineError as error:
            raise Conflict(str(error)) from None
        action = "strategy_paused" if pause else "strategy_resumed"
        await self._commit(
            [
                self.monitor.snapshots.strategy_record(book, now),
                audit(now, action, book.strategy_id, actor=actor),
            ]
        )
        self._dispatch(decisions)
        return self._strategy_view(book)

    async def exit_all(self, account: str, name: str, actor: str) -> list[dict[str, Any]]:
        """Exit every ACTIVE trade of a strategy (each once, concurrently)."""
        book = self._book(account, name)
        now = self.clock.now()
        decisions = self.engine.exit_all(book.strategy_id, now)
        await self._commit(
            [audit(now, "exit_all", book.strategy_id, actor=actor, trades=len(decisions.exits))]
        )
        self._dispatch(decisions)
        return [self._trade_view(self.engine.trade(d.trade_id)) for d in decisions.exits]

    # -- trades ---------------------------------------------------------------------------

    def _trade(self, account: str, trade_id: str) -> Trade:
        try:
            trade = self.engine.trade(trade_id)
        except EngineError:
            raise NotFound(f"trade {trade_id!r} not found") from None
        if trade.account != account:
            raise NotFound(f"trade {trade_id!r} not found")  # never reveal another account's
        return trade

    async def _open_trade(self, account: str, trade_id: str) -> Trade:
        """`_trade`, but a trade of the account that closed (it left the monitor) is a 409
        that says so, not a 404."""
        try:
            return self._trade(account, trade_id)
        except NotFound:
            record = await self.store.trade(trade_id)
            if record is None or record.account != account:
                raise
        how = f"{record.state}, {record.exit_reason}" if record.exit_reason else record.state
        raise Conflict(f"trade {trade_id} is already closed ({how})")

    def _trade_view(self, trade: Trade, rules: dict[str, Any] | None = None) -> dict[str, Any]:
        """A fresh view of a live trade (`rules`: its rules' view, when already made)."""
        last = self.engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
        view = trade_view(trade, last, rules=rules)
        view["strategy"] = name_of(trade.strategy_id)
        view["exit"] = exit_view(self.monitor.snapshots.ledger.latest(trade.trade_id))
        return view

    def active_trades(self, account: str, strategy: str | None = None) -> list[dict[str, Any]]:
        """The account's open trades (of one strategy). The views are cached and shared
        (app.live_views): read them, never change them."""
        key = strategy_key(account, strategy) if strategy else None
        return [entry.view for _, entry in self.ops.live_trades(account, key)]

    def active_trades_json(self, account: str, strategy: str | None = None) -> str:
        """active_trades as a JSON array, joined from each trade's cached JSON text."""
        key = strategy_key(account, strategy) if strategy else None
        return self.ops.active_trades_json(account, key)

    async def trade_history(
        self, account: str, limit: int = 100, filters: Mapping[str, str | None] | None = None
    ) -> list[dict[str, Any]]:
        """Closed trades, newest close first, filtered (app.history.parse_filter)."""
        return await self.history.rows(account, limit, filters)

    async def create_trade(self, account: str, request: CreateTrade, actor: str) -> dict[str, Any]:
        """Start guarding a position (app.entries): from a completed order or explicitly."""
        book = self._book(account, request.strategy)
        trade = await self.entries.create(account, request, actor, book)
        return self._trade_view(trade)

    async def update_trade(
        self, account: str, trade_id: str, changes: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        """Change an ACTIVE trade's rules. Refused when the new stop (or target) would already
        be beyond the last price: the change would exit at once, which is what exittrade is for."""
        trade = await self._open_trade(account, trade_id)
        if trade.state is not TradeState.ACTIVE:
            raise Conflict(f"trade {trade_id} is {trade.state.value}; only ACTIVE trades change")
        rules = merge_rules(trade.rules, changes)
        trial = probe(trade, rules)
        last = self.engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
        if last is not None:
            sign = trade.sign
            if trial.stop is not None and sign * (last - trial.stop) <= 0:
                raise InvalidRequest(
                    f"the new stop {fmt(trial.stop)} is not "
                    f"{'below' if sign > 0 else 'above'} the last price {fmt(last)}"
                )
            if trial.target is not None and sign * (trial.target - last) <= 0:
                raise InvalidRequest(
                    f"the new target {fmt(trial.target)} is not "
                    f"{'above' if sign > 0 else 'below'} the last price {fmt(last)}"
                )
        now = self.clock.now()
        before = rules_to_dict(trade.rules)
        # Durable first (the new rules and the levels they give), then applied: when neither
        # the database nor the journal can take it, nothing changes (503).
        record = replace(
            self.monitor.snapshots.trade_record(trade, now),
            rules=rules_to_dict(rules),
            stop_loss=trial.stop,
            stop_reason=trial.stop_reason.value if trial.stop_reason else None,
            target=trial.target,
            trailing_level=trial.trailing,
            breakeven_level=trial.breakeven,
        )
        changed = audit(
            now, "trade_updated", trade_id, actor=actor, before=before, after=rules_to_dict(rules)
        )
        await self._commit_durable([record, changed], f"trade {trade_id} was not changed")
        try:
            decisions = self.engine.update_rules(trade_id, rules, now)
        except EngineError as error:
            raise Conflict(str(error)) from None
        self._dispatch(decisions)
        return self._trade_view(trade)

    async def protect_trade(
        self, account: str, trade_id: str, action: str, actor: str, percent: int = 50
    ) -> dict[str, Any]:
        """A one-click protective stop (`stop_to_cost` or `lock_profit`): an update_trade of
        the stop-loss to a PRICE beyond the entry (app.trade_input.protective_stop)."""
        trade = await self._open_trade(account, trade_id)
        last = self.engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
        changes = protective_stop(trade, last, action, percent)
        return await self.update_trade(account, trade_id, changes, actor)

    async def exit_trade(
        self,
        account: str,
        trade_id: str,
        actor: str,
        *,
        pending_rejected: bool = False,
        quantity: int | None = None,
    ) -> dict[str, Any]:
        """Exit one trade now (ACTIVE, or a deliberate retry of an EXIT_FAILED one). While its
        exit is queued in OpenAlgo's Action Center, only with `pending_rejected` (the trader
        says they rejected it there): refused otherwise (app.semiauto). With `quantity`: exit
        that much of an ACTIVE trade, the rest stays guarded (app.partial); the view has the
        exiting part under `part`."""
        trade = await self._open_trade(account, trade_id)
        if quantity is not None:
            part = await self.partials.exit_part(trade, quantity, actor)
            return {**self._trade_view(trade), "part": self._trade_view(part)}
        await queued_retry(self.monitor.executor.queued, trade, actor, pending_rejected)
        now = self.clock.now()
        try:
            decision = self.engine.request_exit(trade_id, now)
        except EngineError as error:
            raise Conflict(str(error)) from None
        await self._commit([audit(now, "exit_requested", trade_id, actor=actor)])
        self._dispatch(Decisions(exits=[decision]))
        return self._trade_view(trade)

    # -- broker view, audit log ----------------------------------------------------------------

    async def broker_view(self, account: str, *, refresh: bool = False) -> dict[str, Any]:
        """The broker's positions and orders next to the guarded trades (app.positions)."""
        return await self.positions.view(account, refresh=refresh)

    async def guard_position(
        self,
        account: str,
        strategy: str,
        key: tuple[str, str, str],
        actor: str,
        quantity: int | None = None,
    ) -> dict[str, Any]:
        """Guard a position's unguarded quantity with `strategy`'s default rules: a
        createtrade (this service's one path) at the position's average price."""
        self._book(account, strategy)  # 404 before the broker is read
        return await self.positions.guard(
            account, strategy, key, quantity, actor, self.create_trade
        )

    async def audit_log(
        self,
        account: str,
        *,
        trade_id: str | None = None,
        strategy: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """One page of the account's audit log (who changed what), newest first, of one trade
        or one strategy (its own entries and its trades') or all; `next_before` asks for the
        next page."""
        key = strategy_key(account, strategy) if strategy else None
        if strategy:
            self._book(account, strategy)  # 404 for a strategy the account does not have
        return await audit_page(
            self.store, AuditQuery(account, trade_id or None, key, before, limit)
        )

    # -- plumbing -------------------------------------------------------------------------

    def _dispatch(self, decisions: Decisions) -> None:
        if decisions:
            self.monitor.dispatch(decisions)

    async def _commit(self, records: list[Record | AuditRecord]) -> None:
        await self.monitor.store.commit(records)

    async def _commit_durable(self, records: Sequence[Record], what: str) -> None:
        """Commit, or raise NotStored (503) when neither the database nor the journal took
        the records (or the database refused them)."""
        try:
            stored = await self.monitor.store.commit(records)
        except Exception as error:
            raise NotStored(f"{what}: the database refused it ({error})") from None
        if not stored:
            raise NotStored(
                f"{what}: the database is unavailable and the local journal cannot be written "
                "either (see /health); nothing changed, retry later"
            )
