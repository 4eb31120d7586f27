"""Interfaces layer: trade history as CSV (the REST export and the dashboard's download).

One row per closed trade, newest close first, in the columns of COLUMNS. Quoting is the csv
module's (RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled);
text cells that a spreadsheet would run as a formula (=, +, -, @ first) get a leading
apostrophe. Times are ISO 8601 in IST. The body is streamed in chunks of rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi.responses import StreamingResponse

IST = timezone(timedelta(hours=5, minutes=30), "IST")

# (CSV header, view key); holding_time and the times are derived below
COLUMNS: tuple[tuple[str, str], ...] = (
    ("trade_id", "trade_id"),
    ("strategy", "strategy"),
    ("symbol", "symbol"),
    ("exchange", "exchange"),
    ("product", "product"),
    ("side", "side"),
    ("quantity", "quantity"),
    ("entry_time", "entered_at"),
    ("exit_time", "closed_at"),
    ("holding_seconds", "holding_seconds"),
    ("holding_time", "holding_seconds"),
    ("entry_price", "entry_price"),
    ("trigger_price", "trigger_price"),
    ("exit_price", "exit_price"),
    ("slippage_per_unit", "slippage"),
    ("slippage_amount", "slippage_amount"),
    ("pnl", "pnl"),
    ("exit_reason", "exit_reason_label"),
    ("state", "state"),
    ("exit_order_id", "exit_order_id"),
    ("exit_message", "exit_message"),
)
_TEXT = frozenset({"strategy", "symbol", "exchange", "exit_order_id", "exit_message"})
_CHUNK = 500


def ist_time(epoch_ns: int | None) -> str:
    if epoch_ns is None:
        return ""
    moment = datetime.fromtimestamp(epoch_ns // 1_000_000_000, UTC).astimezone(IST)
    return moment.isoformat()


def duration(seconds: int | None) -> str:
    """Seconds as H:MM:SS (hours may pass 24)."""
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _cell(header: str, value: Any) -> str:
    if value is None:
        return ""
    if header in ("entry_time", "exit_time"):
        return ist_time(value)
    if header == "holding_time":
        return duration(value)
    text = str(value)
    if header in _TEXT and text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def csv_lines(rows: Sequence[dict[str, Any]]) -> Iterator[str]:
    """The header, then the rows, as CSV text in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for header, _ in COLUMNS])
    for index, row in enumerate(rows, 1):
        writer.writerow([_cell(header, row.get(key)) for header, key in COLUMNS])
        if index % _CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(rows: Sequence[dict[str, Any]], filename: str) -> StreamingResponse:
    return StreamingResponse(
        csv_lines(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def export_name(filters: dict[str, str | None]) -> str:
    """tradeguard-history[-from][-to].csv (dates are validated YYYY-MM-DD)."""
    parts = [v for v in (filters.get("from"), filters.get("to")) if v]
    return "-".join(["tradeguard-history", *parts]) + ".csv"
