"""App layer: the service facade. Every interface (REST API, dashboard, CLI) goes through it.

Methods take the authenticated account name and return JSON-ready views (app.views). They
refuse bad input with an app.errors.ServiceError subclass and change nothing then. Each action
is written through and audited before it takes effect; exits go through the same executor as
automatic exits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tradeguard.app.errors import BrokerUnavailable, Conflict, InvalidRequest, NotFound
from tradeguard.app.events import EventBus
from tradeguard.app.monitor import Monitor
from tradeguard.app.ports import BrokerGateway, Clock, MarketFeed, Store
from tradeguard.app.records import AuditRecord, Record
from tradeguard.app.service_ops import ServiceOps
from tradeguard.app.snapshots import audit
from tradeguard.app.trade_input import (
    CreateTrade,
    explicit_entry,
    merge_rules,
    probe,
    product_of,
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
from tradeguard.core.broker import BrokerError, OrderNotFound, OrderStatus, SessionDown
from tradeguard.core.codec import config_from_dict, config_to_dict, rules_to_dict
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.model import Instrument, Product, Side, TradeState
from tradeguard.core.money import MoneyError, fmt
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.rules import RuleError
from tradeguard.core.sizing import Refusal, check_new_trade, size_position
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
        self._instruments: dict[tuple[str, str], Instrument] = {}
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
        """Start guarding a position: from a completed order (fill price and quantity from the
        broker) or explicitly. The strategy's defaults, sizing and max positions apply."""
        book = self._book(account, request.strategy)
        if request.order_id:
            symbol, exchange, side, quantity, price, product = await self._from_order(
                request.order_id, book
            )
        else:
            symbol, exchange, side, quantity, price, product = explicit_entry(request)
        instrument = await self._instrument(symbol, exchange, price)
        if quantity == 0:
            sized = size_position(book, instrument, price)
            if isinstance(sized, Refusal):
                raise Conflict(sized.reason)
            quantity = sized
        refusal = check_new_trade(book, instrument, quantity, price)
        if refusal is not None:
            raise Conflict(refusal.reason)
        rules = merge_rules(book.config.trade_rules(), request.rules)
        try:
            trade = Trade(
                trade_id=f"T{uuid.uuid4().hex[:12]}",
                strategy_id=book.strategy_id,
                account=account,
                instrument=instrument,
                side=side,
                quantity=quantity,
                entry_price=price,
                entered_at=self.clock.now(),
                rules=rules,
                product=product,
                entry_order_id=request.order_id,
            )
        except (RuleError, ValueError) as error:
            raise InvalidRequest(str(error)) from None
        await self.monitor.add_trade(trade, actor=actor)
        return self._trade_view(trade)

    async def _from_order(
        self, order_id: str, book: StrategyBook
    ) -> tuple[str, str, Side, int, int, Product]:
        if any(t.entry_order_id == order_id for t in self.engine.trades()):
            raise Conflict(f"order {order_id} is already guarded by another trade")
        try:
            report = await self.broker.order_status(order_id, name_of(book.strategy_id))
        except OrderNotFound:
            raise NotFound(f"order {order_id} not found at the broker") from None
        except SessionDown:
            raise BrokerUnavailable("the broker session is down (log in to OpenAlgo)") from None
        except BrokerError as error:
            raise BrokerUnavailable(f"could not read order {order_id}: {error}") from None
        if report.status is not OrderStatus.COMPLETE:
            raise Conflict(
                f"order {order_id} is {report.status.value}, not complete: only filled orders "
                "can be guarded"
            )
        if not report.average_price:
            raise BrokerUnavailable(f"order {order_id} is complete but has no average price")
        quantity = report.filled_quantity or report.quantity
        side = Side.LONG if report.action.upper() == "BUY" else Side.SHORT
        return (
            report.symbol,
            report.exchange,
            side,
            quantity,
            report.average_price,
            product_of(report.product),
        )

    async def _instrument(self, symbol: str, exchange: str, price: int) -> Instrument:
        """Tick and lot size from the broker (cached), its tick sanity-checked against the
        entry price (the fill price for a trade from an order): some brokers report tick sizes
        100x off, and the check must not depend on a quote being available."""
        key = (symbol, exchange)
        cached = self._instruments.get(key)
        if cached is not None:
            return cached
        try:
            info = await self.broker.symbol_info(symbol, exchange, reference_price=price)
        except BrokerError as error:
            if error.status in (400, 404):  # OpenAlgo: 400; some versions and the sim: 404
                raise NotFound(f"unknown symbol {exchange}:{symbol}") from None
            raise BrokerUnavailable(f"could not look up {exchange}:{symbol}: {error}") from None
        try:
            instrument = Instrument(symbol, exchange, Decimal(info.tick_size), info.lot_size)
        except (ValueError, ArithmeticError) as error:
            raise BrokerUnavailable(
                f"unusable instrument data for {exchange}:{symbol}: {error}"
            ) from None
        self._instruments[key] = instrument
        return instrument

    async def update_trade(
        self, account: str, trade_id: str, changes: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        """Change an ACTIVE trade's rules. Refused when the new stop (or target) would already
        be beyond the last price: the change would exit at once, which is what exittrade is for."""
        trade = self._trade(account, trade_id)
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
        decisions = self.engine.update_rules(trade_id, rules, now)
        await self._commit(
            [
                self.monitor.snapshots.trade_record(trade, now),
                audit(
                    now,
                    "trade_updated",
                    trade_id,
                    actor=actor,
                    before=before,
                    after=rules_to_dict(rules),
                ),
            ]
        )
        self._dispatch(decisions)
        return self._trade_view(trade)

    async def exit_trade(self, account: str, trade_id: str, actor: str) -> dict[str, Any]:
        """Exit one trade now (ACTIVE, or a deliberate retry of an EXIT_FAILED one)."""
        trade = self._trade(account, trade_id)
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
