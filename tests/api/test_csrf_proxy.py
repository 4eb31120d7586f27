"""Tests (security, issue 12): the dashboard's CSRF token is bound to the session, logout
needs it, and the cookies' Secure flag believes X-Forwarded-Proto only from a trusted proxy."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import PASSWORD, Api, running_api
from tests.api.test_dashboard import csrf, logged_in, login
from tradeguard.config import SettingsError, load_settings


@pytest.mark.asyncio
async def test_a_double_submit_pair_not_bound_to_the_session_is_refused(api: Api) -> None:
    await api.strategy("s1")
    async with logged_in(api) as (client, bound):
        # an attacker who can plant a cookie (sibling subdomain, plain http) sends a matching
        # cookie and header of their own: not the session's token, so refused
        forged = "A" * 43
        session = client.cookies["tg_session"]

        async def pause(cookie_csrf: str, sent: str) -> httpx.Response:
            async with httpx.AsyncClient(base_url=api.url) as bare:
                return await bare.post(
                    "/ui/api/strategies/s1/pause",
                    headers={
                        "Cookie": f"tg_session={session}; tg_csrf={cookie_csrf}",
                        "X-CSRF-Token": sent,
                    },
                )

        reply = await pause(forged, forged)
        assert reply.status_code == 403, reply.text
        assert "CSRF" in reply.json()["message"]
        # the token of another session of the same user does not work either
        async with logged_in(api) as (_, other):
            assert other != bound
            assert (await pause(other, other)).status_code == 403
        assert (await pause(bound, bound)).status_code == 200
        # /auth/csrf hands a logged-in page its bound token
        assert await csrf(client) == bound


@pytest.mark.asyncio
async def test_logout_needs_the_csrf_token(api: Api) -> None:
    async with logged_in(api) as (client, bound):
        refused = await client.post("/auth/logout")
        assert refused.status_code == 403
        assert (await client.get("/ui/api/me")).status_code == 200  # still logged in
        forged = await client.post("/auth/logout", data={"csrf_token": "B" * 43})
        assert forged.status_code == 403
        out = await client.post("/auth/logout", data={"csrf_token": bound})
        assert out.status_code == 303
        assert (await client.get("/ui/api/me")).status_code == 401


def _cookie_flags(reply: httpx.Response, name: str) -> str:
    return next(h for h in reply.headers.get_list("set-cookie") if h.startswith(name + "=")).lower()


async def _login_via_proxy(api: Api) -> httpx.Response:
    """As a browser on https would through the proxy (httpx keeps Secure cookies off http, so
    the CSRF cookie is sent by hand)."""
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
        token = (await client.get("/auth/csrf")).json()["csrf_token"]
        reply = await client.post(
            "/auth/login",
            data={"username": "alice", "password": PASSWORD, "csrf_token": token},
            headers={"Cookie": f"tg_csrf={token}"},
        )
        assert reply.headers["location"] == "/"
        return reply


@pytest.mark.asyncio
async def test_secure_cookies_behind_a_trusted_proxy_only(tmp_path: Path) -> None:
    async with running_api(tmp_path / "a") as api:  # no trusted proxy: the header is ignored
        reply = await _login_via_proxy(api)
        assert "secure" not in _cookie_flags(reply, "tg_session")
    trusted = (ipaddress.ip_network("127.0.0.1/32"),)
    async with running_api(tmp_path / "b", trusted_proxies=trusted) as api:
        reply = await _login_via_proxy(api)
        assert "secure" in _cookie_flags(reply, "tg_session")
        assert "secure" in _cookie_flags(reply, "tg_csrf")


@pytest.mark.asyncio
async def test_login_budget_is_the_forwarded_clients_behind_a_trusted_proxy(
    tmp_path: Path,
) -> None:
    trusted = (ipaddress.ip_network("127.0.0.0/8"),)
    # a budget of 2 that never refills during the test (one attempt back every 11.6 days):
    # at the default 1 a second, three attempts spread over more than a second of a loaded
    # machine's wall clock earned the third one back (`error=1` instead of `error=locked`)
    budget = {"login_burst": 2, "login_rate": 1e-6}
    async with running_api(tmp_path, trusted_proxies=trusted, **budget) as api:

        async def attempt(client_ip: str) -> str:
            headers = {"X-Forwarded-For": f"198.51.100.9, {client_ip}"}
            async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
                location: str = (await login(client, "bob", "wrong pass")).headers["location"]
                return location

        assert [await attempt("203.0.113.7") for _ in range(3)][-1] == "/login?error=locked"
        assert await attempt("203.0.113.8") == "/login?error=1"  # another client's budget


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.0.0.300", "not an IP address or network"),
        ("10.0.0.1/24", "not an IP address or network"),  # host bits set
        ("0.0.0.0/0", "would trust every address"),
        ("::/0", "would trust every address"),
        ("proxy.local", "not an IP address or network"),
        (",".join(f"10.0.0.{n}" for n in range(40)), "at most 32"),
    ],
)
def test_trusted_proxies_setting_is_checked(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"TRADEGUARD_TRUSTED_PROXIES": value})


def test_trusted_proxies_setting_accepts_addresses_and_networks() -> None:
    settings = load_settings({"TRADEGUARD_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"})
    assert settings.trusted_proxies == "127.0.0.1, 10.0.0.0/8,::1"
