"""Tests (operations): /health (200 ok, 503 degraded, JSON both ways), /metrics (Prometheus
text), /openapi.json (every endpoint) and /docs (no CDN assets); and serve() wiring: first run
creates the default account, key and user files (0600), serves the API, and a second run
shows no secret again."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Api
from tests.helpers import eventually
from tradeguard.bootstrap.service import Running, serve
from tradeguard.config import Settings

ENDPOINTS = {
    "createtrade", "activetrades", "updatetrade", "exittrade", "strategy/configure",
    "strategy/get", "strategy/list", "strategy/exitall", "strategy/pause", "strategy/resume",
    "tradehistory",
}  # fmt: skip


@pytest.mark.asyncio
async def test_health_metrics_openapi_docs(api: Api) -> None:
    healthy = await api.client.get("/health")
    assert healthy.status_code == 200, healthy.text
    assert healthy.json()["status"] == "ok"
    await api.strategy()
    await api.trade()  # just subscribed, no tick yet: not stale before the threshold
    fresh = await api.client.get("/health")
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["feed"]["stale_symbols"] == []
    assert "default-src 'self'" in fresh.headers["content-security-policy"]
    api.stack.service.stale_after = 0.0  # now any silence counts: degraded
    degraded = await api.client.get("/health")
    assert degraded.status_code == 503
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["feed"]["stale_symbols"] == ["NSE:SBIN"]
    api.stack.service.stale_after = 30.0
    await api.move("SBIN", "801")
    await eventually(lambda: api.stack.service.health()["status"] == "ok", message="fresh tick: ok")
    text = (await api.client.get("/metrics")).text
    for name in ("ticks_total", "decisions_total", "open_trades", "pending_writes"):
        assert re.search(rf"^tradeguard_{name} \d+", text, re.M), name
    assert "# TYPE tradeguard_exits_total counter" in text
    spec = (await api.client.get("/openapi.json")).json()
    assert {p.removeprefix("/api/v1/") for p in spec["paths"] if p.startswith("/api/v1/")} == (
        ENDPOINTS
    )
    assert "/health" in spec["paths"]
    assert "/metrics" in spec["paths"]
    docs = await api.client.get("/docs")
    assert docs.status_code == 200
    assert "/api/v1/createtrade" in docs.text
    assert "cdn" not in docs.text.lower()
    assert "<script" not in docs.text


@pytest.mark.slow
@pytest.mark.asyncio
async def test_serve_first_run_creates_secrets_once_and_serves_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def run_once() -> tuple[str, str]:
        started: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        settings = Settings(data_dir=tmp_path, demo=False, port=0)
        task = asyncio.create_task(serve(settings, console=False, started=started.set_result))
        try:
            running = await asyncio.wait_for(started, timeout=30)
            url = running.extras["api"].url
            async with httpx.AsyncClient(base_url=url) as client:
                health = await client.get("/health")
                assert health.status_code == 200, health.text
                key = (tmp_path / "api_key.txt").read_text().strip()
                reply = await client.post("/api/v1/strategy/list", json={"apikey": key})
                assert reply.status_code == 200, reply.text
                login = await client.get("/login")
                assert login.status_code in (200, 404)  # 404 only without static files
            return url, key
        finally:
            if started.done():
                started.result().stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                assert await asyncio.wait_for(task, timeout=10) == 0

    _, key = await run_once()
    first_output = capsys.readouterr().out
    for name in ("api_key.txt", "admin_password.txt", "secret.key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    password = (tmp_path / "admin_password.txt").read_text().strip()
    assert key in first_output
    assert password in first_output
    assert "dashboard: http://127.0.0.1:" in first_output
    await run_once()
    second_output = capsys.readouterr().out
    assert key not in second_output
    assert password not in second_output
