"""Tick CSV reader: formats accepted, and every bad file refused with the right line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.adapters.replay.ticks_csv import TickFileError, parse_ticks, read_ticks
from tradeguard.core.model import Tick

HEADER = "timestamp,symbol,exchange,ltp\n"
# 2025-03-03 09:15:00 IST = 03:45:00 UTC
T0 = 1_740_973_500 * 1_000_000_000


def parse(text: str) -> list[Tick]:
    return parse_ticks(text.splitlines(keepends=True), source="t.csv")


def test_reads_every_timestamp_form_as_the_same_instant() -> None:
    ticks = parse(
        HEADER
        + "2025-03-03T09:15:00+05:30,RELIANCE,NSE,2900.05\n"
        + "2025-03-03T03:45:00Z,RELIANCE,NSE,2900.10\n"
        + "2025-03-03 09:15:00,RELIANCE,NSE,2900\n"
        + "1740973500000,INFY,NSE,1500.1234\n"
        + "\n"
    )
    assert [t.exchange_ts for t in ticks] == [T0] * 4
    assert [t.ltp for t in ticks] == [29_000_500, 29_001_000, 29_000_000, 15_001_234]
    assert ticks[3] == Tick("INFY", "NSE", 15_001_234, T0)


def test_keeps_sub_second_precision_and_column_order() -> None:
    ticks = parse(
        "ltp,exchange,symbol,timestamp\n"
        "10.5,NSE,SBIN,2025-03-03T09:15:00.250+05:30\n"
        "10.55,NSE,SBIN,1740973500251\n"
    )
    assert ticks == [
        Tick("SBIN", "NSE", 105_000, T0 + 250_000_000),
        Tick("SBIN", "NSE", 105_500, T0 + 251_000_000),
    ]


def test_read_ticks_reads_a_file_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text("\ufeff" + HEADER + "2025-03-03T09:15:00+05:30,A,NSE,1\n", encoding="utf-8")
    assert read_ticks(path) == [Tick("A", "NSE", 10_000, T0)]


OK = "2025-03-03T09:15:00+05:30,RELIANCE,NSE,2900\n"
LATER = "2025-03-03T09:16:00+05:30,RELIANCE,NSE,2901\n"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "empty file"),
        (HEADER, 1, "no ticks"),
        ("timestamp,symbol,ltp\n" + OK, 1, "missing exchange"),
        ("timestamp,symbol,exchange,ltp,volume\n" + OK, 1, "unexpected 'volume'"),
        (HEADER + OK + "2025-03-03T09:16:00+05:30,RELIANCE,NSE\n", 3, "expected 4 fields"),
        (HEADER + OK + LATER + "2025-03-03T09:17:00+05:30,X,NSE,1,2\n", 4, "was 5"),
        (HEADER + "2025-03-32T09:15:00+05:30,RELIANCE,NSE,2900\n", 2, "timestamp"),
        (HEADER + OK + "yesterday,RELIANCE,NSE,2900\n", 3, "timestamp"),
        (HEADER + "2025-03-03,RELIANCE,NSE,2900\n", 2, "time of day"),
        (HEADER + "1740973500,RELIANCE,NSE,2900\n", 2, "milliseconds"),
        (HEADER + OK + "2025-03-03T09:16:00+05:30,RELIANCE,NSE,abc\n", 3, "not a number"),
        (HEADER + OK + LATER + "2025-03-03T09:17:00+05:30,RELIANCE,NSE,-5\n", 4, "positive"),
        (HEADER + "2025-03-03T09:15:00+05:30,RELIANCE,NSE,0\n", 2, "positive"),
        (HEADER + "2025-03-03T09:15:00+05:30,RELIANCE,NSE,100.12345\n", 2, "4 decimal"),
        (HEADER + OK + "2025-03-03T09:15:00+05:30,,NSE,1\n", 3, "must not be empty"),
        (HEADER + OK + LATER + "2025-03-03T09:15:30+05:30,RELIANCE,NSE,2900\n", 4, "backwards"),
        (HEADER + OK + "\n" + "2025-03-03T09:14:59+05:30,INFY,NSE,1500\n", 4, "backwards"),
    ],
)
def test_bad_file_names_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(TickFileError) as caught:
        parse(text)
    assert caught.value.line == line
    assert f"t.csv, line {line}: " in str(caught.value)
    assert fragment in str(caught.value)


def test_equal_timestamps_are_allowed() -> None:
    ticks = parse(HEADER + OK + OK.replace("RELIANCE", "INFY"))
    assert [t.symbol for t in ticks] == ["RELIANCE", "INFY"]
