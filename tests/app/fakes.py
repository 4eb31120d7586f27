"""Tests: small hand-written doubles around the real PaperBroker and SqlStore.

`Timeline` records, in one list, every store commit and every broker placement, so a test can
check that the exit intent was committed before the order went out. `FaultyBroker` forwards to
the PaperBroker and injects the failures OpenAlgo can produce (scripted per call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.app.records import (
    AuditEntry,
    AuditQuery,
    AuditRecord,
    HistoryQuery,
    LoadedState,
    Record,
    TradeRecord,
)
from tradeguard.core.broker import (
    BrokerError,
    FillReport,
    OrderReport,
    OrderRequest,
    OrderStatus,
    PlaceResult,
    PositionReport,
    SmartOrderRequest,
    SymbolInfo,
)
from tradeguard.core.model import Tick


@dataclass
class Timeline:
    events: list[tuple[str, Any]] = field(default_factory=list)

    def index(self, kind: str, predicate: Any) -> int:
        for i, (k, item) in enumerate(self.events):
            if k == kind and predicate(item):
                return i
        raise AssertionError(f"no {kind} event matching")


class RecordingStore:
    """The real SqlStore, with every committed record noted on the timeline."""

    def __init__(self, inner: SqlStore, timeline: Timeline) -> None:
        self.inner = inner
        self.timeline = timeline
        self.down = False

    async def commit(self, records: Sequence[Record]) -> bool:
        for record in records:
            self.timeline.events.append(("commit", record))
        if self.down:
            return False
        return await self.inner.commit(records)

    async def load(self) -> LoadedState:
        return await self.inner.load()

    async def trade(self, trade_id: str) -> TradeRecord | None:
        return await self.inner.trade(trade_id)

    async def history(
        self, account: str | None, limit: int, query: HistoryQuery | None = None
    ) -> list[TradeRecord]:
        return await self.inner.history(account, limit, query)

    async def audit_page(self, query: AuditQuery) -> list[AuditEntry]:
        return await self.inner.audit_page(query)

    async def entry_trade(self, account: str, order_id: str) -> str | None:
        return await self.inner.entry_trade(account, order_id)

    def refused_view(self) -> dict[str, Any]:
        return self.inner.refused_view()

    async def audits(self, subject: str | None = None) -> list[AuditRecord]:
        return await self.inner.audit_entries(subject)

    @property
    def degraded(self) -> bool:
        return self.down or self.inner.degraded

    @property
    def pending(self) -> int:
        return self.inner.pending

    async def close(self) -> None:
        await self.inner.close()


class FaultyBroker:
    """PaperBroker plus scripted faults. `script` holds, per placement, an exception to raise
    ("before": nothing placed; "after": placed, then the error) or "hang"/"hang_after"."""

    def __init__(self, paper: PaperBroker, timeline: Timeline) -> None:
        self.paper = paper
        self.timeline = timeline
        self.script: list[tuple[str, BrokerError | None]] = []
        self.placed: list[OrderRequest | SmartOrderRequest] = []
        self.order_ids: list[str] = []
        self.position_reads = 0
        self.ping_failures = 0
        self.hang = asyncio.Event()
        self.inflight = 0
        self.max_inflight = 0
        self.barrier = 0  # hold placements until this many are in flight at once
        self._together = asyncio.Event()
        # A broker whose order reports lag its position book: each order placed while
        # `lag_reports` is set reads as still open, nothing filled, on its next that-many
        # order_status / order_book reads (its fill is in the position book at once).
        self.lag_reports = 0
        self._stale: dict[str, int] = {}
        self.status_reads = 0

    async def _place(self, request: OrderRequest | SmartOrderRequest) -> PlaceResult:
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.barrier:
                if self.inflight >= self.barrier:
                    self._together.set()
                await self._together.wait()  # a sequential executor would hang here
            when, error = self.script.pop(0) if self.script else ("", None)
            if when == "hang":
                await self.hang.wait()
            if when == "before" and error is not None:
                raise error
            self.timeline.events.append(("place", request))
            self.placed.append(request)
            if isinstance(request, SmartOrderRequest):
                result = await self.paper.place_smart_order(request)
            else:
                result = await self.paper.place_order(request)
            if result.order_id:
                self.order_ids.append(result.order_id)
                if self.lag_reports:
                    self._stale[result.order_id] = self.lag_reports
            if when == "hang_after":
                await self.hang.wait()
            if when == "after" and error is not None:
                raise error
            return result
        finally:
            self.inflight -= 1

    async def place_order(self, request: OrderRequest) -> PlaceResult:
        return await self._place(request)

    async def place_smart_order(self, request: SmartOrderRequest) -> PlaceResult:
        return await self._place(request)

    def _lagging(self, report: OrderReport) -> OrderReport:
        left = self._stale.get(report.order_id, 0)
        if not left:
            return report
        self._stale[report.order_id] = left - 1
        return replace(report, status=OrderStatus.OPEN, filled_quantity=0, average_price=None)

    async def order_status(self, order_id: str, strategy: str) -> OrderReport:
        self.status_reads += 1
        return self._lagging(await self.paper.order_status(order_id, strategy))

    async def order_book(self) -> list[OrderReport]:
        return [self._lagging(r) for r in await self.paper.order_book()]

    async def trade_book(self) -> list[FillReport]:
        return await self.paper.trade_book()

    async def position_book(self) -> list[PositionReport]:
        self.position_reads += 1
        return await self.paper.position_book()

    async def open_position(self, symbol: str, exchange: str, product: str, strategy: str) -> int:
        self.position_reads += 1
        return await self.paper.open_position(symbol, exchange, product, strategy)

    async def quotes(self, symbols: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return await self.paper.quotes(symbols)

    async def symbol_info(
        self, symbol: str, exchange: str, *, reference_price: int | None = None
    ) -> SymbolInfo:
        return await self.paper.symbol_info(symbol, exchange, reference_price=reference_price)

    async def ping(self) -> None:
        if self.ping_failures:
            self.ping_failures -= 1
            from tradeguard.core.broker import SessionDown

            raise SessionDown("Invalid openalgo apikey", status=403)


class FakeFeed:
    """A MarketFeed that records subscriptions; tests push ticks through the monitor."""

    def __init__(self) -> None:
        self.subscribed: dict[tuple[str, str], int] = {}
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []
        self._connected = True
        self.reconnects = 0
        self.started = self.stopped = False

    def set_handlers(self, on_tick: Any, on_order: Any) -> None:
        self.on_tick, self.on_order = on_tick, on_order

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def subscribe(self, symbols: Sequence[tuple[str, str]]) -> None:
        self.calls.append(("subscribe", list(symbols)))
        for key in symbols:
            self.subscribed[key] = 1

    async def unsubscribe(self, symbols: Sequence[tuple[str, str]]) -> None:
        self.calls.append(("unsubscribe", list(symbols)))
        for key in symbols:
            self.subscribed.pop(key, None)

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def connected_flag(self) -> bool:
        return self._connected

    @connected_flag.setter
    def connected_flag(self, value: bool) -> None:
        """Drop or restore the connection; coming back counts as a reconnect."""
        if value and not self._connected:
            self.reconnects += 1
        self._connected = value

    def last_tick_at(self, symbol: str, exchange: str) -> int | None:
        return None

    def stale_symbols(self, now_ns: int, threshold_s: float) -> list[tuple[str, str]]:
        return []

    def tick(self, tick: Tick) -> None:
        self.on_tick(tick)


class Alerts:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, dict[str, Any]]] = []

    def alert(self, level: str, message: str, **detail: Any) -> None:
        self.items.append((level, message, detail))

    def levels(self) -> list[str]:
        return [level for level, _, _ in self.items]


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []

    def publish(self, topic: str, payload: object) -> None:
        self.items.append((topic, payload))
