"""Adapters layer: OpenAlgo WebSocket proxy wire shapes (openalgo-interface.md §3) for the feed.

Requests: subscribe in LTP mode with the `symbols` list key; unsubscribe with `mode` inside
every entry (a top-level mode is ignored by the proxy when `symbols` is a list).

`market_data`: symbol and exchange from the top level (never `data.mode`); `data.ltp` as a float
or string becomes integer units through `Decimal(str(x))`; time from `data.ltt`, else
`data.timestamp` (epoch ms; a value small enough to be seconds is read as seconds), else the
local receive time. Other quote/depth fields are ignored. A non-positive price is refused: a
zero LTP (no trade yet) must never reach a stop-loss.

`order_update`: every key of the event into a core.broker.OrderReport, plus the dedupe key
(orderid, order_status, filled_quantity). Anything malformed raises FeedMessageError.
"""

from __future__ import annotations

import json
import logging
import math
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from tradeguard.core.broker import OrderReport, OrderStatus
from tradeguard.core.model import Tick
from tradeguard.core.money import MoneyError, to_units

LTP_MODE = 1
BATCH = 100
Key = tuple[str, str]
_SECONDS_BELOW = 100_000_000_000  # epoch values under 1e11 are seconds (ms would be 1973)
_FOUR_PLACES = Decimal("0.0001")
_FLOAT_NOISE = Decimal("0.000001")


class FeedMessageError(ValueError):
    """A pushed message that cannot be turned into a tick or an order report."""


def price_units(raw: object, *, field: str = "ltp") -> int:
    """A wire price (float, int or numeric string) as integer units, exactly.

    A float carrying binary noise beyond 4 decimals (e.g. 0.30000000000000004) is rounded to
    4 places; a string with more than 4 decimals is refused (it was sent that way)."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise FeedMessageError(f"{field} is not a number: {raw!r}")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise FeedMessageError(f"{field} is not finite: {raw!r}")
    try:
        dec = Decimal(str(raw).strip())
    except InvalidOperation:
        raise FeedMessageError(f"{field} is not a number: {raw!r}") from None
    try:
        return to_units(dec)
    except MoneyError:
        rounded = dec.quantize(_FOUR_PLACES, rounding=ROUND_HALF_EVEN)
        if isinstance(raw, float) and abs(dec - rounded) < _FLOAT_NOISE:
            return to_units(rounded)
        raise FeedMessageError(f"{field} has more than 4 decimals: {raw!r}") from None


def epoch_ns(raw: object) -> int | None:
    """Epoch milliseconds (or seconds) as epoch ns; None when absent or unusable."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0:
        return None
    if value < _SECONDS_BELOW:
        return int(value * 1_000_000_000)
    return int(value * 1_000_000)


def _text(msg: Mapping[str, Any], key: str) -> str:
    value = msg.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FeedMessageError(f"missing {key}")
    return value.strip()


def parse_market_data(msg: Mapping[str, Any], received_ns: int) -> Tick:
    """A `market_data` push as a Tick (ltp in units, exchange_ts in epoch ns)."""
    symbol = _text(msg, "symbol")
    exchange = _text(msg, "exchange")
    data = msg.get("data")
    if not isinstance(data, Mapping):
        raise FeedMessageError("market_data without a data object")
    ltp = price_units(data.get("ltp"))
    if ltp <= 0:
        raise FeedMessageError(f"non-positive ltp {data.get('ltp')!r}")
    ts = epoch_ns(data.get("ltt")) or epoch_ns(data.get("timestamp")) or received_ns
    return Tick(symbol, exchange, ltp, ts)


def _quantity(raw: object, field: str) -> int:
    if raw is None or isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise FeedMessageError(f"{field} is not a number: {raw!r}")
    try:
        dec = Decimal(str(raw).strip())
    except InvalidOperation:
        raise FeedMessageError(f"{field} is not a number: {raw!r}") from None
    if not dec.is_finite() or dec != dec.to_integral_value() or dec < 0:
        raise FeedMessageError(f"{field} is not a whole quantity: {raw!r}")
    return int(dec)


OrderKey = tuple[str, str, int | None]


def parse_order_update(msg: Mapping[str, Any]) -> tuple[OrderReport, OrderKey]:
    """An `order_update` push as an OrderReport and its dedupe key."""
    order_id = msg.get("orderid")
    if order_id is None or isinstance(order_id, bool) or str(order_id).strip() == "":
        raise FeedMessageError("order_update without an orderid")
    raw_status = msg.get("order_status")
    if raw_status is None or str(raw_status).strip() == "":
        raise FeedMessageError("order_update without an order_status")
    filled_raw = msg.get("filled_quantity")
    filled = None if filled_raw in (None, "") else _quantity(filled_raw, "filled_quantity")
    avg_raw = msg.get("average_price")
    average = None if avg_raw in (None, "") else price_units(avg_raw, field="average_price")
    report = OrderReport(
        order_id=str(order_id).strip(),
        symbol=_text(msg, "symbol"),
        exchange=_text(msg, "exchange"),
        action=_text(msg, "action").upper(),
        quantity=_quantity(msg.get("quantity"), "quantity"),
        product=_text(msg, "product").upper(),
        status=OrderStatus.parse(raw_status),
        average_price=average if average else None,
        filled_quantity=filled,
        rejection_reason=str(msg.get("rejection_reason") or ""),
    )
    key = (report.order_id, str(raw_status).strip().lower(), filled)
    return report, key


class RecentKeys:
    """A bounded memory of recently seen keys: `seen(key)` is True for a repeat."""

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def seen(self, key: Hashable) -> bool:
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._keys)


def subscribe_message(keys: Iterable[Key], request_id: str) -> dict[str, Any]:
    return {
        "action": "subscribe",
        "symbols": [{"symbol": s, "exchange": e} for s, e in keys],
        "mode": LTP_MODE,
        "request_id": request_id,
    }


def unsubscribe_message(keys: Iterable[Key], request_id: str) -> dict[str, Any]:
    return {
        "action": "unsubscribe",
        "symbols": [{"symbol": s, "exchange": e, "mode": LTP_MODE} for s, e in keys],
        "request_id": request_id,
    }


def refused_entries(reply: Mapping[str, Any]) -> dict[Key, str]:
    """The entries of a subscribe reply that failed, with the proxy's reason."""
    entries = reply.get("subscriptions")
    refused: dict[Key, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("status") == "error":
            key = (str(entry.get("symbol")), str(entry.get("exchange")))
            refused[key] = str(entry.get("message", "subscription failed"))
    return refused


def json_object(raw: str | bytes) -> dict[str, Any] | None:
    """A frame as a JSON object, or None."""
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return msg if isinstance(msg, dict) else None


def batches(keys: Iterable[Key], size: int = BATCH) -> list[list[Key]]:
    items = list(keys)
    return [items[i : i + size] for i in range(0, len(items), size)]


class _NoFrameLogs(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets logs every frame at DEBUG, the authenticate frame and its key included."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


def quiet_ws_logger(name: str) -> logging.LoggerAdapter:  # type: ignore[type-arg]
    """A logger for websockets that never has DEBUG (frame logging) enabled."""
    return _NoFrameLogs(logging.getLogger(name), {})
