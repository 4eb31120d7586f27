"""Tests (core.money): the integer `fmt` writes exactly what Decimal quantization writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tradeguard.core.money import fmt, fmt_decimal


@given(
    units=st.one_of(
        st.integers(-(10**15), 10**15),
        st.integers(-20_000, 20_000),
        st.integers(-(10**6), 10**6).map(lambda n: n * 100),  # whole paise
    ),
    places=st.integers(0, 6),
)
def test_fmt_equals_the_decimal_reference(units: int, places: int) -> None:
    assert fmt(units, places) == fmt_decimal(units, places)


def test_fmt_examples() -> None:
    assert fmt(None) == "-"
    assert fmt(0) == "0.00"
    assert fmt(1_000_000) == "100.00"
    assert fmt(1_000_500) == "100.05"
    assert fmt(1_000_250) == "100.0250"
    assert fmt(-5) == "-0.0005"
    assert fmt(-10_000) == "-1.00"
    assert fmt(12_340, 0) == "1.2340"
    assert fmt(20_000, 0) == "2"
