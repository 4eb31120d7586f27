"""Tests: a manual clock implementing app.ports.Clock (time moves only when a test says so).

`advance(seconds)` moves time and wakes every sleeper that is due. With `autojump=True`, a
sleep advances the clock by itself (trio's autojump clock): retries and back-offs run at once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

NS = 1_000_000_000


class ManualClock:
    def __init__(self, start_ns: int, *, autojump: bool = False) -> None:
        self._now = start_ns
        self.autojump = autojump
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.slept: list[float] = []

    def now(self) -> int:
        return self._now

    def now_ms(self) -> int:
        return self._now // 1_000_000

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.autojump:
            self.advance(seconds)
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + int(seconds * NS), next(self._seq), future))
        await future

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * NS)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())
