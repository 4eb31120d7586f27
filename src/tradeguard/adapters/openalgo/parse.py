"""Adapters layer: OpenAlgo reply shapes -> core.broker values, strictly.

Every numeric field may be a JSON number or a numeric string (broker dependent): it is read
through Decimal (the JSON is decoded with `parse_float=Decimal`, so nothing passes through a
binary float). A field that is missing or not a number raises `ParseError`; the gateway turns it
into MalformedReply with the reply logged. Nothing is guessed: an unknown order status is OPEN,
as core.broker defines it, and that is the only default.
"""

from __future__ import annotations

import ast
import html
import json
import re
import time
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from tradeguard.core.broker import (
    FillReport,
    Funds,
    OrderReport,
    OrderStatus,
    PositionReport,
    SymbolInfo,
)
from tradeguard.core.money import SCALE, MoneyError, to_units
from tradeguard.core.sessions import ExchangeSession

_UNIT = Decimal(1) / SCALE
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


class ParseError(ValueError):
    """A reply (or a field of it) is not what the endpoint promises."""


def loads(text: str) -> Any:
    """Decode JSON keeping every number exact (floats as Decimal)."""
    return json.loads(text, parse_float=Decimal)


def decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ParseError(f"{name}: expected a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ParseError(f"{name}: not a number: {value!r}") from None
    else:
        raise ParseError(f"{name}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ParseError(f"{name}: not a finite number: {value!r}")
    return result


def units(value: Any, name: str, *, average: bool = False) -> int:
    """A price in units. Averages (weighted over fills) may carry more than 4 decimals and
    are rounded half-even to a unit; any other price must be exact."""
    amount = decimal(value, name)
    if average:
        amount = amount.quantize(_UNIT, rounding=ROUND_HALF_EVEN)
    try:
        return to_units(amount)
    except MoneyError as error:
        raise ParseError(f"{name}: {error}") from None


def integer(value: Any, name: str) -> int:
    amount = decimal(value, name)
    if amount != amount.to_integral_value():
        raise ParseError(f"{name}: not a whole number: {value!r}")
    return int(amount)


def text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # some brokers send numeric order ids
    raise ParseError(f"{name}: expected a non-empty string, got {value!r}")


def field(row: dict[str, Any], name: str) -> Any:
    if name not in row:
        raise ParseError(f"missing field {name!r}")
    return row[name]


def as_dict(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{name}: expected an object, got {type(value).__name__}")
    return value


def as_list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ParseError(f"{name}: expected a list, got {type(value).__name__}")
    return value


def _optional_units(row: dict[str, Any], name: str) -> int | None:
    raw = row.get(name)
    if raw is None or raw == "":
        return None
    return units(raw, name, average=True)


def order_report(row: Any) -> OrderReport:
    """An orderbook row or orderstatus `data`. average_price 0 on a non-complete order means
    "no fill price yet" (OpenAlgo puts 0.0 there) and becomes None."""
    row = as_dict(row, "order")
    status = OrderStatus.parse(field(row, "order_status"))
    average = _optional_units(row, "average_price")
    if average == 0:
        average = None
    filled_raw = row.get("filled_quantity")
    filled = None if filled_raw in (None, "") else integer(filled_raw, "filled_quantity")
    return OrderReport(
        order_id=text(row, "orderid"),
        symbol=text(row, "symbol"),
        exchange=text(row, "exchange"),
        action=text(row, "action").upper(),
        quantity=integer(field(row, "quantity"), "quantity"),
        product=text(row, "product"),
        status=status,
        average_price=average,
        filled_quantity=filled,
        timestamp=str(row.get("timestamp") or ""),
        rejection_reason=str(row.get("rejection_reason") or ""),
    )


def fill_report(row: Any) -> FillReport:
    row = as_dict(row, "trade")
    return FillReport(
        order_id=text(row, "orderid"),
        symbol=text(row, "symbol"),
        exchange=text(row, "exchange"),
        action=text(row, "action").upper(),
        quantity=integer(field(row, "quantity"), "quantity"),
        product=text(row, "product"),
        average_price=units(field(row, "average_price"), "average_price", average=True),
        timestamp=str(row.get("timestamp") or ""),
    )


def position_report(row: Any) -> PositionReport:
    row = as_dict(row, "position")
    average = _optional_units(row, "average_price")
    ltp_raw = row.get("ltp")
    ltp = None if ltp_raw in (None, "") else units(ltp_raw, "ltp", average=True)
    return PositionReport(
        symbol=text(row, "symbol"),
        exchange=text(row, "exchange"),
        product=text(row, "product"),
        quantity=integer(field(row, "quantity"), "quantity"),
        average_price=average or None,
        ltp=ltp or None,
    )


def symbol_info(data: Any, symbol: str, exchange: str) -> SymbolInfo:
    data = as_dict(data, "data")
    tick = decimal(field(data, "tick_size"), "tick_size")
    if tick <= 0:
        raise ParseError(f"tick_size must be positive, was {tick}")
    lot = integer(field(data, "lotsize"), "lotsize")
    if lot <= 0:
        raise ParseError(f"lotsize must be positive, was {lot}")
    units(tick, "tick_size")  # representable in units, or refuse
    return SymbolInfo(symbol, exchange, format(tick.normalize(), "f"), lot)


_FUNDS = {
    "availablecash": "available_cash",
    "collateral": "collateral",
    "m2mrealized": "m2m_realized",
    "m2munrealized": "m2m_unrealized",
    "utiliseddebits": "utilised_debits",
}
_RESET_FORMAT = "%Y-%m-%d %H:%M:%S"


def funds(data: Any, mode: Any = None) -> Funds:
    """`funds` data in either mode: live (2-dp strings) or analyzer (floats, plus
    `last_reset` "YYYY-MM-DD HH:MM:SS" and an integer `reset_count`; the reply's top level says
    `"mode": "analyze"`). Every other field must be an amount (units, rounded half-even past
    4 decimals)."""
    data = as_dict(data, "data")
    amounts = {k: units(field(data, k), k, average=True) for k in _FUNDS}
    mode = data.get("mode", "live") if mode is None else mode
    if not isinstance(mode, str):
        raise ParseError(f"mode: expected a string, got {mode!r}")
    last_reset = data.get("last_reset")
    if last_reset is not None:
        try:
            time.strptime(str(last_reset), _RESET_FORMAT)  # naive IST: checked, kept as text
        except ValueError:
            raise ParseError(f"last_reset: not YYYY-MM-DD HH:MM:SS: {last_reset!r}") from None
        last_reset = str(last_reset)
    count = data.get("reset_count")
    reset_count = None if count is None else integer(count, "reset_count")
    special = {*_FUNDS, "mode", "last_reset", "reset_count"}
    extra = {k: units(v, k, average=True) for k, v in data.items() if k not in special}
    return Funds(
        **{name: amounts[key] for key, name in _FUNDS.items()},
        mode=mode,
        last_reset=last_reset,
        reset_count=reset_count,
        extra=extra,
    )


def market_timings(data: Any) -> list[ExchangeSession]:
    """`market/timings` data: a list (empty on a weekend or holiday) of {exchange,
    start_time, end_time}, the times epoch milliseconds."""
    sessions = []
    for row in as_list(data, "data"):
        row = as_dict(row, "timing")
        start = integer(field(row, "start_time"), "start_time")
        end = integer(field(row, "end_time"), "end_time")
        sessions.append(ExchangeSession(text(row, "exchange"), start * 1_000_000, end * 1_000_000))
    return sessions


def ltp_of(data: Any, name: str) -> int | None:
    """The `ltp` of a quote's data; None when it is absent or 0 (no trade yet)."""
    data = as_dict(data, name)
    if data.get("ltp") in (None, ""):
        return None
    ltp = units(data["ltp"], f"{name}.ltp")
    return ltp if ltp > 0 else None


SMART_NOOPS = ("positions already matched", "no openposition found")
"""How OpenAlgo says a smart order placed nothing: the live service, and its sandbox when the
position is flat and the request's quantity 0 (openalgo-interface.md, placesmartorder)."""


def smart_noop(message: str) -> bool:
    """A placesmartorder success message that means "nothing to do, nothing placed"."""
    lowered = message.lower()
    return any(marker in lowered for marker in SMART_NOOPS)


def error_message(body: str) -> str:
    """The human message of an error reply: a JSON `message` (a string, a Python-str-of-dict
    or an object), or the text of an HTML page, shortened."""
    try:
        decoded = loads(body)
    except ValueError:
        return _shorten(html.unescape(_SPACE.sub(" ", _TAGS.sub(" ", body))).strip())
    if isinstance(decoded, dict) and "message" in decoded:
        return _message_text(decoded["message"])
    return _shorten(body.strip())


def _message_text(message: Any) -> str:
    if isinstance(message, dict):
        return _flatten(message)
    text_message = str(message)
    if text_message.startswith("{") and text_message.endswith("}"):
        try:  # OpenAlgo's order endpoints send str(dict) of marshmallow errors
            literal = ast.literal_eval(text_message)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return _shorten(text_message)
        if isinstance(literal, dict):
            return _flatten(literal)
    return _shorten(text_message)


def _flatten(errors: dict[Any, Any]) -> str:
    parts = []
    for key, value in errors.items():
        detail = "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{key}: {detail}")
    return _shorten(", ".join(parts))


def _shorten(text_value: str, limit: int = 300) -> str:
    return text_value if len(text_value) <= limit else text_value[: limit - 3] + "..."
