"""Adapters layer: run an ASGI app with uvicorn as a task on the current event loop.

The caller owns signal handling (uvicorn's own capture is turned off), so one Ctrl+C stops
tradeguard in its own order: monitor first, then the servers. HTTP is parsed by httptools (C),
not h11 (pure Python): for the simulator's REST server that took about 0.15 ms off each
request an exit makes (docs/performance.md). Stopping is bounded: connections still open
(a dashboard's WebSocket stream, a handler that never notices the close) get
`GRACEFUL_SHUTDOWN_S` to finish, then their tasks are cancelled; uvicorn's own default waits
for them forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any

import uvicorn

GRACEFUL_SHUTDOWN_S = 2.0


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class AsgiServer:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        # proxy_headers off: uvicorn would otherwise believe X-Forwarded-* from 127.0.0.1; the
        # app does that itself, only from TRADEGUARD_TRUSTED_PROXIES (interfaces/api/proxies)
        options: dict[str, Any] = {
            "log_level": "warning",
            "lifespan": "off",
            "http": "httptools",
            "proxy_headers": False,
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        }
        options.update(config)
        self._server = _Server(uvicorn.Config(app, host=host, port=port, **options))
        self._task: asyncio.Task[None] | None = None
        self.host = host

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="asgi-server")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)

    @property
    def config(self) -> uvicorn.Config:
        return self._server.config

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None
