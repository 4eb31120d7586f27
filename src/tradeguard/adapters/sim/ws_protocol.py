"""Adapters layer: OpenAlgo WebSocket proxy message shapes, for the simulator's server.

Pure functions that build the proxy's replies and pushes exactly as openalgo-interface.md §3
(and the proxy's code) shape them: mode parsing, subscribe / unsubscribe on a client's
subscription set, pong, errors, `market_data` and `order_update`. No I/O here.

Faithful quirks: subscribe defaults to mode Quote; unsubscribe reads `mode` per entry (default
2) when `symbols` is a list and the top-level `mode` only in the single-symbol form; removing a
(symbol, exchange, mode) that is not subscribed still answers "success" and changes nothing;
entries without a symbol or exchange are skipped silently.
"""

from __future__ import annotations

import time
from typing import Any

from tradeguard.core.broker import OrderReport, OrderStatus
from tradeguard.core.money import from_units

VALID_EXCHANGES = frozenset(
    {
        "NSE", "NFO", "CDS", "BSE", "BFO", "BCD", "MCX", "NCDEX", "NCO",
        "NSE_INDEX", "BSE_INDEX", "MCX_INDEX", "GLOBAL_INDEX", "CRYPTO",
    }
)  # fmt: skip
MODE_LABELS = {1: "LTP", 2: "Quote", 3: "Depth"}
_MODE_BY_LABEL = {label.upper(): mode for mode, label in MODE_LABELS.items()}
_DATA_MODE = {1: "ltp", 2: "quote", 3: "full"}

Sub = tuple[str, str, int]
Message = dict[str, Any]


def parse_mode(raw: object) -> int:
    """OpenAlgo's mode_utils: 1/2/3 or case-insensitive LTP/Quote/Depth; anything else fails."""
    if isinstance(raw, bool):
        raise ValueError(f"Invalid mode: {raw!r}")
    if isinstance(raw, int) and raw in MODE_LABELS:
        return raw
    if isinstance(raw, str):
        text = raw.strip().upper()
        if text in _MODE_BY_LABEL:
            return _MODE_BY_LABEL[text]
        if text.isdigit() and int(text) in MODE_LABELS:
            return int(text)
    raise ValueError(f"Invalid mode: {raw!r}. Use 1/2/3 or LTP/Quote/Depth")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def rupees(units: int | None) -> float:
    return float(from_units(units)) if units else 0.0


def error(code: str, message: str) -> Message:
    """The proxy's error shape: no `type` field."""
    return {"status": "error", "code": code, "message": message}


def with_request_id(message: Message, request: Message) -> Message:
    """Echo `request_id` only when the request carried one."""
    if request.get("request_id") is not None:
        message["request_id"] = request["request_id"]
    return message


def auth_success(broker: str, user_id: str) -> Message:
    return {
        "type": "auth",
        "status": "success",
        "message": "Authentication successful",
        "broker": broker,
        "user_id": user_id,
        "supported_features": {"ltp": True, "quote": True, "depth": True},
    }


def pong(request: Message) -> Message:
    reply: Message = {"type": "pong", "status": "success", "server_timestamp": now_ms()}
    if request.get("timestamp") is not None:
        reply["client_timestamp"] = request["timestamp"]
    if request.get("_pingId") is not None:
        reply["_pingId"] = request["_pingId"]
    return reply


def entries(request: Message) -> list[tuple[str, str, Message]]:
    """(symbol, exchange, entry) from a `symbols` list or the single-symbol form."""
    raw = request.get("symbols")
    if not raw and request.get("symbol") and request.get("exchange"):
        raw = [{"symbol": request["symbol"], "exchange": request["exchange"]}]
    if not isinstance(raw, list):
        return []
    out: list[tuple[str, str, Message]] = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        symbol, exchange = entry.get("symbol"), entry.get("exchange")
        if isinstance(symbol, str) and symbol and isinstance(exchange, str) and exchange:
            out.append((symbol, exchange, entry))
    return out


