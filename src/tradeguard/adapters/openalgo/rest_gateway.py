"""Adapters layer: OpenAlgoGateway, the BrokerGateway over OpenAlgo's REST API (aiohttp).

One pooled aiohttp.ClientSession (created on first use, on the running loop; its C-accelerated
HTTP handling costs about a quarter of what httpx's did per call, and an exit makes two calls:
docs/performance.md), a timeout on every call, a local rate limiter (OpenAlgo's
buckets; order-resolution reads ahead of polling), and every failure classified into
core.broker's errors so the caller knows whether an order may exist:

- 403 -> SessionDown; 429 -> RateLimited; 404 on orderstatus -> OrderNotFound
- timeout / disconnect / 5xx on placeorder or placesmartorder -> UnknownOutcome
- connection refused (nothing sent) -> RetryableError; 5xx or transport errors on reads too
- other 4xx -> RejectedError with OpenAlgo's message (str-of-dict, JSON object or HTML)
- 200 without `orderid` -> NotPlaced; with OpenAlgo's `pending_order_id` (semi-auto mode: queued
  in its Action Center) -> Queued (a NotPlaced) carrying that id; except a smart order's no-op
  ("Positions Already Matched", or the sandbox's "No OpenPosition Found"), which is
  PlaceResult(order_id=None)
- anything unparseable -> MalformedReply, logged with the reply. On a write, a MalformedReply
  means the order may exist: resolve it like UnknownOutcome.

The apikey travels only in request bodies; it is scrubbed from every log line and message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

from tradeguard.adapters.openalgo import parse
from tradeguard.adapters.openalgo.ratelimit import (
    API,
    ORDERS,
    SMART_ORDERS,
    Priority,
    RateLimitConfig,
    RateLimiter,
)
from tradeguard.core.broker import (
    FillReport,
    Funds,
    MalformedReply,
    NotPlaced,
    OrderNotFound,
    OrderReport,
    OrderRequest,
    PlaceResult,
    PositionReport,
    Queued,
    RateLimited,
    RejectedError,
    RetryableError,
    SessionDown,
    SmartOrderRequest,
    SymbolInfo,
    UnknownOutcome,
)
from tradeguard.core.money import from_units
from tradeguard.core.sessions import ExchangeSession

log = logging.getLogger(__name__)
T = TypeVar("T")

# Nothing was sent: no connection (refused, unreachable), or none within the connect timeout
# (which covers waiting for a free pooled connection), or a URL aiohttp cannot use.
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)


def _num(units: int) -> str:
    return format(from_units(units), "f")


class OpenAlgoGateway:
    """BrokerGateway over OpenAlgo's REST API v1 at `base_url` (e.g. http://127.0.0.1:5000).

    `timeout` bounds every call; `order_timeout` (None: the same) bounds placeorder and
    placesmartorder, whose replies can take ~10 s right after OpenAlgo's daily re-login."""

    def __init__(
        self,
        base_url: str,
        apikey: str,
        *,
        timeout: float = 10.0,
        order_timeout: float | None = None,
        rate_limits: RateLimitConfig | None = None,
        max_connections: int = 20,
        keepalive_expiry: float = 4.0,
    ) -> None:
        if not apikey:
            raise ValueError("an OpenAlgo apikey is required")
        self._apikey = apikey
        self._limiter = RateLimiter(rate_limits)
        self._last_prices: dict[tuple[str, str], int] = {}
        self._base_url = base_url.rstrip("/") + "/api/v1/"
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=timeout)
        # placeorder/placesmartorder wait longer (OpenAlgo's first order after a re-login took
        # ~10 s); the connect part (nothing sent yet) stays the REST timeout.
        orders = timeout if order_timeout is None else order_timeout
        self._order_timeout = aiohttp.ClientTimeout(total=orders, connect=min(timeout, orders))
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"OpenAlgoGateway({self._base_url!r})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                base_url=self._base_url,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections, keepalive_timeout=self._keepalive_expiry
                ),
                headers={"Accept": "application/json"},
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> OpenAlgoGateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- orders ------------------------------------------------------------------------------

    def _order_payload(self, request: OrderRequest | SmartOrderRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "strategy": request.strategy,
            "symbol": request.symbol,
            "exchange": request.exchange,
            "action": request.action.upper(),
            "quantity": str(request.quantity),
            "pricetype": request.pricetype,
            "product": request.product,
        }
        if isinstance(request, OrderRequest):
            payload["price"] = _num(request.price)
            payload["trigger_price"] = _num(request.trigger_price)
        return payload

    async def place_order(self, request: OrderRequest) -> PlaceResult:
        reply = await self._post("placeorder", self._order_payload(request), ORDERS)
        return self._place_result("placeorder", reply, matched_ok=False)

    async def place_smart_order(self, request: SmartOrderRequest) -> PlaceResult:
        payload = self._order_payload(request) | {"position_size": str(request.position_size)}
        reply = await self._post("placesmartorder", payload, SMART_ORDERS)
        return self._place_result("placesmartorder", reply, matched_ok=True)

    def _place_result(
        self, endpoint: str, reply: dict[str, Any], *, matched_ok: bool
    ) -> PlaceResult:
        order_id = reply.get("orderid")
        message = str(reply.get("message") or "")
        if isinstance(order_id, int) and not isinstance(order_id, bool):
            order_id = str(order_id)
        if isinstance(order_id, str) and order_id.strip():
            return PlaceResult(order_id.strip(), message)
        if order_id not in (None, ""):
            raise self._malformed(endpoint, 200, reply, "orderid is not a string")
        if matched_ok and parse.smart_noop(message):
            return PlaceResult(None, message)
        detail = {k: reply[k] for k in ("mode", "pending_order_id") if k in reply}
        pending = reply.get("pending_order_id")
        if pending is not None and not isinstance(pending, bool) and str(pending).strip():
            log.error("OpenAlgo %s: queued for approval (semi-auto), NOT placed: %s %s",
                      endpoint, message, detail)  # fmt: skip
            raise Queued(
                f"{endpoint}: queued for approval (pending order {pending}): {message}",
                pending_id=str(pending).strip(),
                detail=self._scrub(f"{message} {detail}".strip()),
            )
        log.error("OpenAlgo %s: success without an order id, NOT placed: %s %s",
                  endpoint, message, detail)  # fmt: skip
        raise NotPlaced(
            f"{endpoint}: not placed: {message or 'success without orderid'}",
            status=200,
            detail=self._scrub(f"{message} {detail}".strip()),
        )

    async def cancel_order(self, order_id: str, strategy: str) -> None:
        await self._post("cancelorder", {"strategy": strategy, "orderid": order_id}, ORDERS)

    # -- reads -------------------------------------------------------------------------------

    async def order_status(self, order_id: str, strategy: str) -> OrderReport:
        reply = await self._post("orderstatus", {"strategy": strategy, "orderid": order_id}, API)
        return self._parsed("orderstatus", reply, lambda r: parse.order_report(r.get("data")))

    async def order_book(self) -> list[OrderReport]:
        def rows(reply: dict[str, Any]) -> list[OrderReport]:
            data = reply.get("data")
            if isinstance(data, dict):
                data = parse.field(data, "orders")
            return [parse.order_report(row) for row in parse.as_list(data, "orders")]

        return self._parsed("orderbook", await self._post("orderbook", {}, API), rows)

    async def trade_book(self) -> list[FillReport]:
        reply = await self._post("tradebook", {}, API)
        return self._parsed(
            "tradebook",
            reply,
            lambda r: [parse.fill_report(row) for row in parse.as_list(r.get("data"), "data")],
        )

    async def position_book(self) -> list[PositionReport]:
        reply = await self._post("positionbook", {}, API)
        return self._parsed(
            "positionbook",
            reply,
            lambda r: [parse.position_report(row) for row in parse.as_list(r.get("data"), "data")],
        )

    async def open_position(self, symbol: str, exchange: str, product: str, strategy: str) -> int:
        """openposition: the account-wide net of one row (top-level `quantity`, str or int)."""
        payload = {"strategy": strategy, "symbol": symbol, "exchange": exchange, "product": product}
        reply = await self._post("openposition", payload, API)
        return self._parsed(
            "openposition", reply, lambda r: parse.integer(parse.field(r, "quantity"), "quantity")
        )

    async def quotes(self, symbols: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not symbols:
            return {}
        payload = {"symbols": [{"symbol": s, "exchange": e} for s, e in symbols]}
        try:
            reply = await self._post("multiquotes", payload, API, Priority.LOW)
        except RejectedError as error:
            if "invalid_symbols" in error.detail:
                return {}  # every symbol unknown: none has a quote
            raise

        def prices(reply: dict[str, Any]) -> dict[tuple[str, str], int]:
            found: dict[tuple[str, str], int] = {}
            for item in parse.as_list(reply.get("results"), "results"):
                item = parse.as_dict(item, "result")
                if "data" not in item:
                    continue  # per-symbol error: no quote
                ltp = parse.ltp_of(item["data"], "data")
                if ltp is not None:
                    found[(parse.text(item, "symbol"), parse.text(item, "exchange"))] = ltp
            return found

        result = self._parsed("multiquotes", reply, prices)
        self._last_prices.update(result)
        return result

    async def symbol_info(
        self, symbol: str, exchange: str, *, reference_price: int | None = None
    ) -> SymbolInfo:
        """Lot and tick size. The tick is refused (MalformedReply) when it is >= 1% of the
        reference price, or of the last known quote (fetched if none is known): some brokers
        report tick sizes 100x off (openalgo-interface.md §6)."""
        reply = await self._post(
            "symbol", {"symbol": symbol, "exchange": exchange}, API, Priority.LOW
        )
        info = self._parsed(
            "symbol", reply, lambda r: parse.symbol_info(r.get("data"), symbol, exchange)
        )
        price = reference_price or self._last_prices.get((symbol, exchange))
        if price is None:
            try:
                price = (await self.quotes([(symbol, exchange)])).get((symbol, exchange))
            except (RetryableError, RejectedError) as error:
                log.warning(
                    "symbol %s:%s: no price to check its tick against: %s", symbol, exchange, error
                )
        tick_units = parse.units(Decimal(info.tick_size), "tick_size")
        if price is not None and tick_units * 100 >= price:
            raise self._malformed(
                "symbol", 200, reply, f"tick_size {info.tick_size} is >= 1% of price {_num(price)}"
            )
        return info

    async def funds(self) -> Funds:
        """The account's funds, live or analyzer mode (parse.funds)."""
        reply = await self._post("funds", {}, API, Priority.LOW)
        return self._parsed("funds", reply, lambda r: parse.funds(r.get("data"), r.get("mode")))

    async def market_timings(self, day: date) -> list[ExchangeSession]:
        """The exchanges' sessions on `day` (an empty list on a weekend or holiday); a polling-
        priority read in the shared API budget."""
        reply = await self._post("market/timings", {"date": day.isoformat()}, API, Priority.LOW)
        return self._parsed("market/timings", reply, lambda r: parse.market_timings(r.get("data")))

    async def ping(self) -> None:
        await self._post("ping", {}, API, Priority.LOW)

    # -- transport and classification --------------------------------------------------------

    async def _post(
        self,
        endpoint: str,
        payload: dict[str, Any],
        bucket: str,
        priority: Priority = Priority.HIGH,
    ) -> dict[str, Any]:
        await self._limiter.acquire(bucket, priority)
        write = endpoint in ("placeorder", "placesmartorder")
        try:
            async with self._client().post(
                endpoint,
                json={"apikey": self._apikey, **payload},
                timeout=self._order_timeout if write else self._timeout,
            ) as response:
                status, raw = response.status, await response.read()
        except _NOT_SENT as exc:
            raise RetryableError(
                f"{endpoint}: OpenAlgo unreachable ({self._describe(exc)})"
            ) from None
        except TimeoutError as exc:  # aiohttp's read timeouts are TimeoutError subclasses
            cls = UnknownOutcome if write else RetryableError
            raise cls(f"{endpoint}: timed out, outcome unknown ({self._describe(exc)})") from None
        except (aiohttp.ClientError, OSError) as exc:
            cls = UnknownOutcome if write else RetryableError
            raise cls(f"{endpoint}: connection lost ({self._describe(exc)})") from None
        return self._classify(endpoint, status, raw.decode("utf-8", errors="replace"), write)

    def _classify(self, endpoint: str, status: int, text: str, write: bool) -> dict[str, Any]:
        body = self._scrub(text)
        if status == 200:
            try:
                reply = parse.loads(body)
            except ValueError:
                raise self._malformed(endpoint, status, body, "not JSON") from None
            if not isinstance(reply, dict) or reply.get("status") != "success":
                raise self._malformed(endpoint, status, body, "not a success envelope")
            return reply
        message = f"{endpoint}: HTTP {status}: {parse.error_message(body)}"
        if status == 403:
            raise SessionDown(message, status=status, detail=body[:500])
        if status == 429:
            raise RateLimited(message, status=status, detail=body[:500])
        if status == 404 and endpoint == "orderstatus":
            raise OrderNotFound(message, status=status, detail=body[:500])
        if status >= 500:
            cls = UnknownOutcome if write else RetryableError
            raise cls(message, status=status, detail=body[:500])
        if 400 <= status < 500:
            raise RejectedError(message, status=status, detail=body[:500])
        raise self._malformed(endpoint, status, body, f"unexpected HTTP {status}")

    def _parsed(
        self, endpoint: str, reply: dict[str, Any], build: Callable[[dict[str, Any]], T]
    ) -> T:
        try:
            return build(reply)
        except parse.ParseError as error:
            raise self._malformed(endpoint, 200, reply, str(error)) from None

    def _malformed(self, endpoint: str, status: int, reply: Any, why: str) -> MalformedReply:
        shown = self._scrub(str(reply))[:2000]
        log.error("OpenAlgo %s: malformed reply (HTTP %s, %s): %s", endpoint, status, why, shown)
        return MalformedReply(f"{endpoint}: malformed reply: {why}", status=status, detail=shown)

    def _scrub(self, text: str) -> str:
        return text.replace(self._apikey, "***") if self._apikey in text else text

    def _describe(self, exc: Exception) -> str:
        return self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
