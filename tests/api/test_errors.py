"""Tests (API): authentication (403 like OpenAlgo), envelope and body errors, rate limits
(429), unknown paths, and the 500 path that never leaks details."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.api.conftest import Api, running_api


@pytest.mark.asyncio
async def test_wrong_or_missing_apikey_is_403_or_400(api: Api) -> None:
    await api.strategy()
    for key in ("0" * 64, "not-a-key", api.keys["alice"][:-1] + "x", api.keys["alice"].upper()):
        reply = await api.client.post("/api/v1/strategy/list", json={"apikey": key})
        assert reply.status_code == 403, key
        assert reply.json() == {"status": "error", "message": "Invalid apikey"}
    reply = await api.client.post("/api/v1/strategy/list", json={})
    assert reply.status_code == 400
    assert "apikey" in reply.json()["message"]


@pytest.mark.asyncio
async def test_body_must_be_a_json_object(api: Api) -> None:
    for content, kind in (
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
        (b"apikey=x", "application/x-www-form-urlencoded"),
    ):
        reply = await api.client.post(
            "/api/v1/activetrades", content=content, headers={"content-type": kind}
        )
        assert reply.status_code == 400, (content, reply.text)
        assert reply.json()["status"] == "error"
    reply = await api.client.post(
        "/api/v1/strategy/configure", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400
    assert "JSON" in reply.json()["message"]


@pytest.mark.asyncio
async def test_unknown_path_and_wrong_method(api: Api) -> None:
    reply = await api.client.post("/api/v1/nope", json={})
    assert reply.status_code == 404
    assert reply.json() == {"status": "error", "message": "Not found"}
    reply = await api.client.get("/api/v1/activetrades")
    assert reply.status_code == 405
    assert reply.json()["status"] == "error"


@pytest.mark.asyncio
async def test_unhandled_error_is_500_without_detail(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(account: str, strategy: str | None = None) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api.stack.service, "active_trades_json", boom)
    with caplog.at_level(logging.ERROR, logger="tradeguard.api"):
        reply = await api.post("activetrades", {})
    assert reply.status_code == 500
    assert reply.json() == {"status": "error", "message": "internal error"}
    assert "secret internal detail" in caplog.text


@pytest.mark.asyncio
async def test_rate_limit_per_apikey_and_per_ip(tmp_path: Path) -> None:
    async with running_api(tmp_path, rate=1.0, burst=3) as api:
        codes = [(await api.post("strategy/list", {})).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3:] == [429, 429]
        reply = await api.post("strategy/list", {})
        assert reply.status_code == 429
        assert reply.json()["status"] == "error"
        assert int(reply.headers["retry-after"]) >= 1
        # the IP's bucket is empty too: even another key (or none) is refused
        other = await api.post("strategy/list", {}, account="bob")
        assert other.status_code == 429
        metrics = (await api.client.get("/metrics")).text
        assert 'tradeguard_api_responses_total{code="429"}' in metrics
