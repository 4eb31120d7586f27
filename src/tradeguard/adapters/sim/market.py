"""Adapters layer: the simulator's market: last prices, a seeded random walk, CSV replay.

Prices are integer units (core.money). Every price change, whichever its source (walk step,
replay row, `set_price`), goes to the tick listeners as `(symbol, exchange, ltp_units, ts_ms)`.
The random walk is deterministic for a given seed: the same seed and the same step calls give
the same prices. `run()` is the asyncio task that steps each walking symbol at its tick rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tradeguard.app.tasks import cancel_and_wait
from tradeguard.core.money import to_units

log = logging.getLogger(__name__)

TickListener = Callable[[str, str, int, int], None]
"""callback(symbol, exchange, ltp_units, ts_ms)"""

Key = tuple[str, str]
MAX_STEP_RETURN = 0.1
"""The largest drift or volatility of one walk step (10 % of the price, 1000 basis points)."""


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class WalkConfig:
    """One symbol's random walk. Prices in units; drift and volatility are per step (one tick),
    as a fraction of the price: a step's return is `drift + volatility * N(0, 1)`, so drift is
    the mean and volatility the standard deviation of a step's return. Per second, the mean
    return is `drift * tick_rate` and its standard deviation `volatility * sqrt(tick_rate)`."""

    start_price: int
    drift: float = 0.0
    volatility: float = 0.001
    tick_size: int = 500  # 0.05 rupee
    tick_rate: float = 2.0  # steps per second
    lot_size: int = 1

    def __post_init__(self) -> None:
        if self.start_price <= 0 or self.tick_size <= 0:
            raise ValueError("start_price and tick_size must be positive")
        if not math.isfinite(self.tick_rate) or self.tick_rate <= 0:
            raise ValueError("tick_rate must be a positive number")
        if not math.isfinite(self.volatility) or not 0 <= self.volatility <= MAX_STEP_RETURN:
            raise ValueError(f"volatility must be within 0..{MAX_STEP_RETURN} per step")
        if not math.isfinite(self.drift) or abs(self.drift) > MAX_STEP_RETURN:
            raise ValueError(f"drift must be within -{MAX_STEP_RETURN}..{MAX_STEP_RETURN} per step")


@dataclass(slots=True)
class Quote:
    """Day statistics of one symbol, as OpenAlgo's quotes endpoint shows them."""

    ltp: int
    open: int
    high: int
    low: int
    prev_close: int
    volume: int = 0
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class ReplayRow:
    ts_ms: int
    symbol: str
    exchange: str
    ltp: int


