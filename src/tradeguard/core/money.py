"""Core layer: exact money. Prices and amounts are integers of 1/10,000 rupee ("units").

Integers keep the tick path fast and exact; Decimal and Fraction appear only at the edges and
when a level is recomputed. Four decimal places cover every Indian tick size (CDS trades in
0.0025); a price with more precision is refused, never rounded silently.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction

SCALE = 10_000
_SCALE_DECIMAL = Decimal(SCALE)


class MoneyError(ValueError):
    """A price or amount that cannot be represented exactly."""


def to_units(value: Decimal | int | str) -> int:
    """Convert a rupee value to integer units, refusing anything finer than 1/10,000."""
    if isinstance(value, bool):
        raise MoneyError(f"expected a number, was {value!r}")
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MoneyError(f"not a number: {value!r}") from None
    if not dec.is_finite():
        raise MoneyError(f"not a finite number: {value!r}")
    scaled = dec * _SCALE_DECIMAL
    integral = scaled.to_integral_value()
    if scaled != integral:
        raise MoneyError(f"{value} has more than 4 decimal places")
    return int(integral)


def from_units(units: int) -> Decimal:
    """Convert integer units back to a rupee Decimal (exact)."""
    return Decimal(units).scaleb(-4).normalize() if units else Decimal(0)


def fmt(units: int | None, places: int = 2) -> str:
    """Format units as rupees with at least `places` decimals (more if the value needs them):
    1000000 -> "100.00", 1000250 -> "100.0250". Integer arithmetic (views format a dozen
    amounts per trade on every change); the same text as `fmt_decimal`, proved by hypothesis
    in tests/unit/core/test_money_format.py."""
    if units is None:
        return "-"
    if not 0 <= places <= 4:
        return fmt_decimal(units, places)
    whole, rest = divmod(-units if units < 0 else units, SCALE)
    sign = "-" if units < 0 else ""
    coarse = _COARSE[places]
    if rest % coarse:
        return f"{sign}{whole}.{rest:04d}"
    if places == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{rest // coarse:0{places}d}"


_COARSE = (10_000, 1_000, 100, 10, 1)  # units in one step of the last of `places` decimals


def fmt_decimal(units: int, places: int = 2) -> str:
    """fmt by Decimal quantization: the reference, and any `places` outside 0..4."""
    dec = Decimal(units).scaleb(-4)
    shown = dec.quantize(Decimal(1).scaleb(-places))
    if shown != dec:
        shown = dec.quantize(Decimal("0.0001"))
    return f"{shown}"


def percent_of(base_units: int, percent: Fraction) -> Fraction:
    """`percent`% of `base_units`, exact."""
    return base_units * percent / 100


def ceil_to_tick(value: Fraction | int, tick: int) -> int:
    """Smallest multiple of `tick` that is >= value."""
    if type(value) is int:  # integer math: no new Fraction on the common paths
        return -(-value // tick) * tick
    if type(value) is Fraction:
        return -(-value.numerator // (value.denominator * tick)) * tick
    return math.ceil(Fraction(value) / tick) * tick


def floor_to_tick(value: Fraction | int, tick: int) -> int:
    """Largest multiple of `tick` that is <= value."""
    if type(value) is int:
        return value // tick * tick
    if type(value) is Fraction:
        return value.numerator // (value.denominator * tick) * tick
    return math.floor(Fraction(value) / tick) * tick
