"""Adapters layer: the simulator's request schemas, strict like OpenAlgo's marshmallow ones.

Unknown fields are errors (`["Unknown field."]`), required fields say
`["Missing data for required field."]`, numbers may be JSON numbers or numeric strings (never
booleans). `validate` returns (clean data, errors); errors map a field to a list of messages,
exactly the dict OpenAlgo puts in a 400's `message`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

EXCHANGES = (
    "NSE", "NFO", "CDS", "BSE", "BFO", "BCD", "MCX", "NCDEX", "NCO",
    "NSE_INDEX", "BSE_INDEX", "MCX_INDEX", "GLOBAL_INDEX", "CRYPTO",
)  # fmt: skip
PRODUCTS = ("MIS", "NRML", "CNC")
PRICETYPES = ("MARKET", "LIMIT", "SL", "SL-M")
ACTIONS = ("BUY", "SELL")

MISSING = "Missing data for required field."
Converter = Callable[[Any], Any]


class FieldError(ValueError):
    """A value that does not fit its field; the text is the message shown to the client."""


@dataclass(frozen=True, slots=True)
class Field:
    convert: Converter
    required: bool = False
    default: Any = None


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("Not a valid string.")
    return value


def one_of(*choices: str, upper: bool = False) -> Converter:
    def convert(value: Any) -> str:
        raw = text(value)
        candidate = raw.upper() if upper else raw
        if candidate not in choices:
            raise FieldError(f"Must be one of: {', '.join(choices)}.")
        return candidate

    return convert


def number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FieldError("Not a valid number.")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError("Not a valid number.") from None
    if not result.is_finite():
        raise FieldError("Not a valid number.")
    return result


def integer(value: Any) -> int:
    try:
        result = number(value)
    except FieldError:
        raise FieldError("Not a valid integer.") from None
    if result != result.to_integral_value():
        raise FieldError("Not a valid integer.")
    return int(result)


def quantity(*, allow_zero: bool) -> Converter:
    def convert(value: Any) -> int:
        amount = number(value)
        if amount < 0 or (amount == 0 and not allow_zero):
            raise FieldError("Quantity must be a positive number.")
        if amount != amount.to_integral_value():
            raise FieldError("Quantity must be a whole number.")
        return int(amount)

    return convert


def non_negative(value: Any) -> Decimal:
    amount = number(value)
    if amount < 0:
        raise FieldError("Must be greater than or equal to 0.")
    return amount


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError("Not a valid boolean.")
    return value


def symbol_list(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise FieldError("Shorter than minimum length 1.")
    items = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"symbol", "exchange"}:
            raise FieldError("Each item needs exactly symbol and exchange.")
        if not isinstance(item.get("symbol"), str) or not isinstance(item.get("exchange"), str):
            raise FieldError("Each item needs exactly symbol and exchange.")
        items.append((item["symbol"], item["exchange"]))
    return items


Schema = dict[str, Field]

APIKEY_ONLY: Schema = {"apikey": Field(text, required=True)}

_ORDER_COMMON: Schema = {
    "apikey": Field(text, required=True),
    "strategy": Field(text, required=True),
    "exchange": Field(one_of(*EXCHANGES), required=True),
    "symbol": Field(text, required=True),
    "action": Field(one_of(*ACTIONS, upper=True), required=True),
    "pricetype": Field(one_of(*PRICETYPES), default="MARKET"),
    "product": Field(one_of(*PRODUCTS), default="MIS"),
    "price": Field(non_negative, default=Decimal(0)),
    "trigger_price": Field(non_negative, default=Decimal(0)),
    "disclosed_quantity": Field(integer, default=0),
}

PLACE_ORDER: Schema = {
    **_ORDER_COMMON,
    "quantity": Field(quantity(allow_zero=False), required=True),
    "underlying_ltp": Field(number),
}

PLACE_SMART_ORDER: Schema = {
    **_ORDER_COMMON,
    "quantity": Field(quantity(allow_zero=True), required=True),
    "position_size": Field(number, required=True),
}

ORDER_STATUS: Schema = {
    "apikey": Field(text, required=True),
    "strategy": Field(text, required=True),
    "orderid": Field(text, required=True),
}

CANCEL_ORDER = ORDER_STATUS

CLOSE_POSITION: Schema = {
    "apikey": Field(text, required=True),
    "strategy": Field(text, required=True),
}

OPEN_POSITION: Schema = {
    "apikey": Field(text, required=True),
    "strategy": Field(text, required=True),
    "symbol": Field(text, required=True),
    "exchange": Field(text, required=True),
    "product": Field(one_of(*PRODUCTS), required=True),
}

QUOTES: Schema = {
    "apikey": Field(text, required=True),
    "symbol": Field(text, required=True),
    "exchange": Field(one_of(*EXCHANGES), required=True),
}

SYMBOL = QUOTES

MULTI_QUOTES: Schema = {
    "apikey": Field(text, required=True),
    "symbols": Field(symbol_list, required=True),
}


MARKET_TIMINGS: Schema = {
    "apikey": Field(text, required=True),
    "date": Field(text, required=True),
}

ANALYZER_TOGGLE: Schema = {
    "apikey": Field(text, required=True),
    "mode": Field(boolean, required=True),
}


def validate(schema: Schema, body: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check a JSON body against a schema: (clean data, errors by field)."""
    if not isinstance(body, dict):
        return {}, {"_schema": ["Invalid input type."]}
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for name in body:
        if name not in schema:
            errors[name] = ["Unknown field."]
    for name, spec in schema.items():
        if name not in body or body[name] is None:
            if spec.required:
                errors[name] = [MISSING]
            else:
                clean[name] = spec.default
            continue
        try:
            clean[name] = spec.convert(body[name])
        except FieldError as error:
            errors[name] = [str(error)]
    return clean, errors
