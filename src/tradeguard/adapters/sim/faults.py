"""Adapters layer: the simulator's run-time REST faults and its per-IP rate limiter.

`RestFaults` is what `POST /sim/admin/faults` switches: a delay on every call, a failure mode
(timeout = hang until the client gives up, 500, an HTML 500 page, 429, 403, and two broken
successes: `garbage` = 200 with an HTML body, `malformed` = 200 with a success envelope whose
fields have the wrong shape) optionally limited
to some endpoints and to a number of calls, and semi-auto mode. Order-level faults (reject,
fill late) live in the PaperBroker; the admin endpoint forwards them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAIL_MODES = ("timeout", "500", "html", "429", "403", "garbage", "malformed")


class FaultSpecError(ValueError):
    """An admin request that does not describe a valid fault."""


@dataclass(slots=True)
class RestFaults:
    delay_s: float = 0.0
    fail: str | None = None
    fail_count: int | None = None  # None: until cleared
    endpoints: frozenset[str] = frozenset()  # empty: every endpoint
    hang_s: float = 30.0
    semi_auto: bool = False
    pending_ids: int = 0

    def take_failure(self, endpoint: str) -> str | None:
        """The failure to inject for this call, if any (consumes one of `fail_count`)."""
        if self.fail is None or (self.endpoints and endpoint not in self.endpoints):
            return None
        mode = self.fail
        if self.fail_count is not None:
            self.fail_count -= 1
            if self.fail_count <= 0:
                self.fail, self.fail_count = None, None
        return mode

    def next_pending_id(self) -> int:
        self.pending_ids += 1
        return self.pending_ids

    def snapshot(self) -> dict[str, Any]:
        return {
            "delay_ms": round(self.delay_s * 1000),
            "fail": self.fail,
            "fail_count": self.fail_count,
            "endpoints": sorted(self.endpoints),
            "semi_auto": self.semi_auto,
        }

    def update(self, spec: dict[str, Any]) -> None:
        """Apply an admin request (see rest_server's `/sim/admin/faults`)."""
        if spec.get("reset"):
            self.delay_s, self.fail, self.fail_count = 0.0, None, None
            self.endpoints, self.semi_auto = frozenset(), False
        if "delay_ms" in spec:
            self.delay_s = _non_negative(spec["delay_ms"], "delay_ms") / 1000.0
        if "hang_ms" in spec:
            self.hang_s = _non_negative(spec["hang_ms"], "hang_ms") / 1000.0
        if "fail" in spec:
            mode = spec["fail"]
            if mode is not None and str(mode) not in FAIL_MODES:
                raise FaultSpecError(f"fail must be one of {', '.join(FAIL_MODES)} or null")
            self.fail = None if mode is None else str(mode)
            count = spec.get("fail_count")
            self.fail_count = None if count is None else int(_non_negative(count, "fail_count"))
            endpoints = spec.get("endpoints") or []
            if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
                raise FaultSpecError("endpoints must be a list of endpoint names")
            self.endpoints = frozenset(endpoints)
        if "semi_auto" in spec:
            self.semi_auto = bool(spec["semi_auto"])


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"{name} must be a number")
    if value < 0:
        raise FaultSpecError(f"{name} must be >= 0")
    return float(value)


@dataclass(slots=True)
class RateLimits:
    """Requests per window per client IP, per bucket (OpenAlgo's defaults)."""

    order: int = 10
    smart_order: int = 10
    api: int = 50
    window_s: float = 1.0
    enabled: bool = True


@dataclass(slots=True)
class MovingWindowLimiter:
    """Flask-Limiter's moving window: at most `limit` hits in any `window_s`, per key."""

    limits: RateLimits
    clock: Callable[[], float] = time.monotonic
    _hits: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    def hit(self, bucket: str, client: str) -> bool:
        if not self.limits.enabled:
            return True
        limit = {"order": self.limits.order, "smart_order": self.limits.smart_order}.get(
            bucket, self.limits.api
        )
        now = self.clock()
        hits = self._hits.setdefault((bucket, client), deque())
        while hits and hits[0] <= now - self.limits.window_s:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True
