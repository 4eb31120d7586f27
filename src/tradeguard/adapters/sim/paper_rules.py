"""Adapters layer: the paper broker's rules: position netting, order validation and
OpenAlgo's placesmartorder decision table (openalgo-interface.md §2.2), as pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tradeguard.core.broker import OrderRequest, RejectedError, SmartOrderRequest

MATCHED = "Positions Already Matched. No Action needed."
_ACTIONS = ("BUY", "SELL")
_PRICETYPES = ("MARKET", "LIMIT", "SL", "SL-M")
_PRODUCTS = ("MIS", "NRML", "CNC")


@dataclass(slots=True)
class Position:
    quantity: int = 0
    average: Fraction = Fraction(0)
    realized: Fraction = Fraction(0)

    def apply(self, signed_qty: int, price: int) -> None:
        """Net a fill into the position (weighted average; realized P&L on reduction)."""
        qty = self.quantity
        if qty == 0 or (qty > 0) == (signed_qty > 0):
            total = abs(qty) + abs(signed_qty)
            self.average = (self.average * abs(qty) + Fraction(price) * abs(signed_qty)) / total
            self.quantity = qty + signed_qty
            return
        closing = min(abs(qty), abs(signed_qty))
        direction = 1 if qty > 0 else -1
        self.realized += closing * (Fraction(price) - self.average) * direction
        self.quantity = qty + signed_qty
        if self.quantity == 0:
            self.average = Fraction(0)
        elif (self.quantity > 0) != (qty > 0):  # crossed zero: the rest opens at this price
            self.average = Fraction(price)


def smart_order_decision(request: SmartOrderRequest, current: int) -> OrderRequest | None:
    """OpenAlgo's placesmartorder table (§2.2): the order to place, or None for no action."""
    target = request.position_size
    if target == 0 and current == 0:
        if request.quantity <= 0:
            return None
        action, quantity = request.action.upper(), request.quantity
    elif target == 0:
        action, quantity = ("SELL", current) if current > 0 else ("BUY", -current)
    elif current == 0:
        action, quantity = ("BUY", target) if target > 0 else ("SELL", -target)
    elif target > current:
        action, quantity = "BUY", target - current
    elif target < current:
        action, quantity = "SELL", current - target
    else:
        return None
    return OrderRequest(
        symbol=request.symbol,
        exchange=request.exchange,
        action=action,
        quantity=quantity,
        product=request.product,
        strategy=request.strategy,
        pricetype=request.pricetype,
    )


def validate_order(request: OrderRequest) -> None:
    """Refuse what a broker refuses at submit (RejectedError, status 400)."""
    problems = []
    if request.action not in _ACTIONS:
        problems.append(f"action must be BUY or SELL, was {request.action!r}")
    if request.pricetype not in _PRICETYPES:
        problems.append(f"pricetype {request.pricetype!r} is not supported")
    if request.product not in _PRODUCTS:
        problems.append(f"product {request.product!r} is not supported")
    if request.quantity <= 0:
        problems.append("Quantity must be a positive number.")
    if request.pricetype in ("LIMIT", "SL") and request.price <= 0:
        problems.append(f"{request.pricetype} order needs a positive price")
    if request.pricetype in ("SL", "SL-M") and request.trigger_price <= 0:
        problems.append(f"{request.pricetype} order needs a positive trigger_price")
    if problems:
        raise RejectedError("; ".join(problems), status=400)
