"""Tests (dashboard backend): pages, login with CSRF (double submit), session cookie flags,
lockout, logout, and the /ui/api endpoints with their session and CSRF checks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD, Api


async def csrf(client: httpx.AsyncClient) -> str:
    reply = await client.get("/auth/csrf")
    assert reply.status_code == 200
    token: str = reply.json()["csrf_token"]
    assert client.cookies.get("tg_csrf") == token
    return token


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    token = await csrf(client)
    return await client.post(
        "/auth/login", data={"username": username, "password": password, "csrf_token": token}
    )


@contextlib.asynccontextmanager
async def logged_in(
    api: Api, username: str = "alice"
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with httpx.AsyncClient(base_url=api.url, timeout=10.0) as client:
        reply = await login(client, username, PASSWORD)
        assert reply.status_code == 303, reply.text
        assert reply.headers["location"] == "/"
        yield client, client.cookies["tg_csrf"]


@pytest.mark.asyncio
async def test_pages_redirect_until_logged_in(api: Api) -> None:
    reply = await api.client.get("/")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login"
    assert "LOGIN" in (await api.client.get("/login")).text
    assert (await api.client.get("/static/app.js")).status_code == 200
    assert (await api.client.get("/ui/api/me")).status_code == 401
    async with logged_in(api) as (client, _):
        page = await client.get("/")
        assert page.status_code == 200
        assert "DASHBOARD" in page.text
        me = (await client.get("/ui/api/me")).json()
        assert me == {"status": "success", "data": {"username": "alice", "account": "alice"}}


@pytest.mark.asyncio
async def test_login_sets_a_strict_httponly_session_cookie(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        reply = await login(client, "alice", PASSWORD)
        cookie = next(
            h for h in reply.headers.get_list("set-cookie") if h.startswith("tg_session=")
        )
        flags = cookie.lower()
        assert "httponly" in flags
        assert "samesite=strict" in flags
        assert "path=/" in flags
        assert "secure" not in flags  # plain http here; Secure over https
        assert PASSWORD not in reply.text


@pytest.mark.asyncio
async def test_login_failures_csrf_and_lockout(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        reply = await login(client, "alice", "wrong password")
        assert reply.headers["location"] == "/login?error=1"
        no_csrf = await client.post(
            "/auth/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "x"}
        )
        assert no_csrf.headers["location"] == "/login?error=csrf"
        assert "tg_session" not in client.cookies
        for _ in range(3):
            assert (await login(client, "alice", "nope")).headers["location"] == "/login?error=1"
        assert (await login(client, "alice", "nope")).headers["location"] == "/login?error=locked"
        locked = await login(client, "alice", PASSWORD)
        assert locked.headers["location"] == "/login?error=locked"
        assert "tg_session" not in client.cookies
        ok = await login(client, "bob", PASSWORD)  # another user is not affected
        assert ok.headers["location"] == "/"


@pytest.mark.asyncio
async def test_ui_api_endpoints_and_csrf(api: Api) -> None:
    await api.strategy("s1")
    trade = await api.trade()
    async with logged_in(api) as (client, token):
        headers = {"X-CSRF-Token": token}

        async def get(path: str) -> Any:
            reply = await client.get(f"/ui/api/{path}")
            assert reply.status_code == 200, reply.text
            return reply.json()["data"]

        async def post(path: str, body: Any = None, expect: int = 200) -> Any:
            reply = await client.post(f"/ui/api/{path}", json=body or {}, headers=headers)
            assert reply.status_code == expect, reply.text
            return reply.json().get("data") or reply.json().get("message")

        assert [t["trade_id"] for t in await get("trades")] == [trade["trade_id"]]
        assert [s["strategy"] for s in await get("strategies")] == ["s1"]
        assert (await get("health"))["monitor"]["trades"] == 1
        assert await get("history?limit=5") == []
        refused = await client.post(
            f"/ui/api/trades/{trade['trade_id']}/exit", headers={"X-CSRF-Token": "forged"}
        )
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["message"]
        assert (await client.post(f"/ui/api/trades/{trade['trade_id']}/exit")).status_code == 403
        updated = await post(
            f"trades/{trade['trade_id']}/update", {"target": {"type": "POINTS", "value": "40"}}
        )
        assert updated["target"] == "840.00"
        assert "unknown field" in await post(
            f"trades/{trade['trade_id']}/update", {"nope": 1}, expect=400
        )
        configured = await post("strategies/s1/configure", {"target_value": "25"})
        assert configured["config"]["target_value"] == "25"
        assert (await post("strategies/s1/pause"))["state"] == "PAUSED"
        assert "PAUSED" in await post("strategies/s1/pause", expect=409)
        assert (await post("strategies/s1/resume"))["state"] == "ACTIVE"
        await post("strategies/ghost/exitall", expect=404)
        exited = await post("strategies/s1/exitall")
        assert [t["trade_id"] for t in exited] == [trade["trade_id"]]
        await post("trades/Tnope/exit", expect=404)
        events = await get("events")
        assert any(e["kind"] == "exit" for e in events)
        assert all(set(e) == {"kind", "data", "at"} for e in events)
        # logout ends the session server-side (with the session's CSRF token)
        out = await client.post("/auth/logout", headers=headers)
        assert out.status_code == 303
        assert out.headers["location"] == "/login"
        assert (await client.get("/ui/api/me")).status_code == 401


@pytest.mark.asyncio
async def test_ui_session_sees_only_its_account(api: Api) -> None:
    await api.strategy("s1", account="bob")
    bob_trade = await api.trade(account="bob")
    async with logged_in(api, "alice") as (client, token):
        assert (await client.get("/ui/api/trades")).json()["data"] == []
        reply = await client.post(
            f"/ui/api/trades/{bob_trade['trade_id']}/exit", headers={"X-CSRF-Token": token}
        )
        assert reply.status_code == 404
    assert api.stack.service.active_trades("bob")[0]["state"] == "ACTIVE"
