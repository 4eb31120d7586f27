"""Tests (API): the real app over the whole stack: simulator, OpenAlgo adapters, SQLite store,
the monitor, the account service with real argon2 (cheap parameters) and Fernet, and the ASGI
app served by uvicorn on a free port. Two accounts, alice and bob, each with an API key and a
dashboard user."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from cryptography.fernet import Fernet

from tests.helpers import eventually
from tests.stack import Stack, running_stack
from tradeguard.adapters.asgi_server import AsgiServer
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.security import Argon2Hasher, FernetBox
from tradeguard.app.accounts import AccountService
from tradeguard.app.publisher import ViewPublisher
from tradeguard.interfaces.api import ApiOptions, build_app

PASSWORD = "correct horse battery"
STRATEGY_SETTINGS = {
    "enable_sl": True,
    "sl_type": "POINTS",
    "sl_value": "10",
    "enable_target": True,
    "target_type": "POINTS",
    "target_value": "20",
    "max_open_positions": 5,
}


def fast_hasher() -> Argon2Hasher:
    return Argon2Hasher(time_cost=1, memory_cost=1024)


@dataclass
class Api:
    stack: Stack
    accounts: AccountService
    server: AsgiServer
    client: httpx.AsyncClient
    keys: dict[str, str]
    static_dir: Path
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    async def post(self, path: str, body: dict[str, Any], account: str = "alice") -> httpx.Response:
        payload = {"apikey": self.keys[account], **body}
        return await self.client.post(f"/api/v1/{path}", json=payload)

    async def data(self, path: str, body: dict[str, Any], account: str = "alice") -> Any:
        reply = await self.post(path, body, account)
        assert reply.status_code == 200, reply.text
        payload = reply.json()
        assert payload["status"] == "success"
        return payload["data"]

    async def move(self, symbol: str, value: str, account: str = "alice") -> None:
        """Set the simulator's price until the monitor has seen it (the simulator may not
        have processed the feed's subscription yet when the first tick goes out)."""
        expected = f"{float(value):.2f}"

        def seen() -> bool:
            self.stack.price(symbol, value)
            trades = self.stack.service.active_trades(account)
            return any(t["symbol"] == symbol and t["last_price"] == expected for t in trades)

        await eventually(seen, message=f"{symbol} at {value}")

    async def strategy(self, name: str = "s1", account: str = "alice", **settings: Any) -> Any:
        return await self.data(
            "strategy/configure",
            {"strategy": name, **STRATEGY_SETTINGS, **settings},
            account,
        )

    async def trade(
        self, symbol: str = "SBIN", strategy: str = "s1", account: str = "alice", **extra: Any
    ) -> dict[str, Any]:
        body = {
            "strategy": strategy,
            "symbol": symbol,
            "exchange": "NSE",
            "action": "BUY",
            "quantity": "10",
            "price": "800",
            **extra,
        }
        view: dict[str, Any] = await self.data("createtrade", body, account)
        return view


def static_files(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("<html><body>DASHBOARD</body></html>")
    (root / "login.html").write_text("<html><body>LOGIN</body></html>")
    (root / "app.js").write_text("console.log('x')")
    return root


@contextlib.asynccontextmanager
async def running_api(tmp_path: Path, **options: Any) -> AsyncIterator[Api]:
    async with running_stack(tmp_path) as stack:
        accounts = AccountService(
            stack.store, fast_hasher(), FernetBox(Fernet.generate_key()), SystemClock()
        )
        await accounts.load()
        keys = {}
        for name in ("alice", "bob"):
            await accounts.create_account(name, actor="test")
            keys[name] = await accounts.issue_api_key(name, actor="test")
            await accounts.create_user(name, PASSWORD, name, actor="test")
        static_dir = static_files(tmp_path / "static")
        settings: dict[str, Any] = {
            "rate": 1000.0,
            "burst": 1000,
            "auth_rate": 1000.0,
            "auth_burst": 1000,
            "stream_interval": 0.05,
        }
        settings.update(options)
        app = build_app(stack.service, accounts, ApiOptions(static_dir=static_dir, **settings))
        server = AsgiServer(app, port=0)
        await server.start()
        publisher = ViewPublisher(stack.service, interval=0.05)
        task = asyncio.create_task(publisher.run())
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
                yield Api(stack, accounts, server, client, keys, static_dir, [task])
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await server.stop()


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as running:
        yield running
