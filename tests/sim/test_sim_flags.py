"""`tradeguard sim`'s fault and replay flags switch the simulator's faults on at start.

The flags are parsed by the real CLI parser and mapped by `bootstrap.sim_options`; the faults
are then checked over REST and the WebSocket, as a client would see them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.helpers import eventually
from tests.sim.admin import sim_flags, sim_http
from tests.sim.ws_fakes import ask, next_is_pong, recv
from tradeguard.adapters.sim.embedded import (
    EmbeddedSimulator,
    SimulatorOptions,
    SimulatorSetupError,
    apply_start_faults,
)
from tradeguard.adapters.sim.faults import EVERY_ORDER, StartFaults
from tradeguard.interfaces import cli


def options(*flags: str) -> SimulatorOptions:
    return sim_flags(*flags)


@asynccontextmanager
async def serving(*flags: str) -> AsyncIterator[tuple[EmbeddedSimulator, httpx.AsyncClient]]:
    async with (
        EmbeddedSimulator(options(*flags)) as sim,
        sim_http(sim) as http,
    ):
        yield sim, http


def order(sim: EmbeddedSimulator, action: str = "BUY") -> dict[str, str]:
    return {
        "apikey": sim.apikey,
        "strategy": "t",
        "symbol": "SBIN",
        "exchange": "NSE",
        "action": action,
        "quantity": "1",
        "pricetype": "MARKET",
        "product": "MIS",
    }


async def admin(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(path, content=json.dumps(body))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_flags_map_onto_start_faults() -> None:
    opts = options(
        "--delay-ms", "250", "--fail", "429", "--fail-count", "3",
        "--fail-endpoints", "placeorder, ping", "--reject-orders", "RMS: no margin",
        "--reject-count", "2", "--fill-late", "--semi-auto", "--stale-feed",
        "--duplicate-ticks", "--duplicate-orders",
    )  # fmt: skip
    assert opts.faults == StartFaults(
        delay_ms=250,
        fail="429",
        fail_count=3,
        fail_endpoints=("placeorder", "ping"),
        reject_message="RMS: no margin",
        reject_count=2,
        fill_late=True,
        semi_auto=True,
        stale_feed=True,
        duplicate_ticks=True,
        duplicate_orders=True,
    )
    assert opts.faults.rest_spec() == {
        "delay_ms": 250,
        "fail": "429",
        "fail_count": 3,
        "endpoints": ["placeorder", "ping"],
        "reject_next": 2,
        "reject_message": "RMS: no margin",
        "fill_late": True,
        "semi_auto": True,
    }
    assert opts.faults.feed_spec() == {
        "stale": True,
        "duplicate_ticks": True,
        "duplicate_orders": True,
    }
    assert (opts.rest_port, opts.ws_port, opts.walk, opts.apikey) == (0, 0, False, "k" * 64)


def test_no_fault_flags_means_no_faults() -> None:
    opts = options()
    assert opts.faults == StartFaults()
    assert opts.faults.rest_spec() == {}
    assert opts.faults.feed_spec() == {}
    assert opts.replay is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--fail-count", "1"], "--fail-count and --fail-endpoints need --fail"),
        (["--fail-endpoints", "ping"], "--fail-count and --fail-endpoints need --fail"),
        (["--reject-count", "1"], "--reject-count needs --reject-orders"),
        (["--replay-speed", "-1"], "--replay-speed must be >= 0"),
    ],
)
def test_flag_combinations_are_checked(flags: list[str], message: str) -> None:
    with pytest.raises(cli.CommandError, match=message):
        options(*flags)


@pytest.mark.parametrize(
    "flags",
    [["--fail", "teapot"], ["--delay-ms", "-5"], ["--fail-count", "x"], ["--reject-count", "-1"]],
)
def test_bad_flag_values_are_usage_errors(flags: list[str]) -> None:
    with pytest.raises(cli.CommandError):
        options(*flags)


def test_an_unknown_fail_endpoint_cannot_start_the_simulator() -> None:
    with pytest.raises(SimulatorSetupError, match="unknown endpoint"):
        EmbeddedSimulator(options("--fail", "500", "--fail-endpoints", "placeOrder"))


@pytest.mark.asyncio
async def test_reject_orders_answers_400_with_the_message() -> None:
    flags = ("--reject-orders", "RMS: margin exceeds cash", "--reject-count", "1")
    async with serving(*flags) as (sim, http):
        first = await http.post("/api/v1/placeorder", json=order(sim))
        assert first.status_code == 400
        assert first.json() == {"status": "error", "message": "RMS: margin exceeds cash"}
        second = await http.post("/api/v1/placeorder", json=order(sim))
        assert second.status_code == 200, second.text
        assert second.json()["orderid"]


@pytest.mark.asyncio
async def test_reject_orders_without_a_count_rejects_every_order_until_reset() -> None:
    async with serving("--reject-orders", "RMS: blocked") as (sim, http):
        for _ in range(3):
            response = await http.post("/api/v1/placeorder", json=order(sim))
            assert response.status_code == 400
            assert response.json()["message"] == "RMS: blocked"
        await admin(http, "/sim/admin/faults", {"reset": True})
        response = await http.post("/api/v1/placeorder", json=order(sim))
        assert response.status_code == 200, response.text


@pytest.mark.asyncio
async def test_fail_500_with_a_count_fails_only_the_first_call() -> None:
    async with serving("--fail", "500", "--fail-count", "1") as (sim, http):
        body = {"apikey": sim.apikey}
        first = await http.post("/api/v1/ping", json=body)
        assert first.status_code == 500
        assert first.json() == {"status": "error", "message": "An unexpected error occurred"}
        second = await http.post("/api/v1/ping", json=body)
        assert second.status_code == 200
        assert second.json()["data"]["message"] == "pong"


@pytest.mark.asyncio
async def test_fail_endpoints_limits_the_failure() -> None:
    async with serving("--fail", "403", "--fail-endpoints", "placeorder") as (sim, http):
        ping = await http.post("/api/v1/ping", json={"apikey": sim.apikey})
        assert ping.status_code == 200
        for _ in range(2):  # no count: until cleared
            placed = await http.post("/api/v1/placeorder", json=order(sim))
            assert placed.status_code == 403
            assert placed.json() == {"status": "error", "message": "Invalid openalgo apikey"}


@pytest.mark.asyncio
async def test_delay_and_semi_auto_show_in_the_fault_state() -> None:
    async with serving("--delay-ms", "5", "--semi-auto") as (sim, http):
        state = await admin(http, "/sim/admin/faults", {})
        assert state["delay_ms"] == 5
        assert state["semi_auto"] is True
        queued = await http.post("/api/v1/placeorder", json=order(sim))
        assert queued.status_code == 200
        assert queued.json()["mode"] == "semi_auto"
        assert "orderid" not in queued.json()


@pytest.mark.asyncio
async def test_fill_late_holds_orders_open_until_released() -> None:
    async with serving("--fill-late") as (sim, http):
        placed = await http.post("/api/v1/placeorder", json=order(sim))
        order_id = placed.json()["orderid"]
        status_body = {"apikey": sim.apikey, "orderid": order_id, "strategy": "t"}
        status = await http.post("/api/v1/orderstatus", json=status_body)
        assert status.json()["data"]["order_status"] == "open"
        released = await admin(http, "/sim/admin/faults", {"release_late": True})
        assert released["released"] == [order_id]
        status = await http.post("/api/v1/orderstatus", json=status_body)
        assert status.json()["data"]["order_status"] == "complete"


@pytest.mark.asyncio
async def test_feed_flags_make_the_feed_stale_and_duplicate() -> None:
    async with serving("--stale-feed", "--duplicate-ticks") as (sim, http):
        state = await admin(http, "/sim/admin/feed", {})
        assert state == {
            "stale": True,
            "duplicate_ticks": True,
            "duplicate_orders": False,
            "refuse": False,
            "dropped": 0,
        }
        async with connect(sim.ws_url, proxy=None) as ws:
            await ask(ws, {"action": "authenticate", "api_key": sim.apikey})
            sub = {"symbol": "SBIN", "exchange": "NSE"}
            await ask(ws, {"action": "subscribe", "symbols": [sub], "mode": 1})
            await admin(http, "/sim/admin/price", sub | {"ltp": "801"})
            await next_is_pong(ws)  # stale: no tick
            await admin(http, "/sim/admin/feed", {"stale": False})
            await admin(http, "/sim/admin/price", sub | {"ltp": "802"})
            first, second = await recv(ws), await recv(ws)
            assert first == second
            assert first["data"]["ltp"] == 802.0


@pytest.mark.asyncio
async def test_replay_publishes_the_file_instead_of_the_walk(tmp_path: Path) -> None:
    ticks = tmp_path / "ticks.csv"
    ticks.write_text(
        "timestamp,symbol,exchange,ltp\n"
        "2025-03-03T09:15:00+05:30,RELIANCE,NSE,2900.00\n"
        "2025-03-03T09:15:01+05:30,RELIANCE,NSE,2901.50\n"
        "2025-03-03T09:15:02+05:30,ACME,BSE,12.25\n",
        encoding="utf-8",
    )
    async with serving("--replay", str(ticks), "--replay-speed", "0") as (sim, http):
        assert sim.options.replay == ticks

        async def ltp(symbol: str, exchange: str) -> float | None:
            body = {"apikey": sim.apikey, "symbol": symbol, "exchange": exchange}
            response = await http.post("/api/v1/quotes", json=body)
            return response.json()["data"]["ltp"] if response.status_code == 200 else None

        assert await eventually(lambda: ltp("ACME", "BSE")) == 12.25
        assert await ltp("RELIANCE", "NSE") == 2901.5
        assert await ltp("SBIN", "NSE") == 800.0  # configured symbols stay, static


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("timestamp,symbol,exchange,ltp\nyesterday,SBIN,NSE,1\n", "replay line 2"),
        ("timestamp,symbol,exchange,ltp\n", "no ticks to replay"),
        ("timestamp,symbol,exchange,ltp\n1,SBIN,NSE,0\n", "non-positive ltp"),
    ],
)
def test_a_bad_replay_file_cannot_start_the_simulator(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "ticks.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SimulatorSetupError, match=message):
        EmbeddedSimulator(options("--replay", str(path)))


@pytest.mark.asyncio
async def test_apply_start_faults_is_the_admin_path() -> None:
    async with serving() as (sim, http):
        state = apply_start_faults(sim, StartFaults(reject_message="nope", stale_feed=True))
        assert state["feed"]["stale"] is True
        assert state["rest"]["fail"] is None
        assert state["rest"]["fill_late"] is False
        for _ in range(2):  # no count: every order
            placed = await http.post("/api/v1/placeorder", json=order(sim))
            assert placed.status_code == 400
            assert placed.json()["message"] == "nope"
        assert (await admin(http, "/sim/admin/feed", {}))["stale"] is True


def test_every_order_is_the_reject_count_without_one() -> None:
    spec = StartFaults(reject_message="nope").rest_spec()
    assert spec == {"reject_next": EVERY_ORDER, "reject_message": "nope"}
