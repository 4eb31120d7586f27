"""Interfaces layer (dashboard): the live WebSocket `/ui/stream`.

Authenticated by the session cookie (and, when the browser sends one, an Origin matching the
Host, against cross-site WebSocket hijacking). On connect it sends a `snapshot` message
(`{"trades": [...], "strategies": [...]}`), then every EventBus event of the session's
account as `{"kind", "data", "at"}`: level, exit, closed (a trade left the book: its symbol,
reason, exit price and realized P&L), strategy, alert, gap, trade (a trade view
whenever its price, P&L or levels change) and portfolio (a strategy view whenever its P&L or
state changes), plus `health` when the health report changes, and at once when the page
sends `{"kind": "health"}` (the page asks here, not over HTTP, so that every report it shows
comes through this one ordered channel: a report fetched on the side could land after, and
hide, a change this stream had no reason to push again). Updates of one trade (kinds
trade and level) or one strategy (portfolio) are coalesced, the newest winning, and sent at
most once per `interval` as one frame: a single message, or a `batch` message
(`{"kind": "batch", "data": [{"kind", "data", "at"}, ...], "at"}`) when the frame holds
several; exits, alerts and strategy changes go out at once.
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

from tradeguard.app.events import Event, ViewUpdate
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
    """One connection's outgoing side: immediate sends plus the coalescing buffer.

    Coalesced updates wait in `pending`, the newest per trade (or strategy) winning; a frame
    goes out as soon as one is pending and at most one frame per `interval`. A frame with
    several updates is one `batch` message (`{"kind": "batch", "data": [message, ...]}`), so
    a tick storm on 1,000 trades is one WebSocket message per interval, not thousands. View
    updates arrive already encoded (app.live_views): nothing is re-encoded per connection.
    """

    def __init__(self, websocket: WebSocket, interval: float) -> None:
        self.websocket = websocket
        self.interval = interval
        self.pending: dict[tuple[str, str], tuple[Event | ViewUpdate, int]] = {}
        self.ready = asyncio.Event()
        self.sent = 0

    async def send(self, kind: str, data: Any, at: int) -> None:
        await self.send_text(_message(kind, data, at))

    async def send_text(self, text: str) -> None:
        await self.websocket.send_text(text)
        self.sent += 1

    async def offer(self, event: Event) -> None:
        if event.updates:
            for update in event.updates:
                self.pending[(update.kind, update.key)] = (update, event.at)
            self.ready.set()
            return
        key_field = _COALESCED.get(event.kind)
        key = event.data.get(key_field) if key_field else None
        if isinstance(key, str):
            self.pending[(event.kind, key)] = (event, event.at)
            self.ready.set()
            return
        await self.send(event.kind, event.data, event.at)

    def frame(self) -> str | None:
        """The pending updates as one message (None when nothing is pending); clears them."""
        pending, self.pending = self.pending, {}
        self.ready.clear()
        texts = [
            f'{{"kind":"{item.kind}","data":{item.text},"at":{at}}}'
            if isinstance(item, ViewUpdate)
            else _message(item.kind, item.data, at)
            for item, at in pending.values()
        ]
        if len(texts) <= 1:
            return texts[0] if texts else None
        at = max(at for _, at in pending.values())
        return f'{{"kind":"batch","data":[{",".join(texts)}],"at":{at}}}'

    async def flush_forever(self) -> None:
        while True:
            await self.ready.wait()
            text = self.frame()
            if text is not None:
                await self.send_text(text)
            await asyncio.sleep(self.interval)


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
            snapshot = service.snapshot_json(account)  # joined from cached view texts
            now = service.clock.now()
            await pusher.send_text(f'{{"kind":"snapshot","data":{snapshot},"at":{now}}}')
            health = _Health(pusher, service)
            tasks = [
                asyncio.create_task(_forward(events, pusher, service, account)),
                asyncio.create_task(pusher.flush_forever()),
                asyncio.create_task(health.watch()),
                asyncio.create_task(_receive(websocket, health)),
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


class _Health:
    """One connection's health reports: pushed when the report changes (checked every
    HEALTH_EVERY) and whenever the page asks; `last` is what the page was sent last."""

    def __init__(self, pusher: _Pusher, service: TradeService) -> None:
        self.pusher = pusher
        self.service = service
        self.last: dict[str, Any] | None = None

    async def send(self, report: dict[str, Any] | None = None) -> None:
        """Send `report` (default: the current one) and remember it as the page's last."""
        self.last = report = self.service.health() if report is None else report
        await self.pusher.send("health", report, self.service.clock.now())

    async def watch(self) -> None:
        while True:
            report = self.service.health()
            if report != self.last:
                await self.send(report)
            await asyncio.sleep(HEALTH_EVERY)


async def _receive(websocket: WebSocket, health: _Health) -> None:
    """The page's requests until it disconnects: `{"kind": "health"}` answers the current
    report at once; anything else is ignored (logged at debug level)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        try:
            request = json.loads(text) if isinstance(text, str) and len(text) <= 1024 else None
        except ValueError:
            request = None
        if isinstance(request, dict) and request.get("kind") == "health":
            await health.send()
        else:
            log.debug("dashboard stream: ignored a message from the page")
