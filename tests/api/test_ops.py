"""Tests (operations): /health (200 ok, 503 degraded, JSON both ways), /metrics (Prometheus
text), /openapi.json (every endpoint) and /docs (no CDN assets); and serve() wiring: first run
creates the default account, key and user files (0600), serves the API, and a second run
shows no secret again."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Api
from tests.helpers import eventually
from tests.serving import serving
from tradeguard.config import Settings

ENDPOINTS = {
    "createtrade", "activetrades", "updatetrade", "protecttrade", "exittrade",
    "strategy/configure", "strategy/get", "strategy/list", "strategy/exitall", "strategy/pause",
    "strategy/resume", "tradehistory", "tradehistory/export", "performance",
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
def _latency(text: str) -> dict[str, tuple[int, float | None]]:
    """stage -> (samples, p50 seconds or None) from the Prometheus text."""
    out: dict[str, tuple[int, float | None]] = {}
    for stage in ("tick_to_send", "send_to_ack", "ack_to_complete"):
        count = re.search(
            rf'^tradeguard_exit_latency_samples_total{{stage="{stage}"}} (\d+)$', text, re.M
        )
        p50 = re.search(
            rf'^tradeguard_exit_latency_seconds{{stage="{stage}",quantile="0.5"}} (\S+)$',
            text,
            re.M,
        )
        assert count is not None, stage
        out[stage] = (int(count.group(1)), float(p50.group(1)) if p50 else None)
    return out


@pytest.mark.asyncio
async def test_exit_latency_stages_are_measured_and_exposed(api: Api) -> None:
    """One stop-loss exit whose order is accepted, then filled later: tick -> sent and
    sent -> acknowledged are recorded when the order is accepted, acknowledged -> complete only
    when it fills, each exactly once, and /metrics shows them."""
    assert set(_latency((await api.client.get("/metrics")).text).values()) == {(0, None)}
    await api.strategy()  # stop 10 points below the entry
    order_id = await api.stack.fill_entry("SBIN", "BUY", 4)
    view = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    await api.move("SBIN", "795")
    broker = api.stack.sim.broker
    broker.set_fill_late(True)
    tag = f":{view['trade_id']}"

    def exit_orders() -> list[str]:
        return [o.order_id for o in broker.book.orders.values() if o.request.strategy.endswith(tag)]

    api.stack.price("SBIN", "789")  # through the stop (790)
    await eventually(lambda: len(exit_orders()) == 1, message="the exit order is placed")

    def latency() -> dict[str, dict[str, int | None]]:
        stats: dict[str, dict[str, int | None]] = api.stack.service.metrics()["latency"]
        return stats

    await eventually(lambda: latency()["send_to_ack"]["count"] == 1, message="acknowledged")
    stats = latency()
    assert stats["tick_to_send"]["count"] == 1
    assert stats["ack_to_complete"]["count"] == 0  # accepted, not filled
    assert broker.release_late_fills() == exit_orders()
    await eventually(lambda: latency()["ack_to_complete"]["count"] == 1, message="filled")
    exposed = _latency((await api.client.get("/metrics")).text)
    assert {stage: count for stage, (count, _) in exposed.items()} == {
        "tick_to_send": 1,
        "send_to_ack": 1,
        "ack_to_complete": 1,
    }
    for stage, (_, p50) in exposed.items():
        assert p50 is not None, stage
        assert 0 < p50 < 60, (stage, p50)
    assert api.stack.service.metrics()["exits_by_reason"] == {"STOP_LOSS": 1}


@pytest.mark.asyncio
async def test_serve_first_run_creates_secrets_once_and_serves_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def run_once() -> tuple[str, str]:
        settings = Settings(data_dir=tmp_path, demo=False, port=0)
        async with serving(settings) as running:
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
