"""Adapters layer: the simulator's run-time faults and its per-IP rate limiter.

`RestFaults` is what `POST /sim/admin/faults` switches: a delay on every call, a failure mode
(timeout = hang until the client gives up, 500, an HTML 500 page, 429, 403, and two broken
successes: `garbage` = 200 with an HTML body, `malformed` = 200 with a success envelope whose
fields have the wrong shape) optionally limited
to some endpoints and to a number of calls, semi-auto mode, the broker session being down
(every /api/v1 call 403, WebSocket authenticate BROKER_ERROR, no ticks), and a lost reply
(`order_reply`: an order is placed, but its reply comes late or as a 500). Order-level faults
(reject, fill late) live in the PaperBroker; the admin endpoint forwards them. A bad request
is refused whole: nothing changes.

`feed_flags` validates a `POST /sim/admin/feed` body (the WebSocket faults: drop, stale,
duplicate ticks or order updates, refuse connections). `StartFaults` is what `tradeguard sim`'s
fault flags amount to: it renders them as the same admin bodies, so a flag and the matching
admin call behave the same.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

FAIL_MODES = ("timeout", "500", "html", "429", "403", "garbage", "malformed")
ORDER_REPLY_MODES = ("late", "500")
"""What happens to the reply of a placed order: `late` = after `order_reply_delay_ms` (or when
the client gives up first), `500` = OpenAlgo's 500 instead of the order id."""
FAULT_FIELDS = (
    "reset", "delay_ms", "hang_ms", "fail", "fail_count", "endpoints", "semi_auto",
    "session_down", "order_reply", "order_reply_count", "order_reply_delay_ms",
    "reject_next", "reject_message", "reject_at_submit", "fill_late", "release_late",
    "rate_limits",
)  # fmt: skip
FEED_FIELDS = ("drop", "stale", "duplicate_ticks", "duplicate_orders", "refuse")
EVERY_ORDER = sys.maxsize
"""A `reject_next` count that means "every order until cleared"."""


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
    session_down: bool = False
    order_reply: str | None = None  # one of ORDER_REPLY_MODES
    order_reply_count: int | None = None  # None: until cleared
    order_reply_delay_s: float = 30.0
    on_session: Callable[[bool], None] | None = None
    """Told the new `session_down` by every update (the WebSocket server's switch)."""

    def take_failure(self, endpoint: str) -> str | None:
        """The failure to inject for this call, if any (consumes one of `fail_count`)."""
        if self.fail is None or (self.endpoints and endpoint not in self.endpoints):
            return None
        mode = self.fail
        self.fail, self.fail_count = _spend(self.fail, self.fail_count)
        return mode

    def take_order_reply(self) -> str | None:
        """What to do with the reply of an order just placed (consumes one of the count)."""
        mode = self.order_reply
        self.order_reply, self.order_reply_count = _spend(self.order_reply, self.order_reply_count)
        return mode

    def snapshot(self) -> dict[str, Any]:
        return {
            "delay_ms": round(self.delay_s * 1000),
            "fail": self.fail,
            "fail_count": self.fail_count,
            "endpoints": sorted(self.endpoints),
            "semi_auto": self.semi_auto,
            "session_down": self.session_down,
            "order_reply": self.order_reply,
            "order_reply_count": self.order_reply_count,
            "order_reply_delay_ms": round(self.order_reply_delay_s * 1000),
        }

    def update(self, spec: dict[str, Any]) -> None:
        """Apply an admin request (see rest_server's `/sim/admin/faults`): all of it, or,
        if any part is bad (FaultSpecError), none of it."""
        unknown = sorted(set(spec) - set(FAULT_FIELDS))
        if unknown:
            raise FaultSpecError(
                f"unknown fault field(s): {', '.join(unknown)}; "
                f"expected any of {', '.join(FAULT_FIELDS)}"
            )
        new = replace(self)
        new._apply(spec)
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(new, name))
        if self.on_session is not None:
            self.on_session(self.session_down)

    def _apply(self, spec: dict[str, Any]) -> None:
        if spec.get("reset"):
            self.delay_s, self.fail, self.fail_count = 0.0, None, None
            self.endpoints, self.semi_auto, self.session_down = frozenset(), False, False
            self.order_reply, self.order_reply_count = None, None
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
        if "session_down" in spec:
            self.session_down = _flag(spec["session_down"], "session_down")
        self._apply_order_reply(spec)

    def _apply_order_reply(self, spec: dict[str, Any]) -> None:
        if "order_reply_delay_ms" in spec:
            delay = _non_negative(spec["order_reply_delay_ms"], "order_reply_delay_ms")
            self.order_reply_delay_s = delay / 1000.0
        if "order_reply" in spec:
            mode = spec["order_reply"]
            if mode is not None and mode not in ORDER_REPLY_MODES:
                raise FaultSpecError(
                    f"order_reply must be one of {', '.join(ORDER_REPLY_MODES)} or null"
                )
            count = spec.get("order_reply_count")
            self.order_reply = mode
            self.order_reply_count = (
                None if count is None else int(_non_negative(count, "order_reply_count"))
            )
            if self.order_reply_count == 0:
                self.order_reply, self.order_reply_count = None, None
        elif "order_reply_count" in spec:
            raise FaultSpecError("order_reply_count needs order_reply")


