"""Conformance tests: tradeguard's whole stack in-process against the REAL OpenAlgo, and what
OpenAlgo's own books say.

`open_stack` wires tradeguard as `tradeguard run` does (bootstrap.service): the OpenAlgo REST
gateway, the WebSocket feed with its REST polling fallback and watchdog, a real SQLite store
and the app runtime, over real sockets to OpenAlgo's REST API and WebSocket proxy. Entries are
real sandbox orders (CNC MARKET BUYs: the sandbox refuses MIS after 15:15 IST and CNC shorts);
prices move only through `ctl set` (the session freezes the walk). Assertions read OpenAlgo's
order book and position book over its REST API, never what tradeguard believes it sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.conformance.kit import OpenAlgo
from tests.helpers import PATIENT_STORE, eventually
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.openalgo.feed import OpenAlgoFeed
from tradeguard.adapters.openalgo.polling import PollingConfig
from tradeguard.adapters.openalgo.rest_gateway import OpenAlgoGateway
from tradeguard.adapters.openalgo.watchdog import WatchdogConfig
from tradeguard.app.runtime import AppRuntime, RuntimeOptions
from tradeguard.app.service import CreateTrade, TradeService

ACCOUNT = "acct"
ACTOR = "conformance"
EXCHANGE = "NSE"
PRODUCT = "CNC"
EXIT_TAG = "tg:"  # every exit's `strategy` tag starts with it (app.outcomes.exit_tag)
TICK = Decimal("0.05")  # the paperfeed instruments' tick; BUY fills at LTP + 1 tick, SELL - 1


@dataclass
class RealStack:
    oa: OpenAlgo
    runtime: AppRuntime
    gateway: OpenAlgoGateway
    feed: OpenAlgoFeed
    store: SqlStore
    http: httpx.AsyncClient

    @property
    def service(self) -> TradeService:
        return self.runtime.service

    async def price(self, symbol: str, value: str) -> None:
        """`ctl set`: OpenAlgo publishes exactly that price (REST and a tick) before it returns."""
        await self.oa.ctl("set", symbol, value)

    async def call(self, endpoint: str, **body: Any) -> Any:
        reply = await self.http.post(
            f"/api/v1/{endpoint}", json={"apikey": self.oa.api_key, **body}
        )
        assert reply.status_code == 200, f"{endpoint}: {reply.status_code} {reply.text}"
        return reply.json()

    async def place(self, symbol: str, action: str, quantity: int, strategy: str) -> str:
        """A sandbox MARKET order placed directly at OpenAlgo (an entry, or a trade by hand)."""
        body = {"symbol": symbol, "exchange": EXCHANGE, "action": action, "product": PRODUCT}
        body |= {"quantity": str(quantity), "pricetype": "MARKET"}
        return str((await self.call("placeorder", strategy=strategy, **body))["orderid"])

    async def orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = (await self.call("orderbook"))["data"]["orders"]
        return [r for r in rows if symbol in (None, r["symbol"])]

    async def exit_orders(self, trade_id: str) -> list[dict[str, Any]]:
        return [
            r
            for r in await self.orders()
            if str(r.get("strategy", "")).startswith(EXIT_TAG)
            and str(r.get("strategy", "")).endswith(f":{trade_id}")
        ]

    async def net(self, symbol: str) -> int:
        rows = (await self.call("positionbook"))["data"]
        return sum(
            int(r["quantity"])
            for r in rows
            if r["symbol"] == symbol and r["exchange"] == EXCHANGE and r["product"] == PRODUCT
        )

    async def strategy(self, name: str, **settings: Any) -> dict[str, Any]:
        return await self.service.configure_strategy(ACCOUNT, name, settings, actor=ACTOR)

    async def guard(self, name: str, symbol: str, quantity: int, **rules: Any) -> dict[str, Any]:
        """A real CNC BUY at OpenAlgo, then createtrade from its order id."""
        order_id = await self.place(symbol, "BUY", quantity, f"{name}-entry")
        view = await self.service.create_trade(
            ACCOUNT,
            CreateTrade(strategy=name, order_id=order_id, rules=rules, product=PRODUCT),
            actor=ACTOR,
        )
        await eventually(
            lambda: self.feed.last_stream_price(symbol, EXCHANGE) is not None,
            timeout=15.0,
            message=f"{symbol} ticks on the WebSocket",
        )
        return view

    def active(self, trade_id: str) -> dict[str, Any] | None:
        rows = self.service.active_trades(ACCOUNT)
        return next((t for t in rows if t["trade_id"] == trade_id), None)

    async def closed(self, trade_id: str, within: float = 30.0) -> dict[str, Any]:
        """Wait until the trade is out of the engine and stored closed; its history row."""

        async def check() -> dict[str, Any] | None:
            if self.active(trade_id) is not None:
                return None
            rows = await self.service.trade_history(ACCOUNT, 1000)
            row = next((r for r in rows if r["trade_id"] == trade_id), None)
            if row is None or row["state"] not in ("CLOSED", "CLOSED_EXTERNALLY"):
                return None
            return row

        return await eventually(check, timeout=within, interval=0.05, message=f"{trade_id} closed")

    async def one_exit(self, trade_id: str, quantity: int, reason: str) -> dict[str, Any]:
        """Exactly one exit order for the trade at OpenAlgo: a complete SELL of `quantity`."""
        sent = await self.exit_orders(trade_id)
        assert len(sent) == 1, f"expected one exit order for {trade_id}, got {sent}"
        row = sent[0]
        assert (row["action"], int(row["quantity"]), row["order_status"]) == (
            "SELL",
            quantity,
            "complete",
        ), row
        assert f":{reason}:" in row["strategy"], row
        return row


def same_money(a: object, b: str) -> bool:
    return a is not None and Decimal(str(a)) == Decimal(b)


@asynccontextmanager
async def open_stack(
    oa: OpenAlgo,
    db: Path,
    *,
    polling: PollingConfig | None = None,
    watchdog: WatchdogConfig | None = None,
    reconcile_interval: float | None = 30.0,
) -> AsyncIterator[RealStack]:
    """tradeguard against the real OpenAlgo, as bootstrap wires it (defaults included unless a
    test narrows the polling window or the reconcile interval)."""
    store = await SqlStore.open(f"sqlite:///{db}", **PATIENT_STORE)
    gateway = OpenAlgoGateway(oa.url, oa.api_key)

    def feed_reconnected() -> None:
        runtime.feed_reconnected()

    feed = OpenAlgoFeed(
        oa.ws_url,
        oa.api_key,
        on_reconnect=feed_reconnected,
        quotes=gateway.quotes,
        polling=polling or PollingConfig(stale_after_s=10.0),
        watchdog=watchdog or WatchdogConfig(),
    )
    runtime = AppRuntime(
        gateway,
        feed,
        store,
        SystemClock(),
        RuntimeOptions(
            flush_interval=0.2, clock_interval=0.2, reconcile_interval=reconcile_interval
        ),
    )
    async with httpx.AsyncClient(base_url=oa.url, timeout=30.0, trust_env=False) as http:
        stack = RealStack(oa, runtime, gateway, feed, store, http)
        await runtime.start()
        try:
            await eventually(lambda: feed.connected, timeout=30.0, message="feed connected")
            yield stack
        finally:
            await runtime.stop()
            await gateway.aclose()
            await store.close()
