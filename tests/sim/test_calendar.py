"""Tests (simulator): OpenAlgo's `POST /api/v1/market/timings` and `/sim/admin/calendar`. By
default every date answers a whole-day session for every exchange (the paper market never
closes); a date set through the admin endpoint answers exactly that (`[]`: a holiday); a bad
admin body is a 400 that changes nothing; the gateway reads the answer into sessions."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from tradeguard.adapters.openalgo.rest_gateway import OpenAlgoGateway
from tradeguard.adapters.sim.embedded import EmbeddedSimulator
from tradeguard.core.sessions import DEFAULT_HOURS, ExchangeSession, day_number
from tradeguard.core.timeutil import DAY_NS, ist_day_start

DAY = date(2026, 12, 8)
START_MS = ist_day_start(day_number(DAY)) // 1_000_000


async def timings(http: httpx.AsyncClient, sim: EmbeddedSimulator, when: str) -> httpx.Response:
    return await http.post("/api/v1/market/timings", json={"apikey": sim.apikey, "date": when})


@pytest.mark.asyncio
async def test_every_date_is_open_all_day_by_default(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    reply = await timings(http, sim, DAY.isoformat())
    assert reply.status_code == 200
    rows = reply.json()["data"]
    assert {r["exchange"] for r in rows} == set(DEFAULT_HOURS)
    assert {(r["start_time"], r["end_time"]) for r in rows} == {
        (START_MS, START_MS + DAY_NS // 1_000_000)
    }


@pytest.mark.asyncio
async def test_a_holiday_and_a_special_session_set_by_the_admin(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    holiday = await http.post("/sim/admin/calendar", json={"date": "2026-12-08", "data": []})
    assert holiday.status_code == 200, holiday.text
    assert (await timings(http, sim, "2026-12-08")).json() == {"status": "success", "data": []}
    muhurat = {
        "exchange": "NSE",
        "start_time": START_MS + 64_800_000,
        "end_time": START_MS + 69_300_000,
    }
    await http.post("/sim/admin/calendar", json={"date": "2026-12-09", "data": [muhurat]})
    assert (await timings(http, sim, "2026-12-09")).json()["data"] == [muhurat]
    listed = (await http.get("/sim/admin/calendar")).json()["overrides"]
    assert sorted(listed) == ["2026-12-08", "2026-12-09"]
    await http.post("/sim/admin/calendar", json={"date": "2026-12-08", "data": None})
    assert len((await timings(http, sim, "2026-12-08")).json()["data"]) == len(DEFAULT_HOURS)
    # the gateway reads OpenAlgo's shape into sessions (epoch ms -> ns)
    async with OpenAlgoGateway(sim.rest_url, sim.apikey) as gateway:
        assert await gateway.market_timings(date(2026, 12, 9)) == [
            ExchangeSession("NSE", muhurat["start_time"] * 10**6, muhurat["end_time"] * 10**6)
        ]


@pytest.mark.parametrize(
    "body",
    [
        {"date": "2026-12-08"},
        {"date": "08-12-2026", "data": []},
        {"date": "2026-12-08", "data": "holiday"},
        {"date": "2026-12-08", "data": [{"exchange": "NSE", "start_time": 5, "end_time": 1}]},
        {"date": "2026-12-08", "data": [{"exchange": "NSE", "start_time": "9:15", "end_time": 1}]},
        {"date": "2026-12-08", "data": [{"exchange": "NSE"}]},
    ],
)
@pytest.mark.asyncio
async def test_a_bad_admin_body_is_refused_and_changes_nothing(
    sim: EmbeddedSimulator, http: httpx.AsyncClient, body: object
) -> None:
    reply = await http.post("/sim/admin/calendar", json=body)
    assert reply.status_code == 400, reply.text
    assert (await http.get("/sim/admin/calendar")).json()["overrides"] == {}


@pytest.mark.asyncio
async def test_bad_dates_answer_400_as_openalgo_does(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    bad = await timings(http, sim, "2026/12/08")
    assert (bad.status_code, bad.json()["message"]) == (400, "Invalid date format. Use YYYY-MM-DD")
    early = await timings(http, sim, "2019-12-31")
    assert early.status_code == 400
    missing = await http.post("/api/v1/market/timings", json={"apikey": sim.apikey})
    assert missing.status_code == 400