def feed_flags(spec: dict[str, Any]) -> dict[str, bool]:
    """Validate a `/sim/admin/feed` body: only FEED_FIELDS, each true or false."""
    unknown = sorted(set(spec) - set(FEED_FIELDS))
    if unknown:
        raise FaultSpecError(
            f"unknown feed fault field(s): {', '.join(unknown)}; "
            f"expected any of {', '.join(FEED_FIELDS)}"
        )
    for name, value in spec.items():
        if not isinstance(value, bool):
            raise FaultSpecError(f"{name} must be true or false")
    return dict(spec)


@dataclass(frozen=True, slots=True)
class StartFaults:
    """Faults switched on when the simulator starts (`tradeguard sim` flags).

    `fail_count` None: until cleared; `reject_count` None: every order (with `reject_message`
    set); both are cleared like any other fault by `POST /sim/admin/faults {"reset": true}`.
    """

    delay_ms: int = 0
    fail: str | None = None
    fail_count: int | None = None
    fail_endpoints: tuple[str, ...] = ()
    reject_message: str | None = None
    reject_count: int | None = None
    fill_late: bool = False
    semi_auto: bool = False
    session_down: bool = False
    order_reply: str | None = None
    order_reply_count: int | None = None
    order_reply_delay_ms: int | None = None
    stale_feed: bool = False
    duplicate_ticks: bool = False
    duplicate_orders: bool = False

    def __post_init__(self) -> None:
        for name in ("delay_ms", "fail_count", "reject_count", "order_reply_count",
                     "order_reply_delay_ms"):  # fmt: skip
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FaultSpecError(f"{name} must be >= 0")
        if self.fail is not None and self.fail not in FAIL_MODES:
            raise FaultSpecError(f"fail must be one of {', '.join(FAIL_MODES)}")
        if self.fail is None and (self.fail_count is not None or self.fail_endpoints):
            raise FaultSpecError("a fail count or fail endpoints need a fail mode")
        if self.reject_message is None and self.reject_count is not None:
            raise FaultSpecError("a reject count needs a reject message")
        if self.order_reply is not None and self.order_reply not in ORDER_REPLY_MODES:
            raise FaultSpecError(f"order_reply must be one of {', '.join(ORDER_REPLY_MODES)}")
        if self.order_reply is None and (
            self.order_reply_count is not None or self.order_reply_delay_ms is not None
        ):
            raise FaultSpecError("an order reply count or delay needs an order reply mode")

    def rest_spec(self) -> dict[str, Any]:
        """The `POST /sim/admin/faults` body these faults amount to (empty: none)."""
        spec: dict[str, Any] = {}
        if self.delay_ms:
            spec["delay_ms"] = self.delay_ms
        if self.fail is not None:
            spec["fail"] = self.fail
            spec["fail_count"] = self.fail_count
            spec["endpoints"] = list(self.fail_endpoints)
        if self.reject_message is not None:
            count = EVERY_ORDER if self.reject_count is None else self.reject_count
            spec["reject_next"] = count
            spec["reject_message"] = self.reject_message
        if self.fill_late:
            spec["fill_late"] = True
        if self.semi_auto:
            spec["semi_auto"] = True
        if self.session_down:
            spec["session_down"] = True
        if self.order_reply is not None:
            spec["order_reply"] = self.order_reply
            spec["order_reply_count"] = self.order_reply_count
            if self.order_reply_delay_ms is not None:
                spec["order_reply_delay_ms"] = self.order_reply_delay_ms
        return spec

    def feed_spec(self) -> dict[str, bool]:
        """The `POST /sim/admin/feed` body these faults amount to (empty: none)."""
        spec = {
            "stale": self.stale_feed,
            "duplicate_ticks": self.duplicate_ticks,
            "duplicate_orders": self.duplicate_orders,
        }
        return {name: True for name, on in spec.items() if on}


def _spend(mode: str | None, count: int | None) -> tuple[str | None, int | None]:
    """A counted fault after one use: `count` None lasts until cleared; the last use clears."""
    if mode is None or count is None:
        return mode, count
    return (None, None) if count <= 1 else (mode, count - 1)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise FaultSpecError(f"{name} must be true or false")
    return value


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"{name} must be a number")
    if not math.isfinite(value) or value < 0:
        raise FaultSpecError(f"{name} must be a finite number >= 0")
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


def check_broker_faults(spec: dict[str, Any]) -> None:
    """Refuse a bad reject_next or rate_limits before anything changes."""
    if "reject_next" in spec:
        count = spec["reject_next"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise FaultSpecError("reject_next must be a whole number >= 0")
    if "rate_limits" in spec:
        limits = spec["rate_limits"]
        if not isinstance(limits, dict):
            raise FaultSpecError("rate_limits must be an object")
        for name, value in limits.items():
            if name not in {f.name for f in fields(RateLimits)}:
                raise FaultSpecError(f"unknown rate limit {name!r}")
            if name == "enabled" and not isinstance(value, bool):
                raise FaultSpecError("rate_limits.enabled must be true or false")
            if name != "enabled" and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise FaultSpecError(f"rate_limits.{name} must be a positive number")
