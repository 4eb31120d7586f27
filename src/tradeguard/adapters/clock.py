"""Adapters layer: the system clock (implements app.ports.Clock)."""

from __future__ import annotations

import asyncio
import time


class SystemClock:
    def now(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
