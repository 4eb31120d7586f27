"""Adapters layer: the simulator's /sim/admin endpoints, for tests, demos and benchmarks.

`faults` and `feed` switch REST and WebSocket faults at run time (`apply_faults` /
`apply_feed`, the same path as the start-up flags); `price` sets a price now or `delay_ms` after
replying; `stream` publishes a paced burst of prices from inside the simulator (load
generation); `arrivals` reports when each `placeorder` reached its endpoint and when each
scheduled price left the WebSocket server (`time.time_ns()`), so a benchmark in another process
can time tick -> order on the simulator's clock; `orders` lists every order with its `strategy`
tag (OpenAlgo's order book has none), the ground truth a chaos audit counts exits by.

`timing` sets the broker's timing (late or polled order reports, no order pushes, slow
placements, partial fills; `timing.TimingConfig`); `pending` lists the semi-auto Action Center
and approves or rejects a queued order. A broker session that comes back from down (`faults`
`session_down` true, then false) starts the timing's slow-after-re-login window.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from tradeguard.adapters.sim import rest_views as views
from tradeguard.adapters.sim.action_center import PendingOrder, PendingOrderError, PendingState
from tradeguard.adapters.sim.faults import FaultSpecError, check_broker_faults, feed_flags
from tradeguard.adapters.sim.rest_server import SimApi
from tradeguard.adapters.sim.timing import TimingSpecError, timing_config
from tradeguard.core.broker import RejectedError
from tradeguard.core.money import MoneyError, to_units

Data = views.Data


class SimAdmin:
    """The /sim/admin handlers over one SimApi."""

    def __init__(self, api: SimApi) -> None:
        self.api = api

    def apply_faults(self, spec: Data) -> Data:
        """Apply a `/sim/admin/faults` body; returns the REST fault state. Raises
        FaultSpecError (or ValueError/TypeError) for a bad spec."""
        endpoints = spec.get("endpoints")
        if isinstance(endpoints, list):
            unknown = sorted(str(e) for e in endpoints if e not in self.api.endpoints)
            if unknown:
                raise FaultSpecError(f"unknown endpoint(s): {', '.join(unknown)}")
        check_broker_faults(spec)
        was_down = self.api.faults.session_down
        self.api.faults.update(spec)
        if was_down and not self.api.faults.session_down:
            self.api.broker.timing.session_restored()
        released = self._broker_faults(spec)
        return self.api.faults.snapshot() | {
            "fill_late": self.api.broker.fill_late,
            "released": released,
        }

    def apply_timing(self, spec: Data) -> Data:
        """Apply a `/sim/admin/timing` body (all of it, or TimingSpecError and nothing);
        returns the timing in force and how many orders have a change not yet reported."""
        clock = self.api.broker.timing
        clock.reconfigure(timing_config(clock.config, spec))
        return clock.config.snapshot() | {"unreported": self.api.broker.reports.unreported()}

    def approve(self, pending_id: int) -> PendingOrder:
        """Place a queued semi-auto order as it was asked for; a broker refusal marks it
        failed and raises RejectedError. PendingOrderError: unknown or already decided."""
        pending = self.api.action_center.get(pending_id)
        pending.ensure_pending()
        try:
            if pending.endpoint == "placesmartorder":
                order_id = self.api.submit_smart(pending.request)
            else:
                order_id = self.api.submit_order(pending.request)
        except (RejectedError, MoneyError) as error:
            pending.decide(PendingState.FAILED, message=str(error))
            raise
        pending.decide(PendingState.APPROVED, order_id=order_id)
        return pending

    def reject(self, pending_id: int) -> PendingOrder:
        pending = self.api.action_center.get(pending_id)
        pending.decide(PendingState.REJECTED)
        return pending

    def apply_feed(self, spec: Data) -> Data:
        """Apply a `/sim/admin/feed` body to the WebSocket server; returns its fault state and
        how many connections were dropped. Nothing changes if the spec is bad."""
        if self.api.feed is None:
            raise FaultSpecError("this simulator has no WebSocket feed attached")
        flags = feed_flags(spec)
        switches: dict[str, Callable[[bool], None]] = {
            "stale": self.api.feed.set_stale,
            "duplicate_ticks": self.api.feed.set_duplicate_ticks,
            "duplicate_orders": self.api.feed.set_duplicate_order_updates,
            "refuse": self.api.feed.refuse_connections,
        }
        for name, switch in switches.items():
            if name in flags:
                switch(flags[name])
        dropped = self.api.feed.drop_all() if flags.get("drop") else 0  # after "refuse" is set
        return self.feed_state() | {"dropped": dropped}

    def feed_state(self) -> Data:
        if self.api.feed is None:
            return {}
        state = self.api.feed.faults()
        return {
            "stale": state["stale"],
            "duplicate_ticks": state["duplicate_ticks"],
            "duplicate_orders": state["duplicate_order_updates"],
            "refuse": state["refuse_connections"],
        }

    def _broker_faults(self, spec: Data) -> list[str]:
        if spec.get("reset"):
            self.api.broker.reject_next(0)
            self.api.broker.set_fill_late(False)
        if "reject_next" in spec:
            self.api.broker.reject_next(
                int(spec["reject_next"]),
                str(spec.get("reject_message") or ""),
                at_submit=bool(spec.get("reject_at_submit", True)),
            )
        if "rate_limits" in spec:
            for name, value in dict(spec["rate_limits"]).items():
                setattr(self.api.limiter.limits, name, value)
        if "fill_late" in spec:
            self.api.broker.set_fill_late(bool(spec["fill_late"]))
        return self.api.broker.release_late_fills() if spec.get("release_late") else []

    async def faults(self, request: Request) -> Response:
        try:
            state = self.apply_faults(await _json_object(request))
        except (FaultSpecError, ValueError, TypeError) as error:
            return views.error(400, str(error))
        return views.success(state)

    async def timing(self, request: Request) -> Response:
        try:
            state = self.apply_timing(await _json_object(request))
        except (FaultSpecError, TimingSpecError) as error:
            return views.error(400, str(error))
        return views.success(state)

    async def pending(self, request: Request) -> Response:
        """GET: every queued order with its state. POST `{"approve": N}` or `{"reject": N}`:
        decide one (404 unknown, 409 already decided, 400 the broker refused the order)."""
        if request.method == "GET":
            return views.success(self.api.action_center.rows())
        try:
            spec = await _json_object(request)
            if len(spec) != 1 or next(iter(spec)) not in ("approve", "reject"):
                raise FaultSpecError('body must be {"approve": N} or {"reject": N}')
            ((verb, pending_id),) = spec.items()
            if isinstance(pending_id, bool) or not isinstance(pending_id, int):
                raise FaultSpecError(f"{verb} must be a pending_order_id (a whole number)")
            decided = self.approve(pending_id) if verb == "approve" else self.reject(pending_id)
        except FaultSpecError as error:
            return views.error(400, str(error))
        except PendingOrderError as error:
            return views.error(error.status, str(error))
        except (RejectedError, MoneyError) as error:
            return views.error(400, f"the broker refused the approved order: {error}")
        return views.success(decided.row())

    async def feed(self, request: Request) -> Response:
        if self.api.feed is None:
            return views.error(404, "this simulator has no WebSocket feed attached")
        try:
            state = self.apply_feed(await _json_object(request))
        except FaultSpecError as error:
            return views.error(400, str(error))
        return views.success(state)

    async def price(self, request: Request) -> Response:
        """Set a price now, or `delay_ms` after replying (so the caller's handling of this
        reply is over before the tick goes out). An immediate reply carries `sent_ns` (just
        before the tick went to the WebSocket server); either way `/sim/admin/arrivals` gets,
        under "EXCHANGE:SYMBOL", the time the WebSocket server wrote the tick."""
        try:
            spec = json.loads(await request.body())
            symbol, exchange = str(spec["symbol"]), str(spec["exchange"])
            units = to_units(str(spec["ltp"]))
            delay_ms = float(spec.get("delay_ms", 0))
            if not 0 <= delay_ms <= 60_000:
                raise ValueError("delay_ms must be within 0..60000")
        except (KeyError, TypeError, ValueError) as error:
            return views.error(400, f"bad price request: {error}")
        reply = {"symbol": symbol, "exchange": exchange, "ltp": views.price(units)}
        if delay_ms:
            asyncio.get_running_loop().call_later(
                delay_ms / 1_000, self._set_price, symbol, exchange, units
            )
            return views.success(reply | {"scheduled_ms": delay_ms})
        return views.success(reply | {"sent_ns": self._set_price(symbol, exchange, units)})

    def _set_price(self, symbol: str, exchange: str, units: int) -> int:
        """Set the price; stamp the tick under "EXCHANGE:SYMBOL" in the arrivals when the
        WebSocket server writes it to a client (just now when no feed is attached). Returns
        the time just before the tick went to the WebSocket server."""
        key = f"{exchange}:{symbol}"
        if self.api.feed is not None:
            self.api.feed.stamp_next_send(symbol, exchange, lambda ns: self.api.arrived(key, ns))
        sent_ns = time.time_ns()
        self.api.market.set_price(symbol, exchange, units)
        if self.api.feed is None:
            self.api.arrived(key, sent_ns)
        return sent_ns

    async def arrivals(self, request: Request) -> Response:
        """`{order_id: ns}`: when each placeorder reached its handler, and `{"EXCHANGE:SYMBOL":
        ns}`: when the last admin price of a symbol went out; POST also clears them."""
        arrivals = dict(self.api.arrivals)
        if request.method == "POST":
            self.api.arrivals.clear()
        return views.success(arrivals)

    async def orders(self, request: Request) -> Response:
        """Every order, oldest first, with its `strategy` tag, filled quantity and average
        price (GET; read only)."""
        broker = self.api.broker
        rows = []
        for report in await broker.order_book():
            sent = broker.order_request(report.order_id)
            rows.append(
                views.order_row(report, sent)
                | {
                    "strategy": "" if sent is None else sent.strategy,
                    "filled_quantity": report.filled_quantity,
                    "average_price": views.price(report.average_price),
                }
            )
        return views.success(rows)

    async def stream(self, request: Request) -> Response:
        """Publish `rate` prices a second for `window_s` seconds, round-robin over `symbols`
        (on `exchange`), cycling through `prices` once per pass; replies with how many went
        out. The pacing runs here, so the load generator costs the client nothing."""
        try:
            spec = await _json_object(request)
            exchange = str(spec.get("exchange", "NSE"))
            symbols = [str(s) for s in spec["symbols"]]
            prices = [to_units(str(p)) for p in spec["prices"]]
            rate, window = float(spec["rate"]), float(spec["window_s"])
            if not symbols or not prices or rate <= 0 or not 0 < window <= 60:
                raise ValueError("symbols and prices must not be empty, 0 < window_s <= 60")
        except (FaultSpecError, KeyError, TypeError, ValueError) as error:
            return views.error(400, f"bad stream request: {error}")
        sent, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < window:
            due = int(elapsed * rate)
            while sent < due:
                price = prices[(sent // len(symbols)) % len(prices)]
                self.api.market.set_price(symbols[sent % len(symbols)], exchange, price)
                sent += 1
            await asyncio.sleep(0.002)
        return views.success({"sent": sent, "elapsed_s": time.perf_counter() - start})


async def _json_object(request: Request) -> Data:
    """An admin request's JSON object body (an empty body is `{}`)."""
    try:
        spec = json.loads(await request.body() or b"{}")
    except ValueError:
        raise FaultSpecError("body must be a JSON object") from None
    if not isinstance(spec, dict):
        raise FaultSpecError("body must be a JSON object")
    return spec
