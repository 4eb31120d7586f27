"""Adapters layer: the paper broker's books: its orders (each with its fill state) and the
order book, trade book and net positions that hold them."""

from __future__ import annotations

from dataclasses import dataclass, field

from tradeguard.adapters.sim.paper_rules import Position
from tradeguard.core.broker import FillReport, OrderReport, OrderRequest, OrderStatus

PosKey = tuple[str, str, str]


@dataclass(slots=True)
class PaperOrder:
    order_id: str
    request: OrderRequest
    status: OrderStatus
    timestamp: str
    average_price: int | None = None
    filled_quantity: int = 0
    filled_value: int = 0  # sum of part quantity x price, for the exact average
    rejection_reason: str = ""
    late: bool = False  # held by the fill-late fault
    in_parts: bool = False  # filling in parts on a timer (ticks do not fill it)

    def report(self) -> OrderReport:
        req = self.request
        return OrderReport(
            order_id=self.order_id,
            symbol=req.symbol,
            exchange=req.exchange,
            action=req.action,
            quantity=req.quantity,
            product=req.product,
            status=self.status,
            average_price=self.average_price,
            filled_quantity=self.filled_quantity,
            timestamp=self.timestamp,
            rejection_reason=self.rejection_reason,
        )


@dataclass(slots=True)
class PaperBook:
    orders: dict[str, PaperOrder] = field(default_factory=dict)
    resting: dict[str, PaperOrder] = field(default_factory=dict)  # open / trigger pending
    trades: list[FillReport] = field(default_factory=list)
    positions: dict[PosKey, Position] = field(default_factory=dict)
