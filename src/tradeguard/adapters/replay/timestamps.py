"""Adapters layer: turn the timestamps of replay files into epoch nanoseconds.

Accepted forms (the same in tick CSVs and in the replay TOML):

* ISO-8601 with an offset: ``2025-03-03T09:15:00+05:30`` or ``2025-03-03T03:45:00Z``;
* ISO-8601 without an offset, read as IST (Asia/Kolkata, UTC+05:30): ``2025-03-03 09:15:00``;
* epoch milliseconds as an integer: ``1740973500000``.

Fractions of a second are kept exactly (to the microsecond, datetime's resolution).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch milliseconds outside 2000-01-01 .. 2100-01-01 are almost surely seconds or microseconds.
_MIN_MS = 946_684_800_000
_MAX_MS = 4_102_444_800_000


def datetime_to_ns(moment: datetime) -> int:
    """Epoch ns of a datetime; a naive one is IST wall-clock time. Exact (integer arithmetic)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def parse_timestamp(text: str) -> int:
    """Epoch ns of an ISO-8601 timestamp (naive = IST) or of epoch milliseconds.

    Raises ValueError with a short reason (the caller adds where it happened).
    """
    value = text.strip()
    if value.isascii() and value.isdigit():
        millis = int(value)
        if not _MIN_MS <= millis < _MAX_MS:
            raise ValueError(
                f"epoch timestamp {value} is not in milliseconds between 2000 and 2100"
            )
        return millis * 1_000_000
    if len(value) <= 10:  # a bare date has no time of day: refuse rather than guess midnight
        raise ValueError(f"not a timestamp with a time of day: {text!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp or epoch milliseconds: {text!r}") from None
    return datetime_to_ns(moment)


def format_ist(ns: int) -> str:
    """Epoch ns as an IST ISO-8601 string (for messages)."""
    return datetime.fromtimestamp(ns / 1e9, IST).isoformat(timespec="seconds")
