"""Tests (dashboard stream): /ui/stream needs a session, sends a snapshot, pushes trade views
and an `exit` event when the simulator moves the price through a stop, and never another
account's events."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets

from tests.api.conftest import Api
from tests.api.test_dashboard import logged_in
from tests.helpers import eventually, recv
from tradeguard.interfaces.web import stream


def unpack(raw: str | bytes) -> list[dict[str, Any]]:
    """The messages one stream frame carries (a `batch` carries several, in order)."""
    message = json.loads(raw)
    assert set(message) == {"kind", "data", "at"}
    if message["kind"] != "batch":
        return [message]
    assert len(message["data"]) >= 2
    for inner in message["data"]:
        assert set(inner) == {"kind", "data", "at"}
    return list(message["data"])


async def next_message(ws: Any, kind: str, match: Any = None, limit: int = 500) -> dict[str, Any]:
    """The next message of `kind` (and matching `match`) on the stream; others are skipped."""
    for _ in range(limit):
        for message in unpack(await recv(ws)):
            if message["kind"] == kind and (match is None or match(message["data"])):
                return message
    raise AssertionError(f"no {kind} message")


@pytest.mark.asyncio
async def test_stream_requires_a_session(api: Api) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(api.url.replace("http", "ws") + "/ui/stream") as ws:
            await recv(ws)


@pytest.mark.asyncio
async def test_stream_refuses_a_foreign_origin(api: Api) -> None:
    async with logged_in(api) as (client, _):
        cookie = f"tg_session={client.cookies['tg_session']}"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(
            api.url.replace("http", "ws") + "/ui/stream",
            additional_headers={"Cookie": cookie},
            origin="http://evil.example",  # type: ignore[arg-type]
        ) as ws:
            await recv(ws)


@pytest.mark.asyncio
async def test_stream_pushes_snapshot_trade_updates_and_the_exit(api: Api) -> None:
    await api.strategy("s1")
    await api.strategy("s1", account="bob")
    order_id = await api.stack.fill_entry("SBIN", "BUY", 10)
    trade = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    other = await api.trade(symbol="SBIN", account="bob")  # same symbol, other account
    async with logged_in(api) as (client, _):
        cookie = f"tg_session={client.cookies['tg_session']}"
    url = api.url.replace("http", "ws") + "/ui/stream"
    async with websockets.connect(url, additional_headers={"Cookie": cookie}) as ws:
        snapshot = await next_message(ws, "snapshot")
        assert [t["trade_id"] for t in snapshot["data"]["trades"]] == [trade["trade_id"]]
        assert [s["strategy"] for s in snapshot["data"]["strategies"]] == ["s1"]
        await api.move("SBIN", "805")
        update = await next_message(ws, "trade", lambda d: d.get("last_price") == "805.00")
        assert update["data"]["pnl"] == "50.00"
        api.stack.price("SBIN", "789")  # through the stop at 790
        exit_event = await next_message(ws, "exit")
        assert exit_event["data"]["trade_id"] == trade["trade_id"]
        assert exit_event["data"]["reason"] == "STOP_LOSS"
        closed = await next_message(
            ws, "trade", lambda d: d["trade_id"] == trade["trade_id"] and d["state"] == "CLOSED"
        )
        assert closed["data"]["exit_reason"] == "STOP_LOSS"
    seen = api.stack.service.recent_events("alice")
    assert all(e["data"].get("trade_id") != other["trade_id"] for e in seen)


@pytest.mark.asyncio
async def test_the_page_asks_for_health_on_the_stream_and_gets_each_report_in_order(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page asks here, not over HTTP: an HTTP report could land after a newer push, or
    show a change the stream never saw (a feed drop shorter than its check) and so never
    pushed back, leaving "feed down" on the page for good (a browser test caught it)."""
    monkeypatch.setattr(stream, "HEALTH_EVERY", 3600.0)  # no change is pushed unasked here
    async with logged_in(api) as (client, _):
        cookie = f"tg_session={client.cookies['tg_session']}"
    url = api.url.replace("http", "ws") + "/ui/stream"
    sim_feed, feed = api.stack.sim.ws, api.stack.feed
    async with websockets.connect(url, additional_headers={"Cookie": cookie}) as ws:
        first = await next_message(ws, "health")
        assert first["data"]["feed"]["connected"] is True
        sim_feed.refuse_connections(True)
        sim_feed.drop_all()
        await eventually(lambda: not feed.connected, message="the feed is down")
        await ws.send(json.dumps({"kind": "health"}))
        down = await next_message(ws, "health")
        assert down["data"]["feed"]["connected"] is False
        assert "feed" in down["data"]["degraded"]
        sim_feed.refuse_connections(False)
        await eventually(lambda: feed.connected, message="the feed is back")
        await ws.send("not json")  # ignored, as is anything but a health request
        await ws.send(json.dumps({"kind": "snapshot"}))
        await ws.send(json.dumps({"kind": "health"}))
        back = await next_message(ws, "health")
        assert back["data"]["feed"]["connected"] is True
        assert "feed" not in back["data"]["degraded"]