class SimMarket:
    """Last prices per (symbol, exchange), fed by a random walk, a replay file or tests."""

    def __init__(self, *, seed: int = 0, clock_ms: Callable[[], int] = _wall_ms) -> None:
        self._rng = random.Random(seed)
        self._clock_ms = clock_ms
        self._quotes: dict[Key, Quote] = {}
        self._walks: dict[Key, WalkConfig] = {}
        self._tick_sizes: dict[Key, int] = {}
        self._lot_sizes: dict[Key, int] = {}
        self._listeners: list[TickListener] = []
        self._tasks: list[asyncio.Task[None]] = []

    # -- listeners -------------------------------------------------------------------------

    def add_tick_listener(self, callback: TickListener) -> None:
        self._listeners.append(callback)

    def remove_tick_listener(self, callback: TickListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    # -- instruments and prices --------------------------------------------------------------

    def add_symbol(self, symbol: str, exchange: str, walk: WalkConfig) -> None:
        """Register a walking symbol and publish its start price."""
        key = (symbol, exchange)
        self._walks[key] = walk
        self._tick_sizes[key] = walk.tick_size
        self._lot_sizes[key] = walk.lot_size
        self.set_price(symbol, exchange, walk.start_price)

    def set_instrument(self, symbol: str, exchange: str, *, tick_size: int, lot_size: int) -> None:
        self._tick_sizes[(symbol, exchange)] = tick_size
        self._lot_sizes[(symbol, exchange)] = lot_size

    def set_price(self, symbol: str, exchange: str, units: int, ts_ms: int | None = None) -> None:
        """Set the last price and tell every tick listener."""
        if units <= 0:
            raise ValueError(f"price must be positive, was {units}")
        ts = self._clock_ms() if ts_ms is None else ts_ms
        key = (symbol, exchange)
        quote = self._quotes.get(key)
        if quote is None:
            self._quotes[key] = Quote(units, units, units, units, units, 0, ts)
        else:
            quote.ltp = units
            quote.high = max(quote.high, units)
            quote.low = min(quote.low, units)
            quote.volume += 1
            quote.ts_ms = ts
        for listener in list(self._listeners):
            try:
                listener(symbol, exchange, units, ts)
            except Exception:
                log.exception("tick listener failed for %s:%s", symbol, exchange)

    def last_price(self, symbol: str, exchange: str) -> int | None:
        quote = self._quotes.get((symbol, exchange))
        return None if quote is None else quote.ltp

    def quote(self, symbol: str, exchange: str) -> Quote | None:
        return self._quotes.get((symbol, exchange))

    def tick_size(self, symbol: str, exchange: str) -> int:
        return self._tick_sizes.get((symbol, exchange), 500)

    def lot_size(self, symbol: str, exchange: str) -> int:
        return self._lot_sizes.get((symbol, exchange), 1)

    def walk(self, symbol: str, exchange: str) -> WalkConfig | None:
        """The random walk of a walking symbol (None for a symbol moved only by hand)."""
        return self._walks.get((symbol, exchange))

    def knows(self, symbol: str, exchange: str) -> bool:
        return (symbol, exchange) in self._quotes

    def symbols(self) -> list[Key]:
        return sorted(self._quotes)

    # -- random walk -------------------------------------------------------------------------

    def step(self, symbol: str, exchange: str) -> int:
        """One random-walk step of a walking symbol; returns the new price (units)."""
        key = (symbol, exchange)
        walk = self._walks[key]
        price = self._quotes[key].ltp
        ret = walk.drift + walk.volatility * self._rng.gauss(0.0, 1.0)
        ticks = round(price * (1.0 + ret) / walk.tick_size)  # an unchanged price is a tick too
        new_price = max(walk.tick_size, int(ticks) * walk.tick_size)
        self.set_price(symbol, exchange, new_price)
        return new_price

    def step_all(self) -> None:
        for symbol, exchange in sorted(self._walks):
            self.step(symbol, exchange)

    async def run(self) -> None:
        """Step every walking symbol at its tick rate until cancelled."""
        loop = asyncio.get_running_loop()
        due = {key: loop.time() + 1.0 / walk.tick_rate for key, walk in self._walks.items()}
        while True:
            if not due:
                await asyncio.sleep(0.1)
                due = {k: loop.time() + 1.0 / w.tick_rate for k, w in self._walks.items()}
                continue
            key = min(due, key=lambda k: due[k])
            delay = due[key] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if key in self._walks:
                self.step(*key)
                due[key] += 1.0 / self._walks[key].tick_rate
            for added in self._walks.keys() - due.keys():
                due[added] = loop.time() + 1.0 / self._walks[added].tick_rate

    def start(self) -> asyncio.Task[None]:
        task = asyncio.create_task(self.run(), name="sim-market-walk")
        self._tasks.append(task)
        return task

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(*tasks)

    # -- replay ------------------------------------------------------------------------------

    @staticmethod
    def load_replay(path: str | Path) -> list[ReplayRow]:
        """Read a tick file with columns timestamp,symbol,exchange,ltp (timestamp: epoch ms
        or ISO 8601 with an offset; ltp in rupees). Rows are returned sorted by time."""
        with Path(path).open(newline="", encoding="utf-8") as handle:
            return parse_replay(csv.DictReader(handle))

    def replay_now(self, rows: Iterable[ReplayRow]) -> int:
        """Publish replay rows immediately, in order (tests, fast back-tests)."""
        count = 0
        for row in rows:
            self.set_price(row.symbol, row.exchange, row.ltp, row.ts_ms)
            count += 1
        return count

    async def replay(
        self, rows: list[ReplayRow], *, speed: float = 1.0, restamp: bool = False
    ) -> int:
        """Publish replay rows paced by their timestamps (divided by `speed`; 0 = no pacing).

        `restamp`: ticks carry the market clock's time instead of the file's (a live feed)."""
        previous: int | None = None
        for row in rows:
            if speed > 0 and previous is not None and row.ts_ms > previous:
                await asyncio.sleep((row.ts_ms - previous) / 1000.0 / speed)
            elif speed <= 0:
                await asyncio.sleep(0)  # unpaced, but let the loop breathe between ticks
            previous = row.ts_ms
            self.set_price(row.symbol, row.exchange, row.ltp, None if restamp else row.ts_ms)
        return len(rows)


def parse_replay(records: Iterable[dict[str, str]]) -> list[ReplayRow]:
    rows: list[ReplayRow] = []
    for number, record in enumerate(records, start=2):
        try:
            rows.append(
                ReplayRow(
                    ts_ms=_parse_ts(record["timestamp"]),
                    symbol=record["symbol"].strip(),
                    exchange=record["exchange"].strip(),
                    ltp=to_units(record["ltp"]),
                )
            )
        except (KeyError, ValueError, AttributeError) as error:
            raise ValueError(f"replay line {number}: {error}") from None
    rows.sort(key=lambda row: row.ts_ms)
    return rows


def _parse_ts(raw: str) -> int:
    text = raw.strip()
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return math.floor(moment.timestamp() * 1000)
