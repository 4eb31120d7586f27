"""Tests (operations): supervised background work as /health shows it, over the real stack
(simulator, OpenAlgo adapters, SQLite, uvicorn): a loop that raises once is restarted and
/health counts it while staying ok; a loop that keeps dying turns /health degraded (503) with
the task, since when and its error, a critical alert on the event bus and an audit entry."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api
from tests.helpers import eventually
from tradeguard.app.failpoints import Failpoints
from tradeguard.bootstrap.service import Running, serve
from tradeguard.config import Settings


@pytest.mark.asyncio
async def test_health_shows_restarted_and_dying_background_tasks(api: Api) -> None:
    runtime = api.stack.runtime
    ok = (await api.client.get("/health")).json()
    assert ok["background"] == {
        "degraded": [],
        "tasks": {
            name: {
                "state": "running",
                "degraded": False,
                "degraded_since": None,
                "restarts": 0,
                "failures": 0,
                "last_error": None,
                "last_failure_at": None,
            }
            for name in ("clock", "flush", "reconcile", "exit-watch")
        },
    }
    runtime.monitor.failpoints = Failpoints("raise:clock_loop:1")

    async def clock_task() -> dict[str, Any]:
        reply = await api.client.get("/health")
        task: dict[str, Any] = reply.json()["background"]["tasks"]["clock"]
        return task

    async def restarted() -> bool:
        task = await clock_task()
        return task["restarts"] == 1 and task["state"] == "running"

    await eventually(restarted, message="the clock loop is restarted")
    health = await api.client.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    assert (await clock_task())["last_error"] == "FailpointError: failpoint raise:clock_loop"
    metrics = (await api.client.get("/metrics")).text
    assert 'tradeguard_background_task_failures_total{task="clock"} 1\n' in metrics
    assert 'tradeguard_background_task_failures_total{task="flush"} 0\n' in metrics

    runtime.monitor.failpoints = Failpoints("raise:clock_loop")  # now it keeps dying

    async def degraded() -> dict[str, Any] | None:
        reply = await api.client.get("/health")
        return reply.json() if reply.status_code == 503 else None

    body = await eventually(degraded, timeout=10, message="/health degraded")
    assert body["status"] == "degraded"
    assert body["degraded"] == ["background_tasks"]
    assert body["background"]["degraded"] == ["clock"]
    clock = body["background"]["tasks"]["clock"]
    assert clock["degraded"] is True
    assert clock["degraded_since"] >= clock["last_failure_at"] - 10**10
    assert clock["last_error"] == "FailpointError: failpoint raise:clock_loop"
    assert clock["failures"] >= 3
    alerts = [
        e["data"]
        for e in api.stack.service.recent_events("alice")
        if e["kind"] == "alert" and e["data"].get("task") == "clock"
    ]
    assert [a["level"] for a in alerts].count("critical") == 1
    assert (
        "tradeguard is degraded" in next(a for a in alerts if a["level"] == "critical")["message"]
    )

    async def audited() -> list[str]:
        entries = await api.stack.store.audit_entries("task:clock")
        return [e.action for e in entries]

    actions = await eventually(
        lambda: _has(audited(), "task_degraded"), message="the degradation is audited"
    )
    assert "task_failed" in actions


async def _has(actions: Any, action: str) -> list[str] | None:
    found: list[str] = await actions
    return found if action in found else None


@pytest.mark.asyncio
async def test_serve_supervises_its_tasks_and_a_failpoint_degrades_health(
    tmp_path: Path,
) -> None:
    """`tradeguard run` as a whole (serve): the publisher and console run supervised next to
    the monitor's loops; TRADEGUARD_FAILPOINT=raise:clock_loop makes /health degraded."""
    started: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    settings = Settings(data_dir=tmp_path, demo=False, port=0, failpoint="raise:clock_loop")
    task = asyncio.create_task(serve(settings, console=True, started=started.set_result))
    try:
        running = await asyncio.wait_for(started, timeout=30)
        async with httpx.AsyncClient(base_url=running.extras["api"].url) as client:

            async def degraded() -> dict[str, Any] | None:
                reply = await client.get("/health")
                return reply.json() if reply.status_code == 503 else None

            body = await eventually(degraded, timeout=15, message="/health degraded")
        assert body["background"]["degraded"] == ["clock"]
        tasks = body["background"]["tasks"]
        assert set(tasks) == {
            "clock",
            "flush",
            "reconcile",
            "exit-watch",
            "view-publisher",
            "console",
            "db-backup",
        }
        assert tasks["view-publisher"]["state"] == "running"
        assert tasks["flush"]["failures"] == 0
    finally:
        if started.done():
            started.result().stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, timeout=10) == 0
