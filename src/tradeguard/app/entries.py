"""App layer: opening a trade (createtrade), from a completed broker order (fill price and
quantity from the broker) or explicitly; the strategy's defaults, sizing and max positions
apply. An entry order still `open` is waited for (bounded: ExecutorPolicy.entry_wait), since
brokers without order push report a market order's fill seconds late.

Idempotent per (account, entry order id): a second call for an entry that a trade guards (in
any state, even closed: the database answers for closed ones) or that a call in progress is
creating is refused with DuplicateEntry (409) naming that trade. While the database cannot
answer, only open trades and calls in progress are checked; its unique index refuses a
duplicate of a closed trade's entry when the record lands (a visible refused record). The
limits are checked and the trade added as one step (no other createtrade in between), and the
trade is durable (database or journal) before it is monitored (Monitor.add_trade: NotStored,
503, and nothing created otherwise).

All accounts trade through the one OpenAlgo login: an entry order an open trade of another
account guards (or that another account is creating a trade for) is refused with a plain 409
that names neither that account nor its trade.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from decimal import Decimal

from tradeguard.app.errors import (
    BrokerUnavailable,
    Conflict,
    DuplicateEntry,
    InvalidRequest,
    NotFound,
)
from tradeguard.app.monitor import Monitor
from tradeguard.app.ports import BrokerGateway, Clock, Store
from tradeguard.app.trade_input import CreateTrade, explicit_entry, merge_rules, product_of
from tradeguard.app.views import name_of
from tradeguard.core.broker import (
    BrokerError,
    OrderNotFound,
    OrderReport,
    OrderStatus,
    SessionDown,
)
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Instrument, Product, Side
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.rules import RuleError
from tradeguard.core.sizing import Refusal, check_new_trade, size_position
from tradeguard.core.trade import Trade

log = logging.getLogger("tradeguard.service")


def new_trade_id() -> str:
    """A fresh trade id, "T" and 12 hex digits (createtrade; a partial exit's part)."""
    return f"T{uuid.uuid4().hex[:12]}"


class TradeEntries:
    """createtrade's work, for the service facade."""

    def __init__(self, monitor: Monitor, broker: BrokerGateway, store: Store, clock: Clock) -> None:
        self.monitor = monitor
        self.broker = broker
        self.store = store
        self.clock = clock
        self._instruments: dict[tuple[str, str], Instrument] = {}
        # createtrade calls in progress per (account, entry order id) -> the trade id they make
        self._entering: dict[tuple[str, str], str] = {}
        self._creating = asyncio.Lock()  # limits checked and trade added as one step

    @property
    def engine(self) -> RiskEngine:
        return self.monitor.engine

    async def create(
        self, account: str, request: CreateTrade, actor: str, book: StrategyBook
    ) -> Trade:
        """The new trade, monitored and durable; refused with a ServiceError otherwise."""
        trade_id = new_trade_id()
        if not request.order_id:
            return await self._create(account, request, actor, book, trade_id)
        entry = (account, request.order_id)
        if any(o == request.order_id and a != account for a, o in self._entering):
            raise Conflict(f"order {request.order_id} cannot be guarded by this account")
        running = self._entering.get(entry)
        if running is not None:
            raise DuplicateEntry(
                f"order {request.order_id} is being guarded already (trade {running})", running
            )
        self._entering[entry] = trade_id
        try:
            await self._refuse_known_entry(account, request.order_id)
            return await self._create(account, request, actor, book, trade_id)
        finally:
            del self._entering[entry]

    async def _refuse_known_entry(self, account: str, order_id: str) -> None:
        for trade in self.engine.trades():
            if trade.entry_order_id != order_id:
                continue
            if trade.account != account:
                # every account trades through the one OpenAlgo login: guarding another
                # account's entry would let this one exit that position. Say nothing of it.
                raise Conflict(f"order {order_id} cannot be guarded by this account")
            raise DuplicateEntry(
                f"order {order_id} is already guarded by trade {trade.trade_id}",
                trade.trade_id,
            )
        try:
            existing = await self.store.entry_trade(account, order_id)
        except Exception as error:  # database unavailable: open trades were checked above
            log.warning(
                "createtrade: could not ask the database whether order %s was guarded before "
                "(%s); going on (its unique index refuses a duplicate when the trade lands)",
                order_id,
                error,
            )
            return
        if existing is not None:
            raise DuplicateEntry(
                f"order {order_id} was guarded already by trade {existing}", existing
            )

    async def _create(
        self, account: str, request: CreateTrade, actor: str, book: StrategyBook, trade_id: str
    ) -> Trade:
        if request.order_id:
            symbol, exchange, side, quantity, price, product = await self._from_order(
                request.order_id, book
            )
        else:
            symbol, exchange, side, quantity, price, product = explicit_entry(request)
        instrument = await self._instrument(symbol, exchange, price)
        async with self._creating:
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
                    trade_id=trade_id,
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
        return trade

    async def _read_order(self, order_id: str, strategy: str) -> OrderReport:
        try:
            return await self.broker.order_status(order_id, strategy)
        except OrderNotFound:
            raise NotFound(f"order {order_id} not found at the broker") from None
        except SessionDown:
            raise BrokerUnavailable("the broker session is down (log in to OpenAlgo)") from None
        except BrokerError as error:
            raise BrokerUnavailable(f"could not read order {order_id}: {error}") from None

    async def _filled_order(self, order_id: str, strategy: str) -> OrderReport:
        """The entry order once complete. One that is still `open` (a market order whose fill
        the broker has not reported yet) is read again every `entry_poll` seconds for up to
        `entry_wait` seconds; any other status, or still open then, is refused (409)."""
        policy = self.monitor.executor.policy
        report = await self._read_order(order_id, strategy)
        waited = 0.0
        while report.status is OrderStatus.OPEN and waited < policy.entry_wait:
            await self.clock.sleep(policy.entry_poll)
            waited += policy.entry_poll
            report = await self._read_order(order_id, strategy)
        if report.status is not OrderStatus.COMPLETE:
            after = f" after waiting {waited:g}s" if waited else ""
            raise Conflict(
                f"order {order_id} is {report.status.value}, not complete{after}: only filled "
                "orders can be guarded"
            )
        return report

    async def _from_order(
        self, order_id: str, book: StrategyBook
    ) -> tuple[str, str, Side, int, int, Product]:
        report = await self._filled_order(order_id, name_of(book.strategy_id))
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
