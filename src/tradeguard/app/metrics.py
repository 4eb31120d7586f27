"""App layer: in-memory latency statistics of the exit path (tick -> sent -> ack -> complete)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


class LatencyStats:
    """The last `size` samples of one latency, in nanoseconds, with percentile accessors."""

    def __init__(self, size: int = 10_000) -> None:
        self._samples: deque[int] = deque(maxlen=size)
        self.count = 0

    def record(self, nanoseconds: int) -> None:
        self._samples.append(max(0, nanoseconds))
        self.count += 1

    def percentile(self, pct: float) -> int | None:
        """Nearest-rank percentile of the kept samples; None when there are none."""
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        rank = max(1, -(-len(ordered) * pct // 100))
        return ordered[int(rank) - 1]

    @property
    def p50(self) -> int | None:
        return self.percentile(50)

    @property
    def p99(self) -> int | None:
        return self.percentile(99)

    def samples(self) -> list[int]:
        return list(self._samples)


@dataclass(slots=True)
class ExitMetrics:
    tick_to_send: LatencyStats = field(default_factory=LatencyStats)
    send_to_ack: LatencyStats = field(default_factory=LatencyStats)
    ack_to_complete: LatencyStats = field(default_factory=LatencyStats)

    def summary(self) -> dict[str, dict[str, int | None]]:
        return {
            name: {"count": stats.count, "p50_ns": stats.p50, "p99_ns": stats.p99}
            for name, stats in (
                ("tick_to_send", self.tick_to_send),
                ("send_to_ack", self.send_to_ack),
                ("ack_to_complete", self.ack_to_complete),
            )
        }
