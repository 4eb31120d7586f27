"""App layer: a bounded, downsampled time series (one trade's price, one strategy's P&L).

`Series` keeps at most `capacity` points `(at, value)` (epoch ns, integer money units), one per
time bucket of `step` ns counted from its first point: a new value in the bucket of the last
point replaces it (the newest wins), an unchanged value adds nothing. When a new bucket would
make it one point too many, the step doubles and the points are re-bucketed, keeping the first
point (the trade's entry) and the newest point of every wider bucket. Times are strictly
increasing: a value at the very time of the last point replaces it. So a series covers its
whole life at a resolution that halves as it grows, and its memory never exceeds `capacity`
pairs of machine integers (two `array('q')`), however long it runs.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

NS_PER_SECOND = 1_000_000_000


class Series:
    __slots__ = ("_at", "_values", "capacity", "step")

    def __init__(self, capacity: int = 240, step: int = NS_PER_SECOND) -> None:
        if capacity < 3:
            raise ValueError("a series keeps at least 3 points")
        if step <= 0:
            raise ValueError("a series step must be positive")
        self.capacity = capacity
        self.step = step
        self._at: array[int] = array("q")
        self._values: array[int] = array("q")

    def __len__(self) -> int:
        return len(self._at)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._at, self._values, strict=True)

    @property
    def last(self) -> int | None:
        return self._values[-1] if self._values else None

    def add(self, at: int, value: int) -> bool:
        """Record `value` at `at` (ns); returns whether the series changed. A point older
        than the last one is ignored (time only moves forward here)."""
        if not self._at:
            self._append(at, value)
            return True
        if at < self._at[-1] or value == self._values[-1]:
            return False
        if at == self._at[-1] or self._same_bucket(at):
            self._at[-1] = at
            self._values[-1] = value
            return True
        if len(self._at) >= self.capacity:
            self._downsample(at)
        if self._same_bucket(at):
            self._at[-1] = at
            self._values[-1] = value
        else:
            self._append(at, value)
        return True

    def _append(self, at: int, value: int) -> None:
        self._at.append(at)
        self._values.append(value)

    def _same_bucket(self, at: int) -> bool:
        """Whether `at` falls in the last point's bucket (the first point is never replaced)."""
        times = self._at
        if len(times) < 2:
            return False
        origin = times[0]
        return (at - origin) // self.step == (times[-1] - origin) // self.step

    def _downsample(self, at: int) -> None:
        """Double the step until the points (and one more at `at`) fit in the capacity."""
        times, values = self._at, self._values
        origin = times[0]
        while True:
            self.step *= 2
            kept_at: array[int] = array("q", [times[0]])
            kept: array[int] = array("q", [values[0]])
            for i in range(1, len(times)):
                bucket = (times[i] - origin) // self.step
                if len(kept_at) > 1 and (kept_at[-1] - origin) // self.step == bucket:
                    kept_at[-1] = times[i]
                    kept[-1] = values[i]
                else:
                    kept_at.append(times[i])
                    kept.append(values[i])
            last_bucket = (kept_at[-1] - origin) // self.step
            room = len(kept_at) < self.capacity
            if room or ((at - origin) // self.step == last_bucket and len(kept_at) > 1):
                self._at, self._values = kept_at, kept
                return
