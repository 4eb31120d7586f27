"""App layer: an alert when an exit order is not acknowledged in time.

OpenAlgo can hold a placeorder for ~10 s (its first order after the daily re-login), while
the position stays open. `AckWatchGateway` wraps the BrokerGateway the executor places through:
every placeorder / placesmartorder that has no answer after `after` seconds raises one
critical alert ("not acknowledged after N s", with the order's symbol, side, quantity and tag,
and its trade when the tag is one of ours), and when the answer finally comes a second alert
says how long it took and what it was. Every other call is forwarded unchanged. Nothing is
retried or changed here: the order's outcome is the executor's business (the gateway's own
order timeout still ends the call as an unknown outcome).

Time comes from the injected clock; the watch costs one timer per placement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from tradeguard.app.ports import AlertSink, BrokerGateway, Clock
from tradeguard.core.broker import (
    FillReport,
    OrderReport,
    OrderRequest,
    PlaceResult,
    PositionReport,
    SmartOrderRequest,
    SymbolInfo,
)

log = logging.getLogger(__name__)

NS = 1_000_000_000
T = TypeVar("T")


def _order_detail(endpoint: str, request: OrderRequest | SmartOrderRequest) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "endpoint": endpoint,
        "symbol": request.symbol,
        "exchange": request.exchange,
        "action": request.action,
        "quantity": request.quantity,
        "tag": request.strategy,
    }
    if request.strategy.startswith("tg:"):  # ours: tg:<strategy>:<reason>:<trade id>
        detail["trade_id"] = request.strategy.rsplit(":", 1)[-1]
    return detail


class AckWatchGateway:
    """A BrokerGateway that alerts on placements slower than `after` seconds (see the module
    docstring). `slow` counts them."""

    def __init__(self, inner: BrokerGateway, clock: Clock, alerts: AlertSink, after: float):
        if after <= 0:
            raise ValueError("the acknowledgement alert needs a positive number of seconds")
        self.inner = inner
        self.clock = clock
        self.alerts = alerts
        self.after = after
        self.slow = 0

    async def _watched(
        self, endpoint: str, request: OrderRequest | SmartOrderRequest, call: Awaitable[T]
    ) -> T:
        started = self.clock.now()
        detail = _order_detail(endpoint, request)
        alarm = asyncio.ensure_future(self._alarm(detail))
        outcome = "acknowledged"
        try:
            return await call
        except asyncio.CancelledError:
            outcome = "abandoned (cancelled)"
            raise
        except Exception as error:
            outcome = f"answered {type(error).__name__}: {error}"
            raise
        finally:
            alarm.cancel()
            if alarm.done() and not alarm.cancelled():
                seconds = (self.clock.now() - started) / NS
                self.alerts.alert(
                    "info" if outcome == "acknowledged" else "warning",
                    f"{endpoint} {detail['action']} {detail['quantity']} {detail['symbol']} "
                    f"{outcome} after {seconds:.1f}s",
                    **detail,
                )

    async def _alarm(self, detail: dict[str, Any]) -> None:
        await self.clock.sleep(self.after)
        self.slow += 1
        log.critical("exit order not acknowledged after %gs: %s", self.after, detail)
        self.alerts.alert(
            "critical",
            f"exit order {detail['action']} {detail['quantity']} {detail['symbol']} not "
            f"acknowledged after {self.after:g}s: OpenAlgo is slow (after a re-login its first "
            "order can take ~10 s); the position stays open until it answers",
            **detail,
        )

    async def place_order(self, request: OrderRequest) -> PlaceResult:
        return await self._watched("placeorder", request, self.inner.place_order(request))

    async def place_smart_order(self, request: SmartOrderRequest) -> PlaceResult:
        return await self._watched(
            "placesmartorder", request, self.inner.place_smart_order(request)
        )

    async def order_status(self, order_id: str, strategy: str) -> OrderReport:
        return await self.inner.order_status(order_id, strategy)

    async def order_book(self) -> list[OrderReport]:
        return await self.inner.order_book()

    async def trade_book(self) -> list[FillReport]:
        return await self.inner.trade_book()

    async def position_book(self) -> list[PositionReport]:
        return await self.inner.position_book()

    async def open_position(self, symbol: str, exchange: str, product: str, strategy: str) -> int:
        return await self.inner.open_position(symbol, exchange, product, strategy)

    async def quotes(self, symbols: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return await self.inner.quotes(symbols)

    async def symbol_info(
        self, symbol: str, exchange: str, *, reference_price: int | None = None
    ) -> SymbolInfo:
        return await self.inner.symbol_info(symbol, exchange, reference_price=reference_price)

    async def ping(self) -> None:
        await self.inner.ping()


__all__ = ["AckWatchGateway"]
