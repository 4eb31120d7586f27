"""Adapters layer: the simulator's Action Center: orders queued in semi-auto mode.

In semi-auto mode placeorder/placesmartorder answer `pending_order_id` and place nothing; the
request waits here, `pending`, until `/sim/admin/pending` approves it (it is placed then, as
OpenAlgo places an approved order) or rejects it. A decided order stays listed with its
outcome; it cannot be decided twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any


class PendingState(Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    FAILED = "failed"  # approved, but the broker refused the order


class PendingOrderError(ValueError):
    """An approval or rejection that cannot be done: unknown id, or already decided."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class PendingOrder:
    pending_id: int
    endpoint: str  # "placeorder" | "placesmartorder"
    request: dict[str, Any]  # the validated body, without the apikey
    state: PendingState = PendingState.PENDING
    order_id: str | None = None
    message: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "pending_order_id": self.pending_id,
            "endpoint": self.endpoint,
            "request": {k: _plain(v) for k, v in self.request.items()},
            "status": self.state.value,
            "orderid": self.order_id,
            "message": self.message,
        }

    def ensure_pending(self) -> None:
        """PendingOrderError (409) if it was approved or rejected already."""
        if self.state is not PendingState.PENDING:
            raise PendingOrderError(
                f"pending order {self.pending_id} is already {self.state.value}", status=409
            )

    def decide(
        self, state: PendingState, *, order_id: str | None = None, message: str = ""
    ) -> None:
        self.ensure_pending()
        self.state, self.order_id, self.message = state, order_id, message


class ActionCenter:
    """Queued orders by pending id (1, 2, ... like OpenAlgo's)."""

    def __init__(self) -> None:
        self._orders: dict[int, PendingOrder] = {}

    def queue(self, endpoint: str, data: dict[str, Any]) -> PendingOrder:
        request = {k: v for k, v in data.items() if k != "apikey"}
        order = PendingOrder(len(self._orders) + 1, endpoint, request)
        self._orders[order.pending_id] = order
        return order

    def get(self, pending_id: int) -> PendingOrder:
        order = self._orders.get(pending_id)
        if order is None:
            raise PendingOrderError(f"no pending order {pending_id}", status=404)
        return order

    def rows(self) -> list[dict[str, Any]]:
        return [order.row() for order in self._orders.values()]


def _plain(value: Any) -> Any:
    """A request value as JSON can carry it (prices are Decimals: their exact text)."""
    return str(value) if isinstance(value, Decimal) else value
