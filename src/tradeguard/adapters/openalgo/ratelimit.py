"""Adapters layer: a local async rate limiter matching OpenAlgo's per-IP buckets.

OpenAlgo counts requests per client IP in a moving window, separately for orders, smart orders
and everything else, and that budget is shared with every client on the host. We stay under it
locally (with a small safety margin on the window) and serve waiters by priority: exits and
order-resolution reads (HIGH) before polling reads (LOW). LOW callers may only use the part of
a bucket not reserved for HIGH, so an exit always finds headroom however busy polling is.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum


class Priority(IntEnum):
    HIGH = 0
    LOW = 1


# Bucket names, as OpenAlgo's limiter splits them.
ORDERS = "order"
SMART_ORDERS = "smart_order"
API = "api"


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Requests per `window_s` per bucket; `margin_s` widens our window so network jitter
    cannot squeeze more than `limit` of our calls into the server's window;
    `reserved_high` is the share of the API bucket LOW callers may not use."""

    orders: int = 10
    smart_orders: int = 10
    api: int = 50
    window_s: float = 1.0
    margin_s: float = 0.05
    reserved_high: int = 10

    def limit(self, bucket: str) -> int:
        return {ORDERS: self.orders, SMART_ORDERS: self.smart_orders}.get(bucket, self.api)


class _WindowBucket:
    def __init__(self, limit: int, window: float, reserved: int, clock: Callable[[], float]):
        self.limit = limit
        self.window = window
        self.low_cap = max(1, limit - reserved)
        self.clock = clock
        self.sent: deque[float] = deque()
        self.waiters: list[tuple[int, int]] = []
        self.cond = asyncio.Condition()
        self.seq = itertools.count()

    def _cap(self, priority: int) -> int:
        return self.limit if priority == Priority.HIGH else self.low_cap

    def _prune(self, now: float) -> None:
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()

    async def acquire(self, priority: int) -> None:
        entry = (priority, next(self.seq))
        async with self.cond:
            heapq.heappush(self.waiters, entry)
            try:
                while True:
                    now = self.clock()
                    self._prune(now)
                    cap = self._cap(priority)
                    first = self.waiters[0] == entry
                    if first and len(self.sent) < cap:
                        heapq.heappop(self.waiters)
                        self.sent.append(now)
                        self.cond.notify_all()
                        return
                    timeout = None
                    if first:  # wait until enough old sends leave the window
                        timeout = max(0.0, self.sent[len(self.sent) - cap] + self.window - now)
                    try:
                        async with asyncio.timeout(timeout):
                            await self.cond.wait()
                    except TimeoutError:
                        pass
            except BaseException:
                if entry in self.waiters:
                    self.waiters.remove(entry)
                    heapq.heapify(self.waiters)
                    self.cond.notify_all()
                raise


class RateLimiter:
    """One moving-window bucket per OpenAlgo limit; `acquire` waits for a slot."""

    def __init__(
        self, config: RateLimitConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or RateLimitConfig()
        window = self.config.window_s + self.config.margin_s
        self._buckets = {
            ORDERS: _WindowBucket(self.config.orders, window, 0, clock),
            SMART_ORDERS: _WindowBucket(self.config.smart_orders, window, 0, clock),
            API: _WindowBucket(self.config.api, window, self.config.reserved_high, clock),
        }

    async def acquire(self, bucket: str, priority: Priority = Priority.HIGH) -> None:
        await self._buckets[bucket].acquire(priority)
