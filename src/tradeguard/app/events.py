"""App layer: an in-process event bus for live views (dashboard pushes, toasts).

Publishers never block: each subscriber has a bounded queue, and a subscriber that falls behind
loses its oldest events and is told how many it missed (a `gap` event), never the publisher.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ViewUpdate:
    """A live view that changed: `kind` trade (a trade view) or portfolio (a strategy view),
    `key` its trade or strategy id, `text` the view as JSON (encoded once, for every
    subscriber)."""

    kind: str
    key: str
    data: dict[str, Any]
    text: str


@dataclass(frozen=True, slots=True)
class Event:
    """`kind`: trade, strategy, exit, alert, health, gap, or views (`updates`: the live views
    that changed in one round of app.publisher, as one event however many they are, so a
    round never overflows a subscriber's queue). `account` None means everyone."""

    kind: str
    data: dict[str, Any]
    account: str | None = None
    at: int = 0
    updates: tuple[ViewUpdate, ...] = ()


@dataclass(slots=True)
class _Subscriber:
    account: str | None
    queue: asyncio.Queue[Event]
    missed: int = 0
    kinds: frozenset[str] | None = field(default=None)


# Periodic view refreshes (app.publisher) are not kept in the recent-events log.
VIEW_KINDS = frozenset({"trade", "portfolio", "views"})
# Told only to subscribers that ask for them by name (the terminal), and not kept in the
# recent-events log: `exit_sent` (the broker took an exit order).
QUIET_KINDS = frozenset({"exit_sent"})


def _wanted(sub: _Subscriber, kind: str) -> bool:
    """All kinds but the quiet ones, or exactly the kinds the subscriber named."""
    return kind not in QUIET_KINDS if sub.kinds is None else kind in sub.kinds


class EventBus:
    def __init__(self, queue_size: int = 1000, keep_recent: int = 500) -> None:
        self._subscribers: list[_Subscriber] = []
        self._queue_size = queue_size
        self.published = 0
        self.recent: deque[Event] = deque(maxlen=keep_recent)

    def publish(self, event: Event) -> None:
        self.published += 1
        if event.kind not in VIEW_KINDS and event.kind not in QUIET_KINDS:
            self.recent.append(event)
        for sub in self._subscribers:
            if event.account is not None and sub.account not in (None, event.account):
                continue
            if not _wanted(sub, event.kind):
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.missed += 1
            sub.queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(
        self, account: str | None = None, kinds: frozenset[str] | None = None
    ) -> AsyncIterator[AsyncIterator[Event]]:
        """Yield an async iterator of events visible to `account` (None: all accounts)."""
        sub = _Subscriber(account, asyncio.Queue(self._queue_size), kinds=kinds)
        self._subscribers.append(sub)

        async def events() -> AsyncIterator[Event]:
            while True:
                event = await sub.queue.get()
                if sub.missed:
                    missed, sub.missed = sub.missed, 0
                    yield Event("gap", {"missed": missed}, account)
                yield event

        try:
            yield events()
        finally:
            self._subscribers.remove(sub)

    def wants(self, kind: str) -> bool:
        """True when some subscriber would receive events of `kind` (publishers of costly
        views skip the work when nobody listens)."""
        return any(_wanted(sub, kind) for sub in self._subscribers)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
