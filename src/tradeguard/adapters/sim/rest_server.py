"""Adapters layer: an OpenAlgo-compatible REST server (Starlette) over the paper broker.

It speaks openalgo-interface.md §1-2 as OpenAlgo really behaves: POST with `apikey` in the JSON
body, strict schemas, flat envelopes, a Python-str-of-dict 400 `message` on order endpoints and
a JSON object on data endpoints, 403 for a bad key, 404 for an unknown order, per-IP moving-
window rate limits with the documented 429 body, and semi-auto queuing. The injected faults
act here (`RestFaults`, and a `FeedControl` the simulator attaches for the WebSocket side);
the /sim/admin endpoints that switch them are in rest_admin.py, the Starlette app in
rest_app.py.

Broker session down (`session_down`) is checked where OpenAlgo checks it, with the key: after
the rate limit and the schema, every /api/v1 call answers 403 "Invalid openalgo apikey". A lost
reply (`order_reply`) acts after the order is placed: the reply comes late (or never, if the
client gives up first) or is OpenAlgo's 500, while the order is in the book. A slow placement
(the broker timing's `place_delay`, e.g. right after a re-login) holds the reply the same way.

Semi-auto mode queues placeorder/placesmartorder in the Action Center (`pending_order_id`, no
`orderid`); `/sim/admin/pending` approves (places it as asked) or rejects a queued order.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from tradeguard.adapters.sim import rest_schemas as schemas
from tradeguard.adapters.sim import rest_views as views
from tradeguard.adapters.sim.action_center import ActionCenter
from tradeguard.adapters.sim.calendar import SimCalendar
from tradeguard.adapters.sim.faults import (
    MovingWindowLimiter,
    RateLimits,
    RestFaults,
)
from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.adapters.sim.paper_rules import MATCHED, smart_order_decision
from tradeguard.core.broker import (
    OrderNotFound,
    OrderReport,
    OrderRequest,
    OrderStatus,
    RejectedError,
    SmartOrderRequest,
)
from tradeguard.core.money import MoneyError, to_units

RATE_LIMITED = {
    "status": "error",
    "message": "Rate limit exceeded. Please slow down your requests.",
    "retry_after": 60,
}
INVALID_KEY = {"status": "error", "message": "Invalid openalgo apikey"}
QUEUED = "Order queued for approval in Action Center"
MAX_ARRIVALS = 100_000  # placeorder arrival stamps kept for /sim/admin/arrivals (oldest dropped)
ERROR_PAGE = "<!doctype html><html><head><title>Error</title></head><body><h1>500</h1>" \
    "<p>Internal Server Error</p></body></html>"  # fmt: skip

Data = views.Data
Handler = Callable[[Data], Awaitable[Response]]
# When the current /api/v1 request reached `dispatch` (before rate limits, body and schema):
# what /sim/admin/arrivals reports for a placeorder.
_ARRIVED: ContextVar[int] = ContextVar("sim_request_arrived", default=0)
# The order id the current /api/v1 request placed at the paper broker, if it placed one.
_PLACED: ContextVar[str | None] = ContextVar("sim_request_placed", default=None)


@dataclass(frozen=True, slots=True)
class Endpoint:
    schema: schemas.Schema
    bucket: str  # "order" | "smart_order" | "api"
    order_kind: bool  # 400 message as a str of the dict (order endpoints) or a JSON object


_success = views.success
_error = views.error


class FeedControl(Protocol):
    """The WebSocket server's fault switches (SimWsServer), as `/sim/admin/feed` drives them."""

    def drop_all(self) -> int: ...
    def set_stale(self, on: bool) -> None: ...
    def set_duplicate_ticks(self, on: bool) -> None: ...
    def set_duplicate_order_updates(self, on: bool) -> None: ...
    def refuse_connections(self, on: bool) -> None: ...
    def set_session_down(self, on: bool) -> None: ...
    def faults(self) -> dict[str, bool]: ...
    def stamp_next_send(self, symbol: str, exchange: str, stamp: Callable[[int], None]) -> None: ...


