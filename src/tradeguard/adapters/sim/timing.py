"""Adapters layer: the simulated broker's timing: how late order reports are, how order status
is polled, how slow placeorder replies are, and how market orders fill in parts.

`TimingConfig` is one validated setting (`POST /sim/admin/timing`, `tradeguard sim`'s timing
flags); `timing_config` applies an admin body to the current setting, all or nothing. A
`profile` ("instant" or "realistic") is a starting point that the other fields in the same body
override. `BrokerClock` is what the paper broker, its order reports and the REST server share:
the setting, a timer (the event loop's, or a `ManualTimer` a test advances by hand) and a seeded
random source for the jitter, so a run is repeatable.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Protocol

MAX_DELAY_MS = 120_000
MAX_PARTS = 100
PROFILES = ("instant", "realistic")


class TimingSpecError(ValueError):
    """An admin request or flag that does not describe a valid broker timing."""


@dataclass(frozen=True, slots=True)
class TimingConfig:
    """The broker's timing; all zero (the default, the "instant" profile) is an ideal broker.

    - report_lag_ms (+ a seeded random 0..report_lag_jitter_ms): an order's status change
      shows in orderstatus/orderbook (and its WebSocket push goes out) this long after it
      happened at the broker. Positions and the trade book show a fill at once.
    - report_poll_ms (+ 0..report_poll_jitter_ms per poll): order status changes only show
      when the broker is polled, every so often (OpenAlgo for brokers without push); there are
      no order-update pushes at all then. 0: no polling.
    - order_push: false drops the WebSocket order-update stream (nothing is pushed).
    - place_delay_ms: a placeorder/placesmartorder reply comes this late (the order is placed
      at once); only for a seeded share `place_slow_ratio` (0..1) of the placements.
    - relogin_slow_ms: for this long after the broker session comes back from down, every
      placement reply takes relogin_delay_ms (real OpenAlgo's sandbox: ~10 s).
    - partial_fills: a MARKET order fills in this many parts, one every partial_interval_ms
      (status `open` with the filled quantity growing, then `complete`).
    """

    report_lag_ms: int = 0
    report_lag_jitter_ms: int = 0
    report_poll_ms: int = 0
    report_poll_jitter_ms: int = 0
    order_push: bool = True
    place_delay_ms: int = 0
    place_slow_ratio: float = 1.0
    relogin_slow_ms: int = 0
    relogin_delay_ms: int = 10_000
    partial_fills: int = 1
    partial_interval_ms: int = 500

    @property
    def polled(self) -> bool:
        return self.report_poll_ms > 0

    @property
    def pushes(self) -> bool:
        return self.order_push and not self.polled

    @property
    def instant_reports(self) -> bool:
        return not self.polled and self.report_lag_ms == 0 and self.report_lag_jitter_ms == 0

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)


REALISTIC = TimingConfig(
    report_lag_ms=1_000,
    report_lag_jitter_ms=1_000,
    report_poll_ms=2_000,
    report_poll_jitter_ms=1_000,
    order_push=False,
    place_delay_ms=1_500,
    place_slow_ratio=0.1,
    relogin_slow_ms=15_000,
    relogin_delay_ms=10_000,
)
"""Order reports lag 1-2 s and are polled every 2-3 s (no push), one placement in ten takes
1.5 s, and placements are 10 s slow for 15 s after a re-login."""

_PROFILE_CONFIGS = {"instant": TimingConfig(), "realistic": REALISTIC}
_MS_FIELDS = (
    "report_lag_ms", "report_lag_jitter_ms", "report_poll_ms", "report_poll_jitter_ms",
    "place_delay_ms", "relogin_slow_ms", "relogin_delay_ms", "partial_interval_ms",
)  # fmt: skip
TIMING_FIELDS = ("profile", *(f.name for f in fields(TimingConfig)))


def profile(name: str) -> TimingConfig:
    if name not in _PROFILE_CONFIGS:
        raise TimingSpecError(f"profile must be one of {', '.join(PROFILES)}")
    return _PROFILE_CONFIGS[name]


def timing_config(current: TimingConfig, spec: dict[str, Any]) -> TimingConfig:
    """`current` changed by an admin body: `profile` first, then the fields given. Raises
    TimingSpecError (naming the problem) for anything bad; then nothing is changed."""
    unknown = sorted(set(spec) - set(TIMING_FIELDS))
    if unknown:
        raise TimingSpecError(
            f"unknown timing field(s): {', '.join(unknown)}; "
            f"expected any of {', '.join(TIMING_FIELDS)}"
        )
    config = current
    if "profile" in spec:
        if not isinstance(spec["profile"], str):
            raise TimingSpecError(f"profile must be one of {', '.join(PROFILES)}")
        config = profile(spec["profile"])
    changes: dict[str, Any] = {}
    for name in _MS_FIELDS:
        if name in spec:
            changes[name] = _whole(spec[name], name, 0, MAX_DELAY_MS)
    if "partial_fills" in spec:
        changes["partial_fills"] = _whole(spec["partial_fills"], "partial_fills", 1, MAX_PARTS)
    if "order_push" in spec:
        if not isinstance(spec["order_push"], bool):
            raise TimingSpecError("order_push must be true or false")
        changes["order_push"] = spec["order_push"]
    if "place_slow_ratio" in spec:
        ratio = spec["place_slow_ratio"]
        if isinstance(ratio, bool) or not isinstance(ratio, int | float):
            raise TimingSpecError("place_slow_ratio must be a number within 0..1")
        if not (math.isfinite(ratio) and 0 <= ratio <= 1):
            raise TimingSpecError("place_slow_ratio must be a number within 0..1")
        changes["place_slow_ratio"] = float(ratio)
    return replace(config, **changes)


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TimingSpecError(f"{name} must be a whole number within {low}..{high}")
    if not low <= value <= high:
        raise TimingSpecError(f"{name} must be a whole number within {low}..{high}")
    return value


# -- timers ------------------------------------------------------------------------------------


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class SimTimer(Protocol):
    """Time for the simulated broker: seconds from an arbitrary origin, callbacks, sleeps."""

    def now(self) -> float: ...
    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...
    async def sleep(self, delay: float) -> None: ...


class LoopTimer:
    """The running event loop's clock (what a served simulator uses)."""

    def now(self) -> float:
        return time.monotonic()  # the event loop's clock (asyncio uses monotonic time)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)


@dataclass(slots=True)
class _Scheduled:
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualTimer:
    """A timer that moves only when `advance` is called: callbacks due by then run in time
    order (a callback scheduling another one inside the window runs it too)."""

    def __init__(self) -> None:
        self._now = 0.0
        self._queue: list[tuple[float, int, _Scheduled]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        handle = _Scheduled(callback)
        heapq.heappush(self._queue, (self._now + max(delay, 0.0), next(self._seq), handle))
        return handle

    async def sleep(self, delay: float) -> None:
        done = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        self.call_later(delay, wake)
        await done

    def advance(self, seconds: float) -> int:
        """Move time on by `seconds`; returns how many callbacks ran."""
        until = self._now + seconds
        ran = 0
        while self._queue and self._queue[0][0] <= until:
            when, _, handle = heapq.heappop(self._queue)
            self._now = max(self._now, when)
            if not handle.cancelled:
                handle.callback()
                ran += 1
        self._now = until
        return ran

    @property
    def pending(self) -> int:
        return sum(1 for _, _, h in self._queue if not h.cancelled)


class BrokerClock:
    """The timing setting in force, a timer, and a seeded random source for the jitter."""

    def __init__(
        self,
        config: TimingConfig | None = None,
        *,
        timer: SimTimer | None = None,
        seed: int = 0,
    ) -> None:
        self.config = config or TimingConfig()
        self.timer: SimTimer = timer or LoopTimer()
        self._random = random.Random(seed)
        self._session_back_at: float | None = None
        self.listeners: list[Callable[[TimingConfig], None]] = []

    def reconfigure(self, config: TimingConfig) -> None:
        self.config = config
        for listener in list(self.listeners):
            listener(config)

    def report_lag(self) -> float:
        """Seconds an order status change takes to show (jitter drawn per change)."""
        c = self.config
        return (c.report_lag_ms + self._jitter(c.report_lag_jitter_ms)) / 1000

    def poll_interval(self) -> float:
        c = self.config
        return (c.report_poll_ms + self._jitter(c.report_poll_jitter_ms)) / 1000

    def session_restored(self) -> None:
        """The broker session came back from down: placements are slow for a while."""
        self._session_back_at = self.timer.now()

    def place_delay(self) -> float:
        """Seconds the reply to an order placed just now is held back."""
        c = self.config
        back = self._session_back_at
        if back is not None and self.timer.now() - back < c.relogin_slow_ms / 1000:
            return c.relogin_delay_ms / 1000
        if c.place_delay_ms and self._random.random() < c.place_slow_ratio:
            return c.place_delay_ms / 1000
        return 0.0

    def _jitter(self, most_ms: int) -> int:
        return self._random.randint(0, most_ms) if most_ms else 0
