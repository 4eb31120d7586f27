"""Generate examples/ticks.csv: one morning of NSE ticks for the demo (deterministic).

Each symbol follows a piecewise-linear path through hand-picked waypoints plus a little
seeded noise (at most 2 ticks), one tick a minute, the four symbols staggered by 15 s. The
waypoints are chosen so examples/strategies.toml shows every kind of exit: a stop-loss
(RELIANCE), a target (INFY), a trailing stop (HDFCBANK), a breakeven stop (TATASTEEL), a time
square-off (a later HDFCBANK trade) and a portfolio stop (the SHORT trades of `meanrev`).

Run: .venv/bin/python examples/make_ticks.py > examples/ticks.csv
"""

from __future__ import annotations

import itertools
import random
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

IST = timezone(timedelta(hours=5, minutes=30))
START = datetime(2025, 3, 3, 9, 15, tzinfo=IST)  # a Monday
MINUTES = 150  # 09:15 .. 11:44
# symbol: (tick size, stagger in seconds, [(minute, price), ...])
PATHS: dict[str, tuple[str, int, list[tuple[int, str]]]] = {
    "RELIANCE": ("0.05", 0, [(0, "2900"), (15, "2912"), (50, "2926"), (85, "2866"), (150, "2880")]),
    "INFY": ("0.05", 15, [(0, "1500"), (40, "1533"), (55, "1546"), (100, "1525"), (150, "1520")]),
    "HDFCBANK": (
        "0.05",
        30,
        [(0, "1650"), (20, "1648"), (65, "1679"), (110, "1656"), (150, "1662")],
    ),
    "TATASTEEL": (
        "0.01",
        45,
        [(0, "150.00"), (45, "147.60"), (60, "147.90"), (100, "150.40"), (150, "150.80")],
    ),
}


def price_at(points: list[tuple[int, str]], minute: int) -> Decimal:
    for (m0, p0), (m1, p1) in itertools.pairwise(points):
        if m0 <= minute <= m1:
            return Decimal(p0) + (Decimal(p1) - Decimal(p0)) * (minute - m0) / (m1 - m0)
    raise ValueError(minute)


def main() -> None:
    rng = random.Random(20250303)
    rows: list[tuple[datetime, str, Decimal]] = []
    for symbol, (tick_text, stagger, points) in PATHS.items():
        tick = Decimal(tick_text)
        for minute in range(MINUTES):
            at = START + timedelta(minutes=minute, seconds=stagger)
            noise = rng.randint(-2, 2) if minute else 0
            raw = price_at(points, minute) / tick
            price = (raw.to_integral_value() + noise) * tick
            rows.append((at, symbol, price))
    rows.sort(key=lambda row: (row[0], row[1]))
    out = sys.stdout
    out.write("timestamp,symbol,exchange,ltp\n")
    for at, symbol, price in rows:
        out.write(f"{at.isoformat()},{symbol},NSE,{price:.2f}\n")


if __name__ == "__main__":
    main()