class SimApi:
    """The request handlers; state is the broker, the market, faults and the limiter."""

    def __init__(
        self,
        broker: PaperBroker,
        market: SimMarket,
        *,
        apikey: str,
        limits: RateLimits | None = None,
        faults: RestFaults | None = None,
        feed: FeedControl | None = None,
        broker_name: str = "sim",
    ) -> None:
        self.broker = broker
        self.market = market
        self.apikey = apikey
        self.faults = faults or RestFaults()
        self.feed = feed
        if feed is not None:  # session down is one switch for REST and WebSocket
            self.faults.on_session = feed.set_session_down
        self.limiter = MovingWindowLimiter(limits or RateLimits())
        self.broker_name = broker_name
        self.action_center = ActionCenter()
        self.calendar = SimCalendar()  # market/timings; /sim/admin/calendar sets holidays
        self.arrivals: dict[str, int] = {}  # order id -> time.time_ns() at placeorder arrival
        self.endpoints: dict[str, tuple[Endpoint, Handler]] = {
            "placeorder": (Endpoint(schemas.PLACE_ORDER, "order", True), self.place_order),
            "placesmartorder": (
                Endpoint(schemas.PLACE_SMART_ORDER, "smart_order", True),
                self.place_smart_order,
            ),
            "cancelorder": (Endpoint(schemas.CANCEL_ORDER, "order", True), self.cancel_order),
            "closeposition": (Endpoint(schemas.CLOSE_POSITION, "api", True), self.close_position),
            "orderstatus": (Endpoint(schemas.ORDER_STATUS, "api", False), self.order_status),
            "orderbook": (Endpoint(schemas.APIKEY_ONLY, "api", False), self.order_book),
            "tradebook": (Endpoint(schemas.APIKEY_ONLY, "api", False), self.trade_book),
            "positionbook": (Endpoint(schemas.APIKEY_ONLY, "api", False), self.position_book),
            "openposition": (Endpoint(schemas.OPEN_POSITION, "api", False), self.open_position),
            "quotes": (Endpoint(schemas.QUOTES, "api", False), self.quotes),
            "multiquotes": (Endpoint(schemas.MULTI_QUOTES, "api", False), self.multi_quotes),
            "funds": (Endpoint(schemas.APIKEY_ONLY, "api", False), self.funds),
            "symbol": (Endpoint(schemas.SYMBOL, "api", False), self.symbol),
            "ping": (Endpoint(schemas.APIKEY_ONLY, "api", False), self.ping),
            "market/timings": (
                Endpoint(schemas.MARKET_TIMINGS, "api", False),
                self.calendar.handle,
            ),
            "analyzer": (Endpoint(schemas.APIKEY_ONLY, "api", False), self.analyzer_status),
            "analyzer/toggle": (
                Endpoint(schemas.ANALYZER_TOGGLE, "api", False),
                self.analyzer_toggle,
            ),
        }
        # Analyzer (sandbox) mode: here it changes only the shape of `funds` (OpenAlgo's
        # sandbox answers floats, `last_reset` and `reset_count`, and "mode": "analyze").
        self.analyzer = False
        self.analyzer_reset_at = "1970-01-01 05:30:00"  # naive IST, as the sandbox shows it

    # -- the pipeline every /api/v1 call goes through -----------------------------------------

    async def dispatch(self, request: Request) -> Response:
        _ARRIVED.set(time.time_ns())  # the request has reached its endpoint
        _PLACED.set(None)
        name = request.path_params["endpoint"].strip("/")
        if name not in self.endpoints:
            return _error(404, "Not found", path=request.url.path)
        endpoint, handler = self.endpoints[name]
        client = request.client.host if request.client else "unknown"
        if not self.limiter.hit(endpoint.bucket, client):
            return JSONResponse(RATE_LIMITED, status_code=429)
        if self.faults.delay_s:
            await asyncio.sleep(self.faults.delay_s)
        injected = await self._inject(request, name)
        if injected is not None:
            return injected
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Invalid JSON payload")
        data, errors = schemas.validate(endpoint.schema, body)
        if errors:
            return _error(400, str(errors) if endpoint.order_kind else errors)
        # OpenAlgo: no broker session (its market calendar is its own: it needs none)
        down = self.faults.session_down and name != "market/timings"
        if data["apikey"] != self.apikey or down:
            return JSONResponse(INVALID_KEY, status_code=403)
        try:
            response = await handler(data)
        except OrderNotFound as error:
            return _error(404, str(error))
        except (RejectedError, MoneyError) as error:
            return _error(400, str(error))
        if _PLACED.get() is not None:
            return await self._reply_placed(request, response)
        return response

    async def _reply_placed(self, request: Request, response: Response) -> Response:
        """The reply to a call that placed an order: late if the broker is slow to place, and
        as the `order_reply` fault has it."""
        timing = self.broker.timing
        delay = timing.place_delay()
        if delay > 0:
            await _until_disconnect(request, timing.timer.sleep(delay))
        mode = self.faults.take_order_reply()
        if mode == "500":
            return _error(500, "An unexpected error occurred")
        if mode == "late":
            await _hang_until_disconnect(request, self.faults.order_reply_delay_s)
        return response

    async def _inject(self, request: Request, name: str) -> Response | None:
        mode = self.faults.take_failure(name)
        if mode is None:
            return None
        if mode == "timeout":
            await _hang_until_disconnect(request, self.faults.hang_s)
            return _error(504, "Gateway timeout (simulated)")
        if mode == "html":
            return HTMLResponse(ERROR_PAGE, status_code=500)
        if mode == "429":
            return JSONResponse(RATE_LIMITED, status_code=429)
        if mode == "403":
            return JSONResponse(INVALID_KEY, status_code=403)
        if mode == "garbage":
            return HTMLResponse("<html><body>OK</body></html>", status_code=200)
        if mode == "malformed":
            broken = {"status": "success", "orderid": ["x"], "data": {"orders": "?"}}
            return JSONResponse(broken | {"results": 1})
        return _error(500, "An unexpected error occurred")

    # -- order endpoints ---------------------------------------------------------------------

    def _queued(self, endpoint: str, data: Data) -> Response:
        pending = self.action_center.queue(endpoint, data)
        return JSONResponse(
            {
                "status": "success",
                "message": QUEUED,
                "mode": "semi_auto",
                "pending_order_id": pending.pending_id,
            }
        )

    async def place_order(self, data: Data) -> Response:
        arrived = _ARRIVED.get()
        if self.faults.semi_auto:
            return self._queued("placeorder", data)
        order_id = self.submit_order(data)
        _PLACED.set(order_id)
        self.arrived(order_id, arrived)
        return JSONResponse({"status": "success", "orderid": order_id})

    def arrived(self, key: str, ns: int) -> None:
        """Keep an arrival stamp for /sim/admin/arrivals (the oldest beyond MAX_ARRIVALS go)."""
        self.arrivals[key] = ns
        if len(self.arrivals) > MAX_ARRIVALS:
            del self.arrivals[next(iter(self.arrivals))]

    async def place_smart_order(self, data: Data) -> Response:
        if self.faults.semi_auto:
            return self._queued("placesmartorder", data)
        order_id = self.submit_smart(data)
        if order_id is None:
            return JSONResponse({"status": "success", "message": MATCHED})
        _PLACED.set(order_id)
        return JSONResponse({"status": "success", "orderid": order_id})

    def submit_order(self, data: Data) -> str:
        """Place a (validated) placeorder body at the broker; its order id."""
        return self.broker.submit(_order_request(data))

    def submit_smart(self, data: Data) -> str | None:
        """OpenAlgo's placesmartorder against the live net: the order id, or None (matched)."""
        request = SmartOrderRequest(
            symbol=data["symbol"],
            exchange=data["exchange"],
            action=data["action"],
            quantity=data["quantity"],
            position_size=int(data["position_size"]),  # OpenAlgo: int(position_size)
            product=data["product"],
            strategy=data["strategy"],
            pricetype=data["pricetype"],
        )
        order = smart_order_decision(request, self.broker.net_quantity(request))
        if order is None:
            return None
        order = OrderRequest(
            order.symbol,
            order.exchange,
            order.action,
            order.quantity,
            order.product,
            order.strategy,
            pricetype=data["pricetype"],
            price=to_units(data["price"]),
            trigger_price=to_units(data["trigger_price"]),
        )
        return self.broker.submit(order)

    async def cancel_order(self, data: Data) -> Response:
        if self.faults.semi_auto:
            return _error(403, "Cancel order is not allowed in Semi-Auto mode")
        self.broker.cancel(data["orderid"])
        return JSONResponse({"status": "success", "orderid": data["orderid"]})

    async def close_position(self, data: Data) -> Response:
        if self.faults.semi_auto:
            return _error(403, "Close position is not allowed in Semi-Auto mode")
        self.broker.close_all()
        return JSONResponse({"status": "success", "message": "All Open Positions Squared Off"})

    # -- data endpoints ----------------------------------------------------------------------

    def _order_row(self, report: OrderReport) -> Data:
        return views.order_row(report, self.broker.order_request(report.order_id))

    async def order_status(self, data: Data) -> Response:
        report = await self.broker.order_status(data["orderid"], data["strategy"])
        row = self._order_row(report)
        complete = report.status is OrderStatus.COMPLETE
        row["average_price"] = views.price(report.average_price) if complete else 0.0
        return _success(row)

    async def order_book(self, data: Data) -> Response:
        reports = await self.broker.order_book()
        rows = [self._order_row(r) for r in reports]
        return _success({"orders": rows, "statistics": views.order_statistics(reports)})

    async def trade_book(self, data: Data) -> Response:
        return _success([views.trade_row(fill) for fill in await self.broker.trade_book()])

    async def position_book(self, data: Data) -> Response:
        pnl = self.broker.realized_pnl
        rows = [
            views.position_row(pos, pnl(pos.symbol, pos.exchange, pos.product))
            for pos in await self.broker.position_book()
        ]
        return _success(rows)

    async def open_position(self, data: Data) -> Response:
        pos = self.broker.position(data["symbol"], data["exchange"], data["product"])
        quantity: str | int = 0 if pos is None else str(pos.quantity)
        return JSONResponse({"quantity": quantity, "status": "success"})

    async def quotes(self, data: Data) -> Response:
        quote = views.quote_data(self.market, data["symbol"], data["exchange"])
        if quote is None:
            return _error(
                400,
                f"Symbol '{data['symbol']}' not found for exchange '{data['exchange']}'. "
                "Please verify the symbol name and ensure master contracts are downloaded.",
            )
        return _success(quote)

    async def multi_quotes(self, data: Data) -> Response:
        results: list[Data] = []
        invalid: list[str] = []
        for symbol, exchange in data["symbols"]:
            quote = views.quote_data(self.market, symbol, exchange)
            if quote is None:
                invalid.append(f"{exchange}:{symbol}")
                results.append({"symbol": symbol, "exchange": exchange, "error": "Not found"})
            else:
                results.append({"symbol": symbol, "exchange": exchange, "data": quote})
        if len(invalid) == len(results):
            return _error(400, "All symbols are invalid", invalid_symbols=invalid)
        return JSONResponse({"status": "success", "results": results})

    async def funds(self, data: Data) -> Response:
        funds = self.broker.funds()
        if self.analyzer:
            body = views.sandbox_funds(funds, self.analyzer_reset_at, 0)
            return JSONResponse({"status": "success", "data": body, "mode": "analyze"})
        return _success({k: views.money(v) for k, v in funds.items()})

    async def analyzer_status(self, data: Data) -> Response:
        mode = "analyze" if self.analyzer else "live"
        return _success({"mode": mode, "analyze_mode": self.analyzer, "total_logs": 0})

    async def analyzer_toggle(self, data: Data) -> Response:
        on = bool(data["mode"])
        if on and not self.analyzer:  # the sandbox's funds start (or were reset) now
            ist = time.gmtime(time.time() + 19_800)
            self.analyzer_reset_at = time.strftime("%Y-%m-%d %H:%M:%S", ist)
        self.analyzer = on
        mode = "analyze" if on else "live"
        return _success(
            {
                "mode": mode,
                "analyze_mode": on,
                "total_logs": 0,
                "message": f"Analyzer mode switched to {mode}",
            }
        )

    async def symbol(self, data: Data) -> Response:
        symbol, exchange = data["symbol"], data["exchange"]
        if not self.market.knows(symbol, exchange):
            return _error(404, f"Symbol '{symbol}' not found for exchange '{exchange}'")
        return _success(views.symbol_data(self.market, symbol, exchange))

    async def ping(self, data: Data) -> Response:
        return _success({"message": "pong", "broker": self.broker_name})


def _order_request(data: Data) -> OrderRequest:
    return OrderRequest(
        symbol=data["symbol"],
        exchange=data["exchange"],
        action=data["action"],
        quantity=data["quantity"],
        product=data["product"],
        strategy=data["strategy"],
        pricetype=data["pricetype"],
        price=to_units(data["price"]),
        trigger_price=to_units(data["trigger_price"]),
    )


async def _until_disconnect(request: Request, wait: Coroutine[Any, Any, None]) -> None:
    """Await `wait`, unless the client goes away first (its timeout)."""
    waiting = asyncio.ensure_future(wait)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((waiting, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, gone):
            task.cancel()
        await asyncio.gather(waiting, gone, return_exceptions=True)


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _hang_until_disconnect(request: Request, seconds: float) -> None:
    """Hold the call open until the client goes away (its timeout) or `seconds` pass."""
    await _until_disconnect(request, asyncio.sleep(seconds))
