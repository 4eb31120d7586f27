"""Adapters layer: the simulator's market calendar: OpenAlgo's `POST /market/timings` and the
`/sim/admin/calendar` switch that sets a date's sessions (holidays, special sessions) for tests.

The paper market never closes: by default every date, weekends included, answers a session of
the whole IST day (00:00 to 24:00) for every exchange with standard hours. A date set through
the admin endpoint answers exactly what was set: `[]` is a holiday, a list of
{exchange, start_time, end_time} (epoch ms, as OpenAlgo answers) a special session.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tradeguard.adapters.sim import rest_views as views
from tradeguard.core.sessions import DEFAULT_HOURS, day_number
from tradeguard.core.timeutil import DAY_NS, ist_day_start

Data = dict[str, Any]
_MS = 1_000_000
_FIRST, _LAST = date(2020, 1, 1), date(2050, 12, 31)  # OpenAlgo's supported range


class CalendarSpecError(ValueError):
    """A bad /sim/admin/calendar body; nothing was changed."""


def parse_date(value: Any) -> date | None:
    """An ISO date string, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()  # noqa: DTZ007 - a date, no time
    except ValueError:
        return None


class SimCalendar:
    """Per-date session overrides over an always-open paper market."""

    def __init__(self) -> None:
        self.overrides: dict[date, list[Data]] = {}

    def timings(self, when: date) -> list[Data]:
        if when in self.overrides:
            return [dict(row) for row in self.overrides[when]]
        start = ist_day_start(day_number(when)) // _MS
        end = start + DAY_NS // _MS
        return [{"exchange": e, "start_time": start, "end_time": end} for e in DEFAULT_HOURS]

    async def handle(self, data: Data) -> Response:
        """`market/timings` after the key and the schema passed (rest_server.SimApi)."""
        when = parse_date(data["date"])
        if when is None:
            return views.error(400, "Invalid date format. Use YYYY-MM-DD")
        if not _FIRST <= when <= _LAST:
            return views.error(400, "Date must be between 2020-01-01 and 2050-12-31")
        return views.success(self.timings(when))

    def apply(self, spec: Any) -> Data:
        """Apply a `/sim/admin/calendar` body: {"date": "YYYY-MM-DD", "data": [...] | null}
        (null: back to the always-open default). All of it, or CalendarSpecError."""
        if not isinstance(spec, dict) or set(spec) != {"date", "data"}:
            raise CalendarSpecError('body must be {"date": "YYYY-MM-DD", "data": [...] or null}')
        when = parse_date(spec["date"])
        if when is None:
            raise CalendarSpecError("date must be YYYY-MM-DD")
        rows = spec["data"]
        if rows is None:
            self.overrides.pop(when, None)
            return self.state()
        if not isinstance(rows, list):
            raise CalendarSpecError("data must be a list of sessions or null")
        self.overrides[when] = [_session(row) for row in rows]
        return self.state()

    def state(self) -> Data:
        return {"overrides": {d.isoformat(): rows for d, rows in sorted(self.overrides.items())}}

    async def admin(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"status": "success", **self.state()})
        try:
            state = self.apply(json.loads(await request.body() or b"null"))
        except (ValueError, CalendarSpecError) as error:
            return views.error(400, str(error))
        return JSONResponse({"status": "success", **state})


def _session(row: Any) -> Data:
    if not isinstance(row, dict) or set(row) != {"exchange", "start_time", "end_time"}:
        raise CalendarSpecError("each session is {exchange, start_time, end_time}")
    exchange, start, end = row["exchange"], row["start_time"], row["end_time"]
    if not isinstance(exchange, str) or not exchange:
        raise CalendarSpecError("exchange must be a non-empty string")
    for value in (start, end):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CalendarSpecError("start_time and end_time are epoch milliseconds")
    if end <= start:
        raise CalendarSpecError("end_time must be after start_time")
    return {"exchange": exchange, "start_time": start, "end_time": end}
