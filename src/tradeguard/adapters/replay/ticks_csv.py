"""Adapters layer: read a recorded tick file (CSV) into core Ticks, refusing bad files whole.

Format: a header line ``timestamp,symbol,exchange,ltp`` (these four columns, any order), then
one tick per line, sorted by time (equal times are allowed; a time going backwards is not).

* ``timestamp``: ISO-8601 with an offset, ISO-8601 without one (read as IST), or epoch
  milliseconds (see timestamps.py);
* ``symbol``, ``exchange``: OpenAlgo's names, e.g. ``RELIANCE``, ``NSE``;
* ``ltp``: the last traded price in rupees, positive, at most 4 decimal places.

Blank lines are skipped. The whole file is checked before anything runs: the first problem
raises TickFileError naming the file and the line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from tradeguard.adapters.replay.timestamps import format_ist, parse_timestamp
from tradeguard.core.model import Tick
from tradeguard.core.money import MoneyError, to_units

COLUMNS = ("timestamp", "symbol", "exchange", "ltp")


class TickFileError(ValueError):
    """A tick file that cannot be replayed. `line` is 1-based (the header is line 1)."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}, line {line}: {message}")
        self.source = source
        self.line = line
        self.reason = message


def read_ticks(path: str | Path) -> list[Tick]:
    """Read and validate a whole tick file. Raises TickFileError or OSError."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return parse_ticks(handle, source=str(path))


def parse_ticks(lines: Iterable[str], *, source: str = "<ticks>") -> list[Tick]:
    """Parse CSV text lines (header first) into Ticks; see the module docstring."""
    reader = csv.reader(lines)
    header = _read_header(reader, source)
    index = [header.index(name) for name in COLUMNS]
    ticks: list[Tick] = []
    last_ts: int | None = None
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise TickFileError(
                source,
                line,
                f"expected {len(header)} fields ({','.join(header)}), was {len(row)}",
            )
        raw_ts, symbol, exchange, raw_ltp = (row[i].strip() for i in index)
        try:
            ts = parse_timestamp(raw_ts)
        except ValueError as error:
            raise TickFileError(source, line, f"timestamp: {error}") from None
        if not symbol or not exchange:
            raise TickFileError(source, line, "symbol and exchange must not be empty")
        ltp = _price(raw_ltp, source, line)
        if last_ts is not None and ts < last_ts:
            raise TickFileError(
                source,
                line,
                f"time goes backwards ({format_ist(ts)} after {format_ist(last_ts)}); "
                "sort the file by timestamp",
            )
        last_ts = ts
        ticks.append(Tick(symbol, exchange, ltp, ts))
    if not ticks:
        raise TickFileError(source, max(reader.line_num, 1), "no ticks after the header")
    return ticks


def _read_header(reader: Iterable[list[str]], source: str) -> list[str]:
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        header = [cell.strip().lower() for cell in row]
        line = getattr(reader, "line_num", 1)
        missing = [name for name in COLUMNS if name not in header]
        extra = [name for name in header if name not in COLUMNS]
        if missing or extra or len(set(header)) != len(header):
            details = []
            if missing:
                details.append(f"missing {', '.join(missing)}")
            if extra:
                details.append(f"unexpected {', '.join(repr(e) for e in extra)}")
            if not details:
                details.append("a column appears twice")
            raise TickFileError(
                source,
                line,
                f"header must be {','.join(COLUMNS)} ({'; '.join(details)})",
            )
        return header
    raise TickFileError(source, 1, f"empty file (expected the header {','.join(COLUMNS)})")


def _price(raw: str, source: str, line: int) -> int:
    try:
        units = to_units(raw)
    except MoneyError as error:
        raise TickFileError(source, line, f"ltp: {error}") from None
    if units <= 0:
        raise TickFileError(source, line, f"ltp must be positive, was {raw}")
    return units
