"""Adapters layer: makes sure the database worker thread gets the interpreter lock while the
event loop is saturated.

CPython hands its lock (GIL) to a waiting thread only when the holder has kept it for a whole
switch interval (5 ms), and a holder that releases and retakes it voluntarily restarts the
waiter's timer each time. A busy event loop does exactly that (every loop iteration polls
its sockets, releasing the lock for the system call), so a worker thread that needs the lock
back after every SQLite call can wait for seconds: a 1,000-row flush took 2.8 s that way, and
an exit intent queued behind it turned the store "degraded" on a healthy database.

The remedy is cooperative: while the worker has had work for longer than `after` without a
heartbeat, a loop timer (every `period`) sleeps `pause`, giving up the lock long enough for the
worker to wake and take it. When the worker is idle or keeps up, the timer does nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Heartbeat:
    """What the worker thread reports: busy or not, and when it last moved on."""

    __slots__ = ("at", "busy")

    def __init__(self) -> None:
        self.busy = False
        self.at = time.monotonic()

    def beat(self, busy: bool = True) -> None:
        self.busy = busy
        self.at = time.monotonic()


class LockHandoff:
    """The loop-side timer; `kick` (on the loop) after handing the worker new work."""

    def __init__(
        self,
        heartbeat: Heartbeat,
        *,
        period: float = 0.002,
        after: float = 0.002,
        pause: float = 0.0002,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.heartbeat = heartbeat
        self.period = period
        self.after = after
        self.pause = pause
        self.pauses = 0  # how often the loop stepped aside (a measure of saturation)
        self._sleep = sleep
        self._handle: asyncio.TimerHandle | None = None

    def kick(self) -> None:
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self.period, self._tick)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        self._handle = None
        beat = self.heartbeat
        if not beat.busy:
            return
        if time.monotonic() - beat.at > self.after:
            self.pauses += 1
            self._sleep(self.pause)  # blocks the loop on purpose: the worker takes the lock
        self.kick()
