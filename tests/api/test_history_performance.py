"""Tests (API, issue 14): history filters (IST dates, strategy, symbol, exit reason), the CSV
export and the Performance figures, over the REST API and the dashboard's /ui/api routes,
against trades with hand-computed figures (tests.history_seed) in the real store."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_dashboard import logged_in
from tests.helpers import eventually
from tests.history_seed import seed


async def _seeded(api: Api) -> None:
    assert await api.stack.store.commit(seed())


async def _ids(api: Api, **filters: Any) -> list[str]:
    return [h["trade_id"] for h in await api.data("tradehistory", filters)]


@pytest.mark.asyncio
async def test_filters_narrow_the_history_on_the_server(api: Api) -> None:
    await _seeded(api)
    assert await _ids(api) == ["H4", "H3", "H2", "H1"]  # newest close first; bob's B1 never
    assert await _ids(api, **{"from": "2026-12-02"}) == ["H4", "H3", "H2"]
    assert await _ids(api, to="2026-12-01") == ["H1"]
    assert await _ids(api, **{"from": "2026-12-02", "to": "2026-12-02"}) == ["H2"]
    assert await _ids(api, strategy="s2") == ["H4", "H3"]
    assert await _ids(api, symbol="SBIN") == ["H3", "H1"]
    assert await _ids(api, reason="STOP_LOSS") == ["H1"]
    assert await _ids(api, reason="CLOSED_EXTERNALLY") == ["H4"]
    assert await _ids(api, symbol="SBIN", strategy="s1", to="2026-12-03") == ["H1"]
    assert await _ids(api, strategy="nope") == []
    assert await _ids(api, limit=2) == ["H4", "H3"]


@pytest.mark.asyncio
async def test_history_rows_carry_entry_time_holding_time_and_slippage(api: Api) -> None:
    await _seeded(api)
    rows = {h["trade_id"]: h for h in await api.data("tradehistory", {})}
    h1, h2, h3, h4 = rows["H1"], rows["H2"], rows["H3"], rows["H4"]
    assert h1["holding_seconds"] == 4530  # 09:30:00 -> 10:45:30
    assert (h1["trigger_price"], h1["exit_price"]) == ("790.00", "789.00")
    assert (h1["slippage"], h1["slippage_amount"], h1["pnl"]) == ("-1.00", "-10.00", "-110.00")
    assert (h2["slippage"], h2["slippage_amount"], h2["pnl"]) == ("0.50", "2.50", "252.50")
    # a portfolio stop's trigger is a P&L amount: the price it fired at is the last price
    assert (h3["trigger_price"], h3["slippage"], h3["slippage_amount"]) == (
        "780.00",
        "-0.10",
        "-0.40",
    )
    assert (h4["exit_reason_label"], h4["trigger_price"], h4["slippage"]) == (
        "CLOSED_EXTERNALLY",
        None,
        None,
    )
    assert h4["entered_at"] < h4["closed_at"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "filters",
    [
        {"from": "2026-13-01"},
        {"from": "01/12/2026"},
        {"to": "yesterday"},
        {"from": "2026-12-03", "to": "2026-12-01"},
        {"reason": "BOGUS"},
        {"strategy": "no spaces"},
        {"symbol": "<script>"},
        {"from": "2026-12-01", "colour": "red"},
        {"from": 20261201},
    ],
)
async def test_bad_filters_are_refused_with_400_and_change_nothing(
    api: Api, filters: dict[str, Any]
) -> None:
    await _seeded(api)
    for path in ("tradehistory", "tradehistory/export", "performance"):
        reply = await api.post(path, filters)
        assert reply.status_code == 400, (path, reply.text)
        assert reply.json()["status"] == "error"
    assert await _ids(api) == ["H4", "H3", "H2", "H1"]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.asyncio
async def test_csv_export_holds_every_filtered_trade_properly_quoted(api: Api) -> None:
    await _seeded(api)
    reply = await api.post("tradehistory/export", {"symbol": "SBIN"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    rows = _csv(reply.text)
    assert [r["trade_id"] for r in rows] == ["H3", "H1"]
    h3, h1 = rows
    assert h1["entry_time"] == "2026-12-01T09:30:00+05:30"
    assert h1["exit_time"] == "2026-12-01T10:45:30+05:30"
    assert (h1["holding_seconds"], h1["holding_time"]) == ("4530", "1:15:30")
    assert (h1["entry_price"], h1["trigger_price"], h1["exit_price"]) == (
        "800.00",
        "790.00",
        "789.00",
    )
    assert (h1["slippage_per_unit"], h1["slippage_amount"], h1["pnl"]) == (
        "-1.00",
        "-10.00",
        "-110.00",
    )
    assert h1["exit_message"] == 'RMS said "filled", partly'  # comma and quotes survive
    assert '"RMS said ""filled"", partly"' in reply.text  # RFC 4180 quoting
    assert h3["exit_message"].startswith("'=")  # never run as a formula by a spreadsheet
    assert h3["exit_reason"] == "PORTFOLIO_STOP"
    everything = _csv((await api.post("tradehistory/export", {})).text)
    assert [r["trade_id"] for r in everything] == ["H4", "H3", "H2", "H1"]
    assert everything[0]["exit_reason"] == "CLOSED_EXTERNALLY"
    assert everything[0]["trigger_price"] == ""
    assert everything[0]["slippage_amount"] == ""


@pytest.mark.asyncio
async def test_performance_matches_the_hand_computed_figures(api: Api) -> None:
    await _seeded(api)
    figures = await api.data("performance", {})
    # H1 -110.00, H2 +252.50, H3 -80.40, H4 0: 1 win, 2 losses, 1 flat
    assert (figures["trades"], figures["wins"], figures["losses"], figures["flat"]) == (4, 1, 2, 1)
    assert figures["win_rate"] == "25.00"
    assert figures["total_pnl"] == "62.10"  # -110 + 252.50 - 80.40 + 0
    assert figures["average_win"] == "252.50"
    assert figures["average_loss"] == "-95.20"  # (-110 - 80.40) / 2
    assert figures["profit_factor"] == "1.33"  # 252.50 / 190.40 = 1.326...
    assert figures["max_drawdown"] == "110.00"  # 0 -> -110 (later 142.50 -> 62.10 is 80.40)
    assert {r["reason"]: r["pnl"] for r in figures["by_reason"]} == {
        "STOP_LOSS": "-110.00",
        "TARGET": "252.50",
        "PORTFOLIO_STOP": "-80.40",
        "CLOSED_EXTERNALLY": "0.00",
    }
    assert {s["strategy"]: s["pnl"] for s in figures["by_strategy"]} == {
        "s1": "142.50",  # -110 + 252.50
        "s2": "-80.40",  # -80.40 + 0
    }
    assert [(d["date"], d["trades"], d["pnl"]) for d in figures["daily"]] == [
        ("2026-12-01", 1, "-110.00"),
        ("2026-12-02", 1, "252.50"),
        ("2026-12-03", 2, "-80.40"),
    ]
    assert [p["equity"] for p in figures["equity"]] == ["-110.00", "142.50", "62.10", "62.10"]

    s1 = await api.data("performance", {"strategy": "s1"})
    assert (s1["trades"], s1["win_rate"], s1["total_pnl"]) == (2, "50.00", "142.50")
    day3 = await api.data("performance", {"from": "2026-12-03", "to": "2026-12-03"})
    assert (day3["trades"], day3["win_rate"], day3["total_pnl"]) == (2, "0.00", "-80.40")
    assert day3["filters"]["from"] == "2026-12-03"
    empty = await api.data("performance", {"to": "2026-11-30"})
    assert (empty["trades"], empty["win_rate"], empty["average_win"]) == (0, None, None)


@pytest.mark.asyncio
async def test_dashboard_routes_filter_export_and_compute_the_same(api: Api) -> None:
    await _seeded(api)
    async with logged_in(api) as (client, _):
        reply = await client.get("/ui/api/history", params={"strategy": "s2", "limit": 50})
        assert [h["trade_id"] for h in reply.json()["data"]] == ["H4", "H3"]
        export = await client.get("/ui/api/history.csv", params={"from": "2026-12-02"})
        assert export.status_code == 200
        assert [r["trade_id"] for r in _csv(export.text)] == ["H4", "H3", "H2"]
        assert "tradeguard-history-2026-12-02.csv" in export.headers["content-disposition"]
        figures = (await client.get("/ui/api/performance")).json()["data"]
        assert figures == await api.data("performance", {})
        for bad in ({"from": "2026-02-30"}, {"reason": "nope"}, {"colour": "red"}):
            for path in ("history", "history.csv", "performance"):
                refused = await client.get(f"/ui/api/{path}", params=bad)
                assert refused.status_code == 400, (path, bad, refused.text)


@pytest.mark.asyncio
async def test_a_real_stop_loss_exit_shows_its_trigger_fill_and_slippage(api: Api) -> None:
    await api.strategy()  # stop 10 points below the entry
    order_id = await api.stack.fill_entry("SBIN", "BUY", 10)
    trade = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    await api.move("SBIN", "801")
    api.stack.price("SBIN", "785")

    async def stopped() -> list[dict[str, Any]]:
        return await api.data("tradehistory", {"reason": "STOP_LOSS"})

    rows = await eventually(stopped, message="stop-loss exit in history")
    row = rows[0]
    assert row["trade_id"] == trade["trade_id"]
    assert row["trigger_price"] == trade["stop_loss"]
    fill, trigger = float(row["exit_price"]), float(row["trigger_price"])
    assert float(row["slippage"]) == pytest.approx(fill - trigger)
    assert float(row["slippage_amount"]) == pytest.approx((fill - trigger) * 10)
    assert row["holding_seconds"] >= 0
