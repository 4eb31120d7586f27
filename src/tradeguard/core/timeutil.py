"""Core layer: pure calendar arithmetic in IST (UTC+05:30, no daylight saving) on epoch ns."""

from __future__ import annotations

from datetime import time

NS_PER_SECOND = 1_000_000_000
DAY_NS = 86_400 * NS_PER_SECOND
IST_OFFSET_NS = 19_800 * NS_PER_SECOND


def ist_day(now_ns: int) -> int:
    """The IST calendar day number (days since 1970-01-01 IST) containing `now_ns`."""
    return (now_ns + IST_OFFSET_NS) // DAY_NS


def ist_day_start(day: int) -> int:
    """Epoch ns of 00:00 IST on IST day number `day`."""
    return day * DAY_NS - IST_OFFSET_NS


def time_of_day_ns(at: time) -> int:
    return ((at.hour * 60 + at.minute) * 60 + at.second) * NS_PER_SECOND


def next_time_of_day(after_ns: int, at: time) -> int:
    """The first instant strictly after `after_ns` whose IST wall-clock time is `at`."""
    day = ist_day(after_ns)
    candidate = ist_day_start(day) + time_of_day_ns(at)
    if candidate <= after_ns:
        candidate += DAY_NS
    return candidate
