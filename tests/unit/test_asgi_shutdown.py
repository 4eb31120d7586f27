"""Stopping an AsgiServer is bounded (adapters.asgi_server): a WebSocket handler that never
notices the close is cancelled after the graceful period instead of holding `stop()` forever
(uvicorn's default; a dashboard-stream test once sat 7 minutes in its api fixture's teardown).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from tests.helpers import within
from tradeguard.adapters.asgi_server import GRACEFUL_SHUTDOWN_S, AsgiServer


def test_every_server_bounds_its_graceful_shutdown() -> None:
    async def app(scope: object, receive: object, send: object) -> None:  # never called
        raise AssertionError

    assert AsgiServer(app).config.timeout_graceful_shutdown == GRACEFUL_SHUTDOWN_S
    assert AsgiServer(app, timeout_graceful_shutdown=0.5).config.timeout_graceful_shutdown == 0.5


@pytest.mark.asyncio
async def test_stop_cancels_a_websocket_handler_that_never_ends() -> None:
    accepted = asyncio.Event()
    cancelled = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        accepted.set()
        try:
            await asyncio.Event().wait()  # never reads: the close goes unnoticed
        except asyncio.CancelledError:
            cancelled.set()
            raise

    server = AsgiServer(app, timeout_graceful_shutdown=0.2)
    await server.start()
    url = server.url.replace("http", "ws")
    async with websockets.connect(url, close_timeout=1):
        await within(accepted.wait(), "the handler accepted")
        await within(server.stop(), "stop() despite the open stream")
    assert cancelled.is_set()
