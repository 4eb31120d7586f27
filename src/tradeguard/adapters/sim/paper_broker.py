"""Adapters layer: the paper broker, an in-process BrokerGateway (the "verified fake").

It keeps what a broker keeps: an order book, a trade book and net positions per
(symbol, exchange, product) with signed quantity, average price and realized P&L (paper_book).
This module validates and accepts orders and answers for the books; when an order fills is
the fill engine's job (paper_fills.FillEngine: MARKET at the last price, LIMIT when crossed,
SL-M/SL `trigger pending` until a tick crosses the trigger). `place_smart_order` follows
OpenAlgo's decision table (openalgo-interface.md §2.2) exactly, including the 0/0 case.

Fault hooks: `reject_next` (at submit: a 400-style RejectedError; or after acceptance: the order
goes `open` then `rejected`, like an RMS rejection) and `set_fill_late` (orders are accepted as
`open` and complete only when `release_late_fills()` is called: "accept and report later").
Order ids are a counter rendered as numeric strings, so runs are deterministic.

Timing (`BrokerClock`, set by `/sim/admin/timing`): the books of positions and trades change at
once, but what orderstatus/orderbook say (and when order updates are pushed) goes through
`OrderReports`, which may report late or only when polled; a MARKET order may fill in parts
over time (its average price the exact weighted average, rounded to a money unit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from fractions import Fraction

from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.order_reports import OrderListener, OrderReports
from tradeguard.adapters.sim.paper_book import PaperBook, PaperOrder
from tradeguard.adapters.sim.paper_fills import FillEngine
from tradeguard.adapters.sim.paper_rules import (
    MATCHED,
    smart_order_decision,
    validate_order,
)
from tradeguard.adapters.sim.timing import BrokerClock
from tradeguard.core.broker import (
    FillReport,
    OrderNotFound,
    OrderReport,
    OrderRequest,
    OrderStatus,
    PlaceResult,
    PositionReport,
    RejectedError,
    SmartOrderRequest,
    SymbolInfo,
)
from tradeguard.core.money import from_units, to_units

log = logging.getLogger(__name__)


_IST = timezone(timedelta(hours=5, minutes=30))


@dataclass(slots=True)
class _Faults:
    reject_count: int = 0
    reject_message: str = "RMS: order rejected by the paper broker"
    reject_at_submit: bool = True
    fill_late: bool = False


class PaperBroker:
    """An in-process broker over a SimMarket. Implements app.ports.BrokerGateway."""

    def __init__(
        self,
        market: SimMarket,
        *,
        starting_cash: int = to_units(10_000_000),
        id_base: int = 26_000_000_000_000,
        clock_ms: Callable[[], int] | None = None,
        timing: BrokerClock | None = None,
    ) -> None:
        self._market = market
        self._cash = starting_cash
        self._next_id = id_base
        self._clock_ms = clock_ms
        self._faults = _Faults()
        self.timing = timing or BrokerClock()
        self._reports = OrderReports(self.timing)
        self.on_change: Callable[[], None] | None = None  # after every order change or fill
        self._fills = FillEngine(
            market, self.timing, notify=self._notify, timestamp=self._timestamp
        )

    # -- listeners and faults ----------------------------------------------------------------

    def add_order_listener(self, callback: OrderListener) -> None:
        """Hear order changes when the broker reports them (see OrderReports)."""
        self._reports.add_listener(callback)

    def remove_order_listener(self, callback: OrderListener) -> None:
        self._reports.remove_listener(callback)

    @property
    def reports(self) -> OrderReports:
        return self._reports

    def reject_next(self, count: int, message: str = "", *, at_submit: bool = True) -> None:
        """Reject the next `count` orders: at submit (RejectedError, nothing in the book) or
        after acceptance (the order goes open, then rejected with `message`)."""
        self._faults.reject_count = max(0, count)
        if message:
            self._faults.reject_message = message
        self._faults.reject_at_submit = at_submit

    def set_fill_late(self, enabled: bool) -> None:
        """While on, orders that would fill are accepted as open and held until
        `release_late_fills()`."""
        self._faults.fill_late = enabled

    @property
    def fill_late(self) -> bool:
        return self._faults.fill_late

    def release_late_fills(self) -> list[str]:
        """Fill every held order that is still marketable; returns the order ids filled."""
        return self._fills.release_late()

    # -- its books, saved and restored by adapters.sim.sim_state ----------------------------

    @property
    def book(self) -> PaperBook:
        return self._fills.book

    @property
    def last_order_id(self) -> int:
        return self._next_id

    def restore(self, book: PaperBook, last_order_id: int) -> None:
        """Take over saved books (before any order and listener): order ids go on from
        `last_order_id`; every order is in the order book as it was."""
        self._fills.book = book
        self._next_id = max(self._next_id, last_order_id)
        for order in book.orders.values():
            self._reports.changed(order.report())

    # -- BrokerGateway -----------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> PlaceResult:
        return PlaceResult(self.submit(request))

    async def place_smart_order(self, request: SmartOrderRequest) -> PlaceResult:
        order = smart_order_decision(request, self.net_quantity(request))
        if order is None:
            return PlaceResult(None, MATCHED)
        return PlaceResult(self.submit(order))

    async def order_status(self, order_id: str, strategy: str) -> OrderReport:
        report = self._reports.visible(order_id)
        if report is None:
            raise OrderNotFound(f"Order {order_id} not found", status=404)
        return report

    async def order_book(self) -> list[OrderReport]:
        return self._reports.book()

    async def trade_book(self) -> list[FillReport]:
        return list(self._fills.book.trades)

    async def open_position(self, symbol: str, exchange: str, product: str, strategy: str) -> int:
        pos = self.position(symbol, exchange, product)
        return 0 if pos is None else pos.quantity

    async def position_book(self) -> list[PositionReport]:
        rows = []
        for (symbol, exchange, product), pos in self._fills.book.positions.items():
            rows.append(
                PositionReport(
                    symbol=symbol,
                    exchange=exchange,
                    product=product,
                    quantity=pos.quantity,
                    average_price=round(pos.average),
                    ltp=self._market.last_price(symbol, exchange),
                )
            )
        return rows

    async def quotes(self, symbols: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        prices = {}
        for symbol, exchange in symbols:
            price = self._market.last_price(symbol, exchange)
            if price is not None:
                prices[(symbol, exchange)] = price
        return prices

    async def symbol_info(
        self, symbol: str, exchange: str, *, reference_price: int | None = None
    ) -> SymbolInfo:
        """The market's own instrument data (the exchange: nothing to sanity-check)."""
        if not self._market.knows(symbol, exchange):
            raise RejectedError(f"Symbol '{symbol}' not found for exchange '{exchange}'")
        tick = from_units(self._market.tick_size(symbol, exchange))
        return SymbolInfo(symbol, exchange, str(tick), self._market.lot_size(symbol, exchange))

    async def ping(self) -> None:
        return None

    # -- more broker operations (the REST server uses these) ----------------------------------

    def order_request(self, order_id: str) -> OrderRequest | None:
        order = self._fills.book.orders.get(order_id)
        return None if order is None else order.request

    def net_quantity(self, request: SmartOrderRequest | OrderRequest) -> int:
        pos = self._fills.book.positions.get((request.symbol, request.exchange, request.product))
        return 0 if pos is None else pos.quantity

    def position(self, symbol: str, exchange: str, product: str) -> PositionReport | None:
        pos = self._fills.book.positions.get((symbol, exchange, product))
        if pos is None:
            return None
        return PositionReport(symbol, exchange, product, pos.quantity, round(pos.average))

    def realized_pnl(self, symbol: str, exchange: str, product: str) -> Fraction:
        pos = self._fills.book.positions.get((symbol, exchange, product))
        return Fraction(0) if pos is None else pos.realized

    def cancel(self, order_id: str) -> None:
        order = self._fills.book.orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"Order {order_id} not found", status=404)
        if order.status.is_final:
            raise RejectedError(f"Order {order_id} is {order.status.value}, cannot cancel")
        self._fills.set_status(order, OrderStatus.CANCELLED)

    def close_all(self, strategy: str = "Squareoff") -> list[str]:
        """Flatten every non-zero position with opposite MARKET orders (closeposition)."""
        ids = []
        for (symbol, exchange, product), pos in list(self._fills.book.positions.items()):
            if pos.quantity:
                action = "SELL" if pos.quantity > 0 else "BUY"
                request = OrderRequest(
                    symbol, exchange, action, abs(pos.quantity), product, strategy
                )
                try:
                    ids.append(self.submit(request))
                except RejectedError as error:
                    log.warning("square-off of %s:%s failed: %s", symbol, exchange, error)
        return ids

    def funds(self) -> dict[str, int]:
        """Units: availablecash, collateral, m2mrealized, m2munrealized, utiliseddebits."""
        realized = Fraction(0)
        unrealized = Fraction(0)
        used = Fraction(0)
        for (symbol, exchange, _product), pos in self._fills.book.positions.items():
            realized += pos.realized
            if pos.quantity:
                ltp = self._market.last_price(symbol, exchange) or round(pos.average)
                unrealized += (ltp - pos.average) * pos.quantity
                used += abs(pos.quantity) * pos.average
        return {
            "availablecash": round(self._cash + realized - used),
            "collateral": 0,
            "m2mrealized": round(realized),
            "m2munrealized": round(unrealized),
            "utiliseddebits": round(used),
        }

    def submit(self, request: OrderRequest) -> str:
        """Validate, accept and (if possible) fill an order. Returns its id, or raises
        RejectedError for a rejection at submit."""
        action = request.action.upper()
        request = replace(request, action=action, pricetype=request.pricetype.upper())
        validate_order(request)
        ltp = self._market.last_price(request.symbol, request.exchange)
        if request.pricetype == "MARKET" and ltp is None:
            raise RejectedError(
                f"Cannot place MARKET order for {request.symbol} - unable to fetch current price",
                status=400,
            )
        faults = self._faults
        if faults.reject_count and faults.reject_at_submit:
            faults.reject_count -= 1
            raise RejectedError(faults.reject_message, status=400, detail=faults.reject_message)
        pending = request.pricetype in ("SL", "SL-M")
        order = PaperOrder(
            order_id=self._new_id(),
            request=request,
            status=OrderStatus.TRIGGER_PENDING if pending else OrderStatus.OPEN,
            timestamp=self._timestamp(),
        )
        self._fills.book.orders[order.order_id] = order
        self._fills.book.resting[order.order_id] = order
        self._notify(order)
        if faults.reject_count:
            faults.reject_count -= 1
            order.rejection_reason = faults.reject_message
            self._fills.set_status(order, OrderStatus.REJECTED)
        elif faults.fill_late:
            order.late = True
        elif not pending:
            self._fills.try_fill(order, ltp)
        else:
            self._fills.try_trigger(order, ltp)
        return order.order_id

    # -- internals ---------------------------------------------------------------------------

    def _notify(self, order: PaperOrder) -> None:
        self._reports.changed(order.report())
        if self.on_change is not None:
            self.on_change()

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _timestamp(self) -> str:
        ms = self._clock_ms() if self._clock_ms else int(datetime.now(_IST).timestamp() * 1000)
        return datetime.fromtimestamp(ms / 1000, _IST).strftime("%d-%b-%Y %H:%M:%S")
