"""App layer: named crash points for crash tests. A no-op unless one is armed.

Crash tests run tradeguard as a subprocess with TRADEGUARD_FAILPOINT set to a point name (see
`POINTS`); when the exit path reaches that point the process kills itself with SIGKILL, exactly
as a crash would, with nothing flushed.

`raise:<loop>` (or `raise:<loop>:<n>`, only the first n times) makes a background loop (see
`LOOP_POINTS`) raise `FailpointError` instead, each time it reaches its point: how tests show
that the supervisor restarts a dying loop and reports one that keeps dying.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

POINTS = frozenset(
    {
        "before_intent",  # the exit decision exists, its intent is not committed
        "after_intent",  # the intent is committed, the order is not sent
        "after_order",  # the order was accepted, its outcome is not known
    }
)


LOOP_POINTS = frozenset({"flush_loop", "clock_loop", "reconcile_loop"})


class FailpointError(RuntimeError):
    """Raised by an armed `raise:` failpoint."""


class Failpoints:
    def __init__(self, armed: str = "") -> None:
        self.raises: str | None = None  # the loop point armed to raise
        self.raises_left: int | None = None  # None: every time
        if armed.startswith("raise:"):
            _, point, *count = armed.split(":")
            if point not in LOOP_POINTS or len(count) > 1 or (count and not count[0].isdigit()):
                raise ValueError(
                    f"unknown failpoint {armed!r}; raise:<loop>[:<count>] takes a loop of "
                    f"{', '.join(sorted(LOOP_POINTS))}"
                )
            self.raises, self.raises_left = point, int(count[0]) if count else None
            armed = ""
        if armed and armed not in POINTS:
            raise ValueError(f"unknown failpoint {armed!r}; known: {', '.join(sorted(POINTS))}")
        self.armed = armed

    def fail(self, point: str) -> None:
        """Raise FailpointError here if `raise:<point>` is armed (and has raises left)."""
        if point != self.raises or self.raises_left == 0:
            return
        if self.raises_left is not None:
            self.raises_left -= 1
        raise FailpointError(f"failpoint raise:{point}")

    def hit(self, point: str) -> None:
        if point == self.armed:
            log.critical("failpoint %s: killing the process", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)
