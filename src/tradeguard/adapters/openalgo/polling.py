"""Adapters layer: REST quote polling that keeps monitoring alive while the WebSocket is blind.

While the feed is disconnected, every subscribed symbol is polled; while it is connected, only
the symbols whose stream has been silent longer than `stale_after_s`. Each poll is one call of
the injected `quotes(symbols)` coroutine (the REST gateway's, which owns OpenAlgo's rate
limiter and gives exits priority) for at most `max_symbols_per_poll` symbols, the longest
unpriced first, so a large watch list is covered in rotation. Polls are `interval_s` apart:
that pair is the rate budget. Results go through the feed's tick path stamped with the local
receive time (REST quotes carry no timestamp). A failing poll is logged and retried next time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tradeguard.app.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Key = tuple[str, str]
QuotesFn = Callable[[Sequence[Key]], Awaitable[dict[Key, int]]]
"""quotes(symbols) -> {(symbol, exchange): ltp units}; symbols without a quote are absent."""


@dataclass(frozen=True, slots=True)
class PollingConfig:
    interval_s: float = 2.0
    stale_after_s: float = 10.0
    max_symbols_per_poll: int = 50

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.stale_after_s <= 0 or self.max_symbols_per_poll < 1:
            raise ValueError("polling interval, staleness and batch size must be positive")


class PolledFeed(Protocol):
    """What the fallback needs from the feed it covers for."""

    @property
    def connected(self) -> bool: ...

    def subscribed(self) -> list[Key]: ...

    def stale_symbols(self, now_ns: int, threshold_s: float) -> list[Key]: ...

    def last_tick_at(self, symbol: str, exchange: str) -> int | None: ...

    def ingest_polled(self, prices: Mapping[Key, int], received_ns: int) -> int: ...


class PollingFallback:
    """Polls quotes for blind symbols every `interval_s` (see the module docstring)."""

    def __init__(
        self,
        feed: PolledFeed,
        quotes: QuotesFn,
        config: PollingConfig | None = None,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._feed = feed
        self._quotes = quotes
        self.config = config or PollingConfig()
        self._clock_ns = clock_ns
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.active = False
        self.polls = 0
        self.polled_ticks = 0
        self.errors = 0
        self.last_error = ""

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="openalgo-polling")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self.active = False

    def blind_symbols(self, now_ns: int) -> list[Key]:
        """The symbols to poll now, longest unpriced first, at most one batch."""
        if self._feed.connected:
            keys = self._feed.stale_symbols(now_ns, self.config.stale_after_s)
        else:
            keys = self._feed.subscribed()

        def age(key: Key) -> int:
            return self._feed.last_tick_at(*key) or 0

        return sorted(keys, key=age)[: self.config.max_symbols_per_poll]

    async def poll_once(self) -> int:
        """One poll: quote the blind symbols and feed the prices as ticks. Returns ticks fed."""
        keys = self.blind_symbols(self._clock_ns())
        self.active = bool(keys)
        if not keys:
            return 0
        self.polls += 1
        prices = await self._quotes(keys)
        fed = self._feed.ingest_polled(prices, self._clock_ns())
        self.polled_ticks += fed
        missing = len(keys) - len(prices)
        if missing > 0:
            log.debug("quote poll: %d of %d symbols had no quote", missing, len(keys))
        return fed

    async def _run(self) -> None:
        while True:
            await self._sleep(self.config.interval_s)
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("quote poll failed: %s", self.last_error)

    def status(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "interval_s": self.config.interval_s,
            "stale_after_s": self.config.stale_after_s,
            "polls": self.polls,
            "polled_ticks": self.polled_ticks,
            "errors": self.errors,
            "last_error": self.last_error,
        }
