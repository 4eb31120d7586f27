"""Adapters layer: the feed's watchdog, which notices a connected WebSocket that went silent.

OpenAlgo's proxy drops its broker adapter when the trader logs out and in again (the daily
re-login), yet keeps the client sockets open: they get no tick and no close. Only a fresh
connection gets ticks again. While the connection has delivered no tick for any subscribed
symbol for `silence_s`, every `probe_interval_s` the watchdog

- asks the proxy about its broker adapter (`get_broker_info`, in-band, no REST call); the
  feed drops the connection when the answer says `adapter_status: disconnected` (or is an
  error reply);
- quotes ONE subscribed symbol over REST (rotating through them), feeds that price through
  the tick path (it is a real price) and, when it differs from the symbol's last streamed
  price (or from the first quote of this silence), drops the connection: the market moves
  and the stream says nothing.

The feed then reconnects with its backoff (re-authenticate, re-subscribe, order updates). A
quiet market (REST quotes do not move, the adapter is there) keeps the connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tradeguard.adapters.openalgo.polling import Key, QuotesFn
from tradeguard.app.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WatchdogConfig:
    silence_s: float = 3.0
    """The whole connection silent this long (no tick for any subscribed symbol): probe."""
    probe_interval_s: float = 3.0
    """Between two probes (and two REST quotes) while it stays silent."""

    def __post_init__(self) -> None:
        if self.silence_s <= 0 or self.probe_interval_s <= 0:
            raise ValueError("watchdog silence and probe interval must be positive")


class WatchedFeed(Protocol):
    """What the watchdog needs from the feed it watches."""

    def silent_since(self) -> tuple[int, int] | None:
        """(connection id, epoch ns since which the live connection has had no tick for any
        of its subscribed symbols); None when not connected or nothing is subscribed."""
        ...

    def subscribed(self) -> list[Key]: ...

    def last_stream_price(self, symbol: str, exchange: str) -> int | None: ...

    def ingest_polled(self, prices: Mapping[Key, int], received_ns: int) -> int: ...

    async def probe_adapter(self) -> None: ...

    def drop_connection(self, reason: str) -> None: ...


class FeedWatchdog:
    """Drops a silent connection whose market moves (see the module docstring)."""

    def __init__(
        self,
        feed: WatchedFeed,
        quotes: QuotesFn | None,
        config: WatchdogConfig | None = None,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._feed = feed
        self._quotes = quotes
        self.config = config or WatchdogConfig()
        self._clock_ns = clock_ns
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._silence: tuple[int, int] | None = None  # the silence being watched
        self._baseline: dict[Key, int] = {}  # first quote of this silence, per symbol
        self._next_probe = 0
        self._turn = 0
        self.probes = 0
        self.drops = 0
        self.errors = 0
        self.last_error = ""

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="openalgo-feed-watchdog")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def check_once(self) -> str | None:
        """One look: probe when due; returns the reason when it dropped the connection."""
        now = self._clock_ns()
        silence = self._feed.silent_since()
        if silence is None or now - silence[1] < self.config.silence_s * 1e9:
            self._silence = None
            return None
        if silence != self._silence:  # a new silence: probe at once, from a fresh baseline
            self._silence, self._baseline, self._next_probe = silence, {}, now
        if now < self._next_probe:
            return None
        self._next_probe = now + int(self.config.probe_interval_s * 1e9)
        self.probes += 1
        await self._feed.probe_adapter()
        if self._quotes is None:
            return None
        keys = self._feed.subscribed()
        if not keys:
            return None
        key = keys[self._turn % len(keys)]
        self._turn += 1
        price = (await self._quotes([key])).get(key)
        if price is None or price <= 0 or self._feed.silent_since() != silence:
            return None  # no quote, or the stream spoke (or reconnected) meanwhile
        self._feed.ingest_polled({key: price}, self._clock_ns())
        base = self._baseline.setdefault(key, self._feed.last_stream_price(*key) or price)
        if price == base:
            return None
        silent_s = (self._clock_ns() - silence[1]) / 1e9
        reason = (
            f"no tick for {silent_s:.1f}s on the WebSocket while the REST quote of "
            f"{key[1]}:{key[0]} moved"
        )
        self.drops += 1
        self._feed.drop_connection(reason)
        return reason

    async def _run(self) -> None:
        step = min(self.config.silence_s, self.config.probe_interval_s) / 3
        while True:
            await self._sleep(step)
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed quote: the next look tries again
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("feed watchdog: %s", self.last_error)

    def status(self) -> dict[str, Any]:
        return {
            "silence_s": self.config.silence_s,
            "probe_interval_s": self.config.probe_interval_s,
            "probes": self.probes,
            "drops": self.drops,
            "errors": self.errors,
            "last_error": self.last_error,
        }
