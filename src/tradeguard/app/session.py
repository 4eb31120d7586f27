"""App layer: the broker session (OpenAlgo's daily re-login), watched whether or not an exit is
in flight.

OpenAlgo answers every API call with 403 while its broker session is missing or revoked.
`BrokerSession` holds what tradeguard knows: any 403 from any call made through
`SessionGateway` (the executor's broker: placements, position reads, order resolution; and
whatever else is handed the wrapped gateway) marks it down; a successful `ping` (authenticated,
so it succeeds exactly when the session is back) or a successful placement marks it up. Each
change alerts once (critical when down, info when back) and is audited (subject "broker").

`on_clock()` (called from the monitor's once-a-second clock step) pings while the session is
down (every `down_interval`) and, cheaply, every `up_interval` while it is up, so an outage is
noticed and shown on /health with no exit in flight. Pings use the gateway's low priority.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from tradeguard.app.ports import AlertSink, BrokerGateway, Clock, Store
from tradeguard.app.records import AuditRecord
from tradeguard.app.snapshots import audit, commit_logged
from tradeguard.app.tasks import cancel_and_wait
from tradeguard.core.broker import (
    BrokerError,
    FillReport,
    OrderReport,
    OrderRequest,
    PlaceResult,
    PositionReport,
    SessionDown,
    SmartOrderRequest,
    SymbolInfo,
)

log = logging.getLogger(__name__)

NS = 1_000_000_000
SUBJECT = "broker"  # the audit subject of session changes
T = TypeVar("T")


class BrokerSession:
    """Up or down, with one alert per change; see the module docstring."""

    def __init__(
        self,
        broker: BrokerGateway,
        clock: Clock,
        alerts: AlertSink,
        store: Store,
        *,
        down_interval: float = 2.0,
        up_interval: float = 30.0,
    ) -> None:
        self._broker = broker  # unwrapped: a probe reports its own outcome
        self._clock = clock
        self._alerts = alerts
        self._store = store
        self.down_interval = down_interval
        self.up_interval = up_interval
        self.down = False
        self.down_since: int | None = None
        self._last_probe = clock.now()
        self._probe: asyncio.Task[bool] | None = None
        self._audits: set[asyncio.Task[bool]] = set()

    def seen_down(self, error: BrokerError, where: str) -> None:
        """A 403 from `where`: the session is down (alerts on the change only)."""
        if self.down:
            return
        now = self._clock.now()
        self.down, self.down_since = True, now
        log.critical("broker session down (403 on %s): %s", where, error)
        self._alerts.alert(
            "critical",
            f"broker session down (403 on {where}): log in to OpenAlgo again; monitoring goes "
            "on, exits wait for the session",
        )
        self._audit(audit(now, "broker_session_down", SUBJECT, endpoint=where, error=str(error)))

    def seen_up(self) -> None:
        """A call only a live session answers succeeded (alerts on the change only)."""
        if not self.down:
            return
        now = self._clock.now()
        since = self.down_since or now
        self.down, self.down_since = False, None
        seconds = (now - since) / NS
        log.warning("broker session back after %.0fs", seconds)
        self._alerts.alert("info", f"broker session back after {seconds:.0f}s")
        self._audit(audit(now, "broker_session_back", SUBJECT, down_seconds=round(seconds, 1)))

    async def probe(self) -> bool:
        """Ping once: True when the session is up (a failure other than 403 says nothing)."""
        self._last_probe = self._clock.now()
        try:
            await self._broker.ping()
        except SessionDown as error:
            self.seen_down(error, "ping")
            return False
        except BrokerError as error:
            log.warning("session probe failed (%s)", error)
            return False
        self.seen_up()
        return True

    def on_clock(self) -> None:
        """Start a probe when one is due (never two at once). Cheap; never blocks."""
        if self._probe is not None and not self._probe.done():
            return
        interval = self.down_interval if self.down else self.up_interval
        if self._clock.now() - self._last_probe < interval * NS:
            return
        self._probe = asyncio.ensure_future(self.probe())
        self._probe.add_done_callback(_retrieve)

    async def close(self) -> None:
        """Cancel a running probe and wait for pending audits."""
        if self._probe is not None and not self._probe.done():
            await cancel_and_wait(self._probe)
        if self._audits:
            await asyncio.gather(*self._audits, return_exceptions=True)

    def _audit(self, record: AuditRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a synchronous caller outside the loop: the alert is enough
            return
        task = loop.create_task(commit_logged(self._store, [record]))
        self._audits.add(task)
        task.add_done_callback(self._audits.discard)


def _retrieve(task: asyncio.Task[bool]) -> None:
    if not task.cancelled():
        task.exception()  # probe() raises nothing but cancellation; never "not retrieved"


class SessionGateway:
    """A BrokerGateway that reports every 403 (and every successful placement or ping) to the
    BrokerSession and otherwise forwards unchanged."""

    def __init__(self, inner: BrokerGateway, session: BrokerSession) -> None:
        self.inner = inner
        self.session = session

    async def _watch(self, where: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except SessionDown as error:
            self.session.seen_down(error, where)
            raise

    async def _live(self, where: str, call: Awaitable[T]) -> T:
        result = await self._watch(where, call)
        self.session.seen_up()  # only a live session places orders or answers ping
        return result

    async def place_order(self, request: OrderRequest) -> PlaceResult:
        return await self._live("placeorder", self.inner.place_order(request))

    async def place_smart_order(self, request: SmartOrderRequest) -> PlaceResult:
        return await self._live("placesmartorder", self.inner.place_smart_order(request))

    async def order_status(self, order_id: str, strategy: str) -> OrderReport:
        return await self._watch("orderstatus", self.inner.order_status(order_id, strategy))

    async def order_book(self) -> list[OrderReport]:
        return await self._watch("orderbook", self.inner.order_book())

    async def trade_book(self) -> list[FillReport]:
        return await self._watch("tradebook", self.inner.trade_book())

    async def position_book(self) -> list[PositionReport]:
        return await self._watch("positionbook", self.inner.position_book())

    async def open_position(self, symbol: str, exchange: str, product: str, strategy: str) -> int:
        return await self._watch(
            "openposition", self.inner.open_position(symbol, exchange, product, strategy)
        )

    async def quotes(self, symbols: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return await self._watch("quotes", self.inner.quotes(symbols))

    async def symbol_info(
        self, symbol: str, exchange: str, *, reference_price: int | None = None
    ) -> SymbolInfo:
        return await self._watch(
            "symbol",
            self.inner.symbol_info(symbol, exchange, reference_price=reference_price),
        )

    async def ping(self) -> None:
        await self._live("ping", self.inner.ping())


__all__ = ["BrokerSession", "SessionGateway"]
