"""App layer: the service facade. Every interface (REST API, dashboard, CLI) goes through it.

Methods take the authenticated account name and return JSON-ready views (app.views). They
refuse bad input with an app.errors.ServiceError subclass and change nothing then. Each action
is written through and audited before it takes effect; exits go through the same executor as
automatic exits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tradeguard.app.entries import TradeEntries
from tradeguard.app.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    NotStored,
)
from tradeguard.app.events import EventBus
from tradeguard.app.monitor import Monitor
from tradeguard.app.ports import BrokerGateway, Clock, MarketFeed, Store
from tradeguard.app.records import AuditRecord, Record
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
    history_view,
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
        self.trade_marks = self.ops.trade_marks
        self.trade_view_of = self.ops.trade_view_of
        self.closed_trade_view = self.ops.closed_trade_view
        self.strategy_marks = self.ops.strategy_marks
        self.strategy_view_of = self.ops.strategy_view_of
        self.event_visible_to = self.ops.event_visible_to
        self.recent_events = self.ops.recent_events
        self.health = self.ops.health
        self.metrics = self.ops.metrics

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
        return [
            self._strategy_view(book)
            for book in self.engine.strategies()
            if owner_of(book.strategy_id) == account
        ]

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

    def _trade_view(self, trade: Trade) -> dict[str, Any]:
        last = self.engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
        view = trade_view(trade, last)
        view["strategy"] = name_of(trade.strategy_id)
        view["exit"] = exit_view(self.monitor.snapshots.ledger.latest(trade.trade_id))
        return view

    def active_trades(self, account: str, strategy: str | None = None) -> list[dict[str, Any]]:
        key = strategy_key(account, strategy) if strategy else None
        return [
            self._trade_view(trade)
            for trade in self.engine.trades()
            if trade.account == account and (key is None or trade.strategy_id == key)
        ]

    async def trade_history(self, account: str, limit: int = 100) -> list[dict[str, Any]]:
        if not 1 <= limit <= 1000:
            raise InvalidRequest("limit must be between 1 and 1000")
        rows = await self.store.history(account, limit)
        return [history_view(row) for row in rows]

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
        self, account: str, trade_id: str, actor: str, *, pending_rejected: bool = False
    ) -> dict[str, Any]:
        """Exit one trade now (ACTIVE, or a deliberate retry of an EXIT_FAILED one). While its
        exit is queued in OpenAlgo's Action Center, only with `pending_rejected` (the trader
        says they rejected it there): refused otherwise (app.semiauto)."""
        trade = await self._open_trade(account, trade_id)
        await queued_retry(self.monitor.executor.queued, trade, actor, pending_rejected)
        now = self.clock.now()
        try:
            decision = self.engine.request_exit(trade_id, now)
        except EngineError as error:
            raise Conflict(str(error)) from None
        await self._commit([audit(now, "exit_requested", trade_id, actor=actor)])
        self._dispatch(Decisions(exits=[decision]))
        return self._trade_view(trade)

    # -- plumbing -------------------------------------------------------------------------

    def _dispatch(self, decisions: Decisions) -> None:
        if decisions:
            self.monitor.dispatch(decisions)

    async def _commit(self, records: list[Record | AuditRecord]) -> None:
        await self.monitor.store.commit(records)

    async def _commit_durable(self, records: list[Record], what: str) -> None:
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