def subscribe(subs: set[Sub], request: Message, broker: str) -> Message:
    """Apply a subscribe request to `subs`; return the reply (or an error message)."""
    try:
        mode = parse_mode(request.get("mode", "Quote"))
    except ValueError as exc:
        return error("INVALID_MODE", str(exc))
    items = entries(request)
    if not items:
        return error("INVALID_PARAMETERS", "At least one symbol must be specified")
    depth = request.get("depth", 5)
    results: list[Message] = []
    ok = True
    for symbol, exchange, _entry in items:
        if exchange not in VALID_EXCHANGES:
            ok = False
            results.append(
                {
                    "symbol": symbol,
                    "exchange": exchange,
                    "status": "error",
                    "message": f"Invalid exchange: {exchange}",
                    "broker": broker,
                }
            )
            continue
        subs.add((symbol, exchange, mode))
        results.append(
            {
                "symbol": symbol,
                "exchange": exchange,
                "status": "success",
                "mode": MODE_LABELS[mode],
                "depth": depth,
                "broker": broker,
            }
        )
    reply = {
        "type": "subscribe",
        "status": "success" if ok else "partial",
        "subscriptions": results,
        "message": "Subscription processing complete",
        "broker": broker,
    }
    return with_request_id(reply, request)


def unsubscribe(subs: set[Sub], request: Message, broker: str) -> Message:
    """Apply unsubscribe / unsubscribe_all to `subs`; return the reply (or an error)."""
    done: list[Message] = []
    failed: list[Message] = []
    if "unsubscribe_all" in (request.get("action"), request.get("type")):
        done = [_entry(symbol, exchange, broker) for symbol, exchange, _ in sorted(subs)]
        subs.clear()
    else:
        single = not isinstance(request.get("symbols"), list)
        items = entries(request)
        if not items:
            return error("INVALID_PARAMETERS", "Either symbols or unsubscribe_all is required")
        for symbol, exchange, entry in items:
            raw_mode = request.get("mode", 2) if single else entry.get("mode", 2)
            try:
                mode = parse_mode(raw_mode)
            except ValueError as exc:
                failed.append(_entry(symbol, exchange, broker, error=str(exc)))
                continue
            subs.discard((symbol, exchange, mode))
            done.append(_entry(symbol, exchange, broker))
    status = "success"
    if failed:
        status = "partial" if done else "error"
    reply = {
        "type": "unsubscribe",
        "status": status,
        "message": "Unsubscription processing complete",
        "successful": done,
        "failed": failed,
        "broker": broker,
    }
    return with_request_id(reply, request)


def _entry(symbol: str, exchange: str, broker: str, error: str | None = None) -> Message:
    entry: Message = {"symbol": symbol, "exchange": exchange, "status": "success"}
    if error is not None:
        entry.update(status="error", message=error)
    entry["broker"] = broker
    return entry


def orders_reply(subscribed: bool, request: Message) -> Message:
    if subscribed:
        reply = {
            "type": "subscribe_orders",
            "status": "success",
            "message": "Subscribed to order updates",
        }
    else:
        reply = {
            "type": "unsubscribe_orders",
            "status": "success",
            "message": "Unsubscribed from order updates",
        }
    return with_request_id(reply, request)


def market_data(
    symbol: str, exchange: str, mode: int, ltp_units: int, ts_ms: int, broker: str
) -> Message:
    """A tick as the proxy forwards it: top-level symbol/exchange and the client's mode."""
    data: Message = {
        "symbol": symbol,
        "exchange": exchange,
        "mode": _DATA_MODE[mode],
        "ltp": rupees(ltp_units),
        "ltt": ts_ms,
        "timestamp": ts_ms,
    }
    if mode >= 2:
        data["volume"] = 0
    if mode == 3:
        data["depth"] = {"buy": [], "sell": []}
    return {
        "type": "market_data",
        "symbol": symbol,
        "exchange": exchange,
        "mode": mode,
        "broker": broker,
        "data": data,
    }


def order_update(report: OrderReport, user_id: str, broker: str) -> Message:
    """An order report in the `order_update` shape (every key always present)."""
    if report.filled_quantity is not None:
        filled = report.filled_quantity
    else:
        filled = report.quantity if report.status is OrderStatus.COMPLETE else 0
    pending = 0 if report.status.is_final else max(report.quantity - filled, 0)
    return {
        "type": "order_update",
        "user_id": user_id,
        "mode": "live",
        "broker": broker,
        "orderid": report.order_id,
        "symbol": report.symbol,
        "exchange": report.exchange,
        "action": report.action,
        "quantity": report.quantity,
        "price": 0.0,
        "trigger_price": 0.0,
        "pricetype": "MARKET",
        "product": report.product,
        "order_status": report.status.value,
        "filled_quantity": filled,
        "pending_quantity": pending,
        "average_price": rupees(report.average_price),
        "rejection_reason": report.rejection_reason,
    }
