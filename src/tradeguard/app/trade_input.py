"""App layer: turning a createtrade / updatetrade request into core values, or a clear
InvalidRequest: the CreateTrade request, explicit trades, products, rule overrides, the
one-click protective stops (stop to cost, lock profit), and a dry run of new rules on a copy
of a trade."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tradeguard.app.errors import InvalidRequest
from tradeguard.core import codec
from tradeguard.core.model import Product, Side
from tradeguard.core.money import MoneyError, ceil_to_tick, floor_to_tick, fmt, to_units
from tradeguard.core.rules import RuleError, TradeRules
from tradeguard.core.trade import Trade


@dataclass(frozen=True, slots=True)
class CreateTrade:
    """createtrade: from a completed order (`order_id`), or explicitly (symbol, exchange,
    action, quantity, price). `rules` overrides the strategy's defaults key by key (a key set
    to None removes that rule). Quantity 0 with an explicit trade asks the sizing rule."""

    strategy: str
    order_id: str | None = None
    symbol: str | None = None
    exchange: str | None = None
    action: str | None = None
    quantity: int | None = None
    price: Decimal | None = None
    product: str = "MIS"
    rules: Mapping[str, Any] = field(default_factory=dict)


Entry = tuple[str, str, Side, int, int, Product]


def explicit_entry(request: CreateTrade) -> Entry:
    """(symbol, exchange, side, quantity, price units, product) of an explicit trade."""
    missing = [
        name
        for name in ("symbol", "exchange", "action", "quantity", "price")
        if getattr(request, name) is None
    ]
    if missing:
        raise InvalidRequest(
            f"give an orderid, or all of symbol, exchange, action, quantity, price "
            f"(missing: {', '.join(missing)})"
        )
    action = str(request.action).upper()
    if action not in ("BUY", "SELL"):
        raise InvalidRequest(f"action must be BUY or SELL, was {request.action!r}")
    assert request.quantity is not None
    assert request.price is not None
    if request.quantity < 0:
        raise InvalidRequest("quantity cannot be negative")
    try:
        price = to_units(request.price)
    except MoneyError as error:
        raise InvalidRequest(f"price: {error}") from None
    if price <= 0:
        raise InvalidRequest("price must be positive")
    side = Side.LONG if action == "BUY" else Side.SHORT
    return (
        str(request.symbol),
        str(request.exchange),
        side,
        request.quantity,
        price,
        product_of(request.product),
    )


def product_of(raw: str) -> Product:
    try:
        return Product(str(raw).upper())
    except ValueError:
        raise InvalidRequest(f"product must be CNC, MIS or NRML, was {raw!r}") from None


def merge_rules(base: TradeRules, overrides: Mapping[str, Any]) -> TradeRules:
    """`base` with `overrides` applied key by key (None removes a rule), or InvalidRequest."""
    try:
        return codec.merge_rules(base, overrides)
    except (RuleError, MoneyError) as error:
        raise InvalidRequest(str(error)) from None


def probe(trade: Trade, rules: TradeRules) -> Trade:
    """A copy of `trade` (same entry and best price) with `rules`: its levels, nothing live."""
    try:
        return Trade(
            trade_id=trade.trade_id,
            strategy_id=trade.strategy_id,
            instrument=trade.instrument,
            side=trade.side,
            quantity=trade.quantity,
            entry_price=trade.entry_price,
            entered_at=trade.entered_at,
            rules=rules,
            best=trade.best,
        )
    except (RuleError, ValueError) as error:
        raise InvalidRequest(str(error)) from None


PROTECT_ACTIONS = ("stop_to_cost", "lock_profit")


def protective_stop(
    trade: Trade, last: int | None, action: str, percent: int = 50
) -> dict[str, Any]:
    """The rule change of a one-click protective action, as an updatetrade `rules` change: a
    PRICE stop-loss at the entry (`stop_to_cost`) or locking `percent` % of the open profit at
    the last price (`lock_profit`, rounded onto the grid towards the entry). Refused while the
    trade is not in profit: such a stop would be beyond the price and exit at once."""
    if action not in PROTECT_ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(PROTECT_ACTIONS)}, was {action!r}")
    if not 1 <= percent <= 99:
        raise InvalidRequest(f"percent must be 1 to 99, was {percent}")
    what = trade.instrument.key
    if last is None:
        raise InvalidRequest(f"no price for {what} yet: the open profit is unknown")
    sign, entry, tick = trade.sign, trade.entry_price, trade.instrument.tick
    profit = sign * (last - entry)
    if profit <= 0:
        raise InvalidRequest(
            f"the trade is not in profit (last price {fmt(last)}, entry {fmt(entry)}): a stop "
            "at or beyond the entry would exit at once"
        )
    if action == "stop_to_cost":
        stop = entry
    else:
        raw = entry + sign * Fraction(profit * percent, 100)
        stop = floor_to_tick(raw, tick) if sign > 0 else ceil_to_tick(raw, tick)
        if sign * (stop - entry) <= 0:
            raise InvalidRequest(
                f"the open profit {fmt(profit)} a unit is too small to lock {percent} % of it "
                f"on a {fmt(tick)} tick (use stop_to_cost)"
            )
    return {"stop_loss": {"type": "PRICE", "value": fmt(stop)}}
