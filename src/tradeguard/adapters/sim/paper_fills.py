"""Adapters layer: the paper broker's fill engine: when an accepted order triggers and fills.

A MARKET order fills at the last price (in parts over time when `BrokerClock` says so); a
LIMIT fills at the last price when marketable and otherwise rests until a tick crosses it,
then fills at its limit; SL-M/SL rest as `trigger pending` until a tick crosses the trigger
(an SL then rests as a LIMIT). A fill changes the position and the trade book at once; the
order is complete once all of it is filled. It works on the books it is given (`book`).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.paper_book import PaperBook, PaperOrder
from tradeguard.adapters.sim.paper_rules import Position
from tradeguard.adapters.sim.timing import BrokerClock
from tradeguard.core.broker import FillReport, OrderStatus


class FillEngine:
    """Fills the orders of `book` against `market`; `notify` hears every order change."""

    def __init__(
        self,
        market: SimMarket,
        timing: BrokerClock,
        *,
        notify: Callable[[PaperOrder], None],
        timestamp: Callable[[], str],
    ) -> None:
        self.book = PaperBook()
        self._market = market
        self._timing = timing
        self._notify = notify
        self._timestamp = timestamp
        market.add_tick_listener(self._on_tick)

    def release_late(self) -> list[str]:
        """Fill every held (fill-late) order that is still marketable; returns their ids."""
        filled: list[str] = []
        for order in list(self.book.resting.values()):
            if order.late and order.status is OrderStatus.OPEN:
                order.late = False
                if self.try_fill(order, self._market.last_price(*_sym(order))):
                    filled.append(order.order_id)
        return filled

    def _on_tick(self, symbol: str, exchange: str, ltp: int, ts_ms: int) -> None:
        for order in list(self.book.resting.values()):
            req = order.request
            if order.late or order.in_parts or (req.symbol, req.exchange) != (symbol, exchange):
                continue
            if order.status is OrderStatus.TRIGGER_PENDING:
                self.try_trigger(order, ltp)
            elif order.status is OrderStatus.OPEN:
                self.try_fill(order, ltp, resting=True)

    def try_trigger(self, order: PaperOrder, ltp: int | None) -> None:
        req = order.request
        if ltp is None:
            return
        hit = ltp >= req.trigger_price if req.action == "BUY" else ltp <= req.trigger_price
        if not hit:
            return
        if req.pricetype == "SL-M":
            self._fill(order, ltp)
            return
        order.status = OrderStatus.OPEN  # SL triggered: now a resting LIMIT at `price`
        if not self.try_fill(order, ltp):
            self._notify(order)

    def try_fill(self, order: PaperOrder, ltp: int | None, *, resting: bool = False) -> bool:
        """Fill if marketable: at the last price, except a resting LIMIT crossed by a later
        tick, which fills at its limit (like OpenAlgo's sandbox)."""
        req = order.request
        if ltp is None:
            return False
        if req.pricetype == "MARKET" and not resting and self._timing.config.partial_fills > 1:
            self._fill_in_parts(order, ltp)
            return True
        if req.pricetype in ("MARKET", "SL-M"):
            self._fill(order, ltp)
            return True
        marketable = ltp <= req.price if req.action == "BUY" else ltp >= req.price
        if not marketable:
            return False
        self._fill(order, req.price if resting else ltp)
        return True

    def set_status(self, order: PaperOrder, status: OrderStatus) -> None:
        order.status = status
        if status.is_final:
            self.book.resting.pop(order.order_id, None)
        self._notify(order)

    def _fill_in_parts(self, order: PaperOrder, ltp: int) -> None:
        """Fill the first part now and the others one `partial_interval_ms` apart, each at
        the price of its moment; a cancelled order takes no more parts."""
        config = self._timing.config
        quantity = order.request.quantity
        parts = min(config.partial_fills, quantity)
        sizes = [quantity // parts + (1 if i < quantity % parts else 0) for i in range(parts)]
        order.in_parts = True
        self._fill(order, ltp, sizes[0])
        interval = config.partial_interval_ms / 1000

        for step, size in enumerate(sizes[1:], start=1):
            self._timing.timer.call_later(interval * step, self._part_filler(order, size, ltp))

    def _part_filler(self, order: PaperOrder, size: int, first: int) -> Callable[[], None]:
        def fill_part() -> None:
            if order.status is OrderStatus.OPEN:
                price = self._market.last_price(*_sym(order))
                self._fill(order, first if price is None else price, size)

        return fill_part

    def _fill(self, order: PaperOrder, price: int, quantity: int | None = None) -> None:
        """Fill `quantity` (default: all that is left) at `price`: the position and the trade
        book change now; the order is complete once all of it is filled."""
        req = order.request
        quantity = req.quantity - order.filled_quantity if quantity is None else quantity
        signed = quantity if req.action == "BUY" else -quantity
        key = (req.symbol, req.exchange, req.product)
        self.book.positions.setdefault(key, Position()).apply(signed, price)
        order.filled_quantity += quantity
        order.filled_value += quantity * price
        order.average_price = round(Fraction(order.filled_value, order.filled_quantity))
        stamp = self._timestamp()
        self.book.trades.append(
            FillReport(
                order.order_id,
                req.symbol,
                req.exchange,
                req.action,
                quantity,
                req.product,
                price,
                stamp,
            )
        )
        if order.filled_quantity >= req.quantity:
            self.set_status(order, OrderStatus.COMPLETE)
        else:
            self._notify(order)


def _sym(order: PaperOrder) -> tuple[str, str]:
    return order.request.symbol, order.request.exchange
