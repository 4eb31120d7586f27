"""App layer: named crash points for crash tests. A no-op unless one is armed.

Crash tests run tradeguard as a subprocess with TRADEGUARD_FAILPOINT set to a point name (see
`POINTS`); when the exit path reaches that point the process kills itself with SIGKILL, exactly
as a crash would, with nothing flushed.
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


class Failpoints:
    def __init__(self, armed: str = "") -> None:
        if armed and armed not in POINTS:
            raise ValueError(f"unknown failpoint {armed!r}; known: {', '.join(sorted(POINTS))}")
        self.armed = armed

    def hit(self, point: str) -> None:
        if point == self.armed:
            log.critical("failpoint %s: killing the process", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)
