"""Core layer: the bounds every number tradeguard accepts lies within, and the one reader of
numbers written as text.

Text numbers are ASCII decimal only: digits 0-9, an optional sign and an optional decimal
point. Python's own parsers also take Unicode digits ("١٠" is 10), underscores ("8_00" is
800) and exponents ("1e30"); a trader never means those, so they are refused. The bounds keep
every value representable in the database (64-bit integers of 1/10,000 rupee) and every view
formattable; docs/api.md lists them.
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_PRICE = Decimal(10_000_000)  # one crore rupees a unit: above any listed instrument
MAX_QUANTITY = 10_000_000
MAX_AMOUNT = Decimal(1_000_000_000_000)  # one lakh crore rupees: any fund, limit or P&L bound
MAX_POSITIONS = 10_000
MAX_HOLDING_SECONDS = 366 * 24 * 3600
PLACES = 4  # decimal places a price or amount may have (1/10,000 rupee)

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_WHOLE = re.compile(r"[+-]?[0-9]+")


def plain_decimal(text: str) -> Decimal | None:
    """`text` (surrounding spaces allowed) as a Decimal if it is an ASCII decimal number of
    at most 40 characters, else None."""
    text = text.strip()
    if len(text) > 40 or not _DECIMAL.fullmatch(text):
        return None
    return Decimal(text)


def plain_whole(text: str) -> int | None:
    """`text` as an int if it is an ASCII whole number of at most 20 digits, else None."""
    text = text.strip()
    if len(text) > 21 or not _WHOLE.fullmatch(text):
        return None
    return int(text)


def places_ok(value: Decimal) -> bool:
    """True if `value` has at most PLACES decimal places (trailing zeros do not count)."""
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -PLACES
