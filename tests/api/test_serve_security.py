"""Tests (security, issue 12, through serve()): the embedded simulator of `tradeguard run`
takes TRADEGUARD_OPENALGO_API_KEY as its key, prints it for /sim/admin and refuses /sim/admin
without it; the data directory ends 0700 and the database files 0600."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import httpx
import pytest

from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER
from tradeguard.bootstrap.service import Running, serve
from tradeguard.config import Settings

SIM_KEY = "5" * 64


@pytest.mark.asyncio
async def test_serve_embedded_simulator_admin_key_and_private_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)  # as an older installation left it
    started: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    settings = Settings(data_dir=data, demo=False, port=0, openalgo_api_key=SIM_KEY)
    task = asyncio.create_task(serve(settings, console=False, started=started.set_result))
    try:
        running = await asyncio.wait_for(started, timeout=30)
        assert running.simulator is not None
        base = running.simulator.rest_url
        body = {"symbol": "SBIN", "exchange": "NSE", "ltp": "801"}
        async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
            refused = await http.post("/sim/admin/price", json=body)
            assert refused.status_code == 403
            allowed = await http.post(
                "/sim/admin/price", json=body, headers={ADMIN_KEY_HEADER: SIM_KEY}
            )
            assert allowed.status_code == 200, allowed.text
        assert data.stat().st_mode & 0o777 == 0o700
        for name in ("tradeguard.db", "tradeguard.db-wal", "tradeguard.db-shm"):
            assert (data / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        if started.done():
            started.result().stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, timeout=10) == 0
    banner = capsys.readouterr().out
    assert f"\n  API key  {SIM_KEY}\n" in banner
    assert "X-Sim-Admin-Key" in banner
    for name in ("simulator.env", "simulator.json"):  # its address and key; its books
        assert (data / name).stat().st_mode & 0o777 == 0o600, name
    assert f"SIM_KEY={SIM_KEY}\n" in (data / "simulator.env").read_text()
