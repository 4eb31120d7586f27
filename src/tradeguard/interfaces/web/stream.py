"""Interfaces layer (dashboard): the live WebSocket `/ui/stream`.

Authenticated by the session cookie (and, when the browser sends one, an Origin matching the
Host, against cross-site WebSocket hijacking). On connect it sends a `snapshot` message
(`{"trades": [...], "strategies": [...]}`), then every EventBus event of the session's
account as `{"kind", "data", "at"}`: level, exit, closed (a trade left the book: its symbol,
reason, exit price and realized P&L), strategy, alert, gap, trade (a trade view
whenever its price, P&L or levels change) and portfolio (a strategy view whenever its P&L or
state changes), plus `health` when the health report changes. Updates of one trade (kinds
trade and level) or one strategy (portfolio) are coalesced to at most one per `interval`, the
newest winning; exits, alerts and strategy changes go out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from tradeguard.app.events import Event
from tradeguard.app.service import TradeService
from tradeguard.interfaces.api.context import ApiContext
from tradeguard.interfaces.web.auth import SESSION_COOKIE

log = logging.getLogger("tradeguard.web")

_COALESCED = {"trade": "trade_id", "level": "trade_id", "portfolio": "strategy_id"}
HEALTH_EVERY = 2.0


def _message(kind: str, data: Any, at: int) -> str:
    return json.dumps({"kind": kind, "data": data, "at": at}, default=str)


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if not origin:
        return True  # not a browser: the session cookie alone decides
    return urlsplit(origin).netloc == websocket.headers.get("host", "")


class _Pusher:
    """One connection's outgoing side: immediate sends plus the coalescing buffer."""

    def __init__(self, websocket: WebSocket, interval: float) -> None:
        self.websocket = websocket
        self.interval = interval
        self.pending: dict[tuple[str, str], Event] = {}
        self.sent = 0

    async def send(self, kind: str, data: Any, at: int) -> None:
        await self.websocket.send_text(_message(kind, data, at))
        self.sent += 1

    async def offer(self, event: Event) -> None:
        key_field = _COALESCED.get(event.kind)
        key = event.data.get(key_field) if key_field else None
        if isinstance(key, str):
            self.pending[(event.kind, key)] = event
            return
        await self.send(event.kind, event.data, event.at)

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            pending, self.pending = self.pending, {}
            for event in pending.values():
                await self.send(event.kind, event.data, event.at)


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.websocket("/ui/stream")
    async def stream(websocket: WebSocket) -> None:
        context: ApiContext = websocket.app.state.ctx
        session = context.accounts.session(websocket.cookies.get(SESSION_COOKIE))
        if session is None or not _same_origin(websocket):
            await websocket.close(code=4401 if session is None else 4403)
            return
        await websocket.accept()
        service = context.service
        account = session.account
        pusher = _Pusher(websocket, context.options.stream_interval)
        async with service.bus.subscribe(account) as events:
            snapshot = {
                "trades": service.active_trades(account),
                "strategies": service.list_strategies(account),
            }
            await pusher.send("snapshot", snapshot, service.clock.now())
            tasks = [
                asyncio.create_task(_forward(events, pusher, service, account)),
                asyncio.create_task(pusher.flush_forever()),
                asyncio.create_task(_health(pusher, service)),
                asyncio.create_task(_until_closed(websocket)),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = task.exception()
                    if error is not None and not isinstance(
                        error, WebSocketDisconnect | RuntimeError | OSError
                    ):
                        log.error("dashboard stream failed: %r", error)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close()

    return router


async def _forward(
    events: AsyncIterator[Event], pusher: _Pusher, service: TradeService, account: str
) -> None:
    async for event in events:
        if event.account is None and not service.event_visible_to(account, event.data):
            continue
        await pusher.offer(event)


async def _health(pusher: _Pusher, service: TradeService) -> None:
    last: dict[str, Any] | None = None
    while True:
        report = service.health()
        if report != last:
            last = report
            await pusher.send("health", report, service.clock.now())
        await asyncio.sleep(HEALTH_EVERY)


async def _until_closed(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
