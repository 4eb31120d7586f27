"""Adapters layer: when the feed tries to connect again, after a drop or a failed attempt.

A capped schedule (1, 2, 5, 10, 30 s by default) with +/- jitter, stepping up with every
attempt that fails. A connection that authenticated starts it again from the first step,
except right after the feed dropped a connection as dead (silent, or its broker adapter gone):
then only a connection that delivers a tick resets it, so a socket that keeps coming back mute
(a symbol muted at the broker) is retried ever more slowly, not every second.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence


class ReconnectBackoff:
    """The reconnect delay and its state (see the module docstring)."""

    def __init__(
        self,
        schedule_s: Sequence[float],
        jitter: float,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not schedule_s or min(schedule_s) < 0 or not 0 <= jitter < 1:
            raise ValueError("backoff needs non-negative delays and a jitter in [0, 1)")
        self._schedule = tuple(schedule_s)
        self._jitter = jitter
        self._rand = rand
        self.failures = 0  # attempts since the backoff was last reset
        self.suspect = False  # a connection was dropped as dead, none delivered a tick since

    def delay(self, attempt: int) -> float:
        """Delay before reconnect attempt `attempt` (0-based): capped schedule, +/- jitter."""
        base = self._schedule[min(attempt, len(self._schedule) - 1)]
        return max(0.0, base * (1 + self._jitter * (2 * self._rand() - 1)))

    def authenticated(self) -> None:
        if not self.suspect:
            self.failures = 0

    def ended(self, *, heard: bool, dropped_as_dead: bool) -> float:
        """A connection (or an attempt) ended: the delay before the next attempt."""
        if heard:
            self.failures, self.suspect = 0, False
        if dropped_as_dead:
            self.suspect = True
        delay = self.delay(self.failures)
        self.failures += 1
        return delay
