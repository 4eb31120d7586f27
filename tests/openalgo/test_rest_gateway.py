"""Tests: OpenAlgoGateway against the real simulator REST server over real sockets."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.openalgo.simserver import APIKEY, SimHandle, serve_sim
from tradeguard.adapters.openalgo import parse
from tradeguard.adapters.openalgo.ratelimit import RateLimitConfig
from tradeguard.adapters.openalgo.rest_gateway import OpenAlgoGateway
from tradeguard.adapters.sim.faults import RateLimits
from tradeguard.core.broker import (
    BrokerError,
    MalformedReply,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    Queued,
    RateLimited,
    RejectedError,
    RetryableError,
    SessionDown,
    SmartOrderRequest,
    UnknownOutcome,
)
from tradeguard.core.money import to_units

BUY = OrderRequest("SBIN", "NSE", "BUY", 10, "MIS", "tg")


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimHandle]:
    async with serve_sim() as handle:
        yield handle


@pytest_asyncio.fixture
async def gateway(sim: SimHandle) -> AsyncIterator[OpenAlgoGateway]:
    async with OpenAlgoGateway(sim.url, APIKEY, timeout=2.0) as gw:
        yield gw


# -- success paths ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_place_fill_and_read_everything(sim: SimHandle, gateway: OpenAlgoGateway) -> None:
    placed = await gateway.place_order(BUY)
    assert isinstance(placed.order_id, str)
    status = await gateway.order_status(placed.order_id, "tg")
    assert (status.status, status.quantity, status.average_price) == (
        OrderStatus.COMPLETE,
        10,
        to_units("800"),
    )
    [row] = await gateway.order_book()
    assert (row.order_id, row.action, row.status) == (placed.order_id, "BUY", OrderStatus.COMPLETE)
    [fill] = await gateway.trade_book()
    assert (fill.order_id, fill.quantity, fill.average_price) == (placed.order_id, 10, 8_000_000)
    await sim.price("SBIN", "NSE", "801.35")
    [pos] = await gateway.position_book()
    assert (pos.quantity, pos.average_price, pos.ltp) == (10, 8_000_000, to_units("801.35"))
    prices = await gateway.quotes([("SBIN", "NSE"), ("NOPE", "NSE"), ("INFY", "NSE")])
    assert prices == {("SBIN", "NSE"): to_units("801.35"), ("INFY", "NSE"): to_units("1500.25")}
    assert await gateway.quotes([("NOPE", "NSE")]) == {}
    info = await gateway.symbol_info("SBIN", "NSE")
    assert (info.tick_size, info.lot_size) == ("0.05", 1)
    await gateway.ping()
    funds = await gateway.funds()
    assert funds.utilised_debits == to_units("8000")


@pytest.mark.asyncio
async def test_funds_in_live_and_analyzer_modes(sim: SimHandle, gateway: OpenAlgoGateway) -> None:
    """Live funds are 2-dp strings; analyzer (sandbox) funds are floats with `last_reset`
    ("YYYY-MM-DD HH:MM:SS"), an integer `reset_count`, more amounts and "mode": "analyze" at
    the top level, as real OpenAlgo answers. Both parse; switching back gives the live shape."""
    await gateway.place_order(BUY)
    await sim.price("SBIN", "NSE", "801.35")
    live = await gateway.funds()
    assert (live.mode, live.last_reset, live.reset_count, dict(live.extra)) == (
        "live",
        None,
        None,
        {},
    )
    assert (live.utilised_debits, live.m2m_unrealized) == (to_units("8000"), to_units("13.5"))
    toggled = await sim.call("analyzer/toggle", {"apikey": APIKEY, "mode": True})
    assert toggled.json()["data"]["message"] == "Analyzer mode switched to analyze"
    raw = (await sim.call("funds", {"apikey": APIKEY})).json()
    assert raw["mode"] == "analyze"
    assert isinstance(raw["data"]["reset_count"], int)
    assert isinstance(raw["data"]["availablecash"], float)
    sandbox = await gateway.funds()
    assert sandbox.mode == "analyze"
    assert sandbox.reset_count == 0
    assert sandbox.last_reset == raw["data"]["last_reset"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", sandbox.last_reset or "")
    assert (sandbox.utilised_debits, sandbox.m2m_unrealized) == (
        live.utilised_debits,
        live.m2m_unrealized,
    )
    assert sandbox.extra["grossexposure"] == to_units("8000")
    assert sandbox.extra["totalpnl"] == to_units("13.5")
    await sim.call("analyzer/toggle", {"apikey": APIKEY, "mode": False})
    assert (await gateway.funds()).mode == "live"


def test_funds_parse_refuses_what_is_not_funds() -> None:
    good = {"availablecash": "1.00", "collateral": "0", "m2mrealized": "0", "m2munrealized": 0,
            "utiliseddebits": 0.5}  # fmt: skip
    assert parse.funds(good).available_cash == to_units("1")
    for bad in (
        {**good, "last_reset": "07-12-2026 10:00"},
        {**good, "reset_count": 1.5},
        {**good, "reset_count": True},
        {**good, "grossexposure": "lots"},
        {k: v for k, v in good.items() if k != "availablecash"},
    ):
        with pytest.raises(parse.ParseError):
            parse.funds(bad)


@pytest.mark.asyncio
async def test_smart_orders(gateway: OpenAlgoGateway) -> None:
    noop = await gateway.place_smart_order(
        SmartOrderRequest("SBIN", "NSE", "BUY", 0, 0, "MIS", "t")
    )
    assert noop.order_id is None
    assert "Positions Already Matched" in noop.message
    placed = await gateway.place_smart_order(
        SmartOrderRequest("SBIN", "NSE", "SELL", 0, -4, "MIS", "t")
    )
    assert placed.order_id is not None
    [pos] = await gateway.position_book()
    assert pos.quantity == -4


def test_smart_order_no_ops_in_both_phrasings() -> None:
    """The live service and the sandbox say "nothing placed" differently; both are a no-op
    (the executor then reads the position again), anything else without an order id is not."""
    assert parse.smart_noop("Positions Already Matched. No Action needed.")
    assert parse.smart_noop("No OpenPosition Found. Not placing Exit order.")
    assert not parse.smart_noop("Order queued for approval")
    assert not parse.smart_noop("")


# -- the server's wire behaviour (raw HTTP) --------------------------------------------------


@pytest.mark.asyncio
async def test_wire_shapes(sim: SimHandle) -> None:
    bad_key = await sim.call("ping", {"apikey": "wrong"})
    assert (bad_key.status_code, bad_key.json()) == (
        403,
        {"status": "error", "message": "Invalid openalgo apikey"},
    )
    extra = await sim.call("positionbook", {"apikey": APIKEY, "strategy": "x"})
    assert extra.status_code == 400
    assert extra.json()["message"] == {"strategy": ["Unknown field."]}
    order = {"apikey": APIKEY, "strategy": "s", "symbol": "SBIN", "exchange": "NSE"}
    no_qty = await sim.call("placeorder", order | {"action": "buy", "target": 1})
    assert no_qty.status_code == 400
    message = no_qty.json()["message"]
    assert isinstance(message, str)
    assert "'quantity': ['Missing data for required field.']" in message
    assert "'target': ['Unknown field.']" in message
    placed = await sim.call("placeorder", order | {"action": "buy", "quantity": "2"})
    assert placed.json() == {"status": "success", "orderid": placed.json()["orderid"]}
    no_strategy = await sim.call("orderstatus", {"apikey": APIKEY, "orderid": "1"})
    assert no_strategy.json()["message"] == {"strategy": ["Missing data for required field."]}
    missing = await sim.call("orderstatus", {"apikey": APIKEY, "strategy": "s", "orderid": "1"})
    assert (missing.status_code, missing.json()["message"]) == (404, "Order 1 not found")
    opened = await sim.call("openposition", order | {"product": "MIS"})
    assert opened.json() == {"quantity": "2", "status": "success"}
    multi = await sim.call(
        "multiquotes", {"apikey": APIKEY, "symbols": [{"symbol": "SBIN", "exchange": "NSE"}]}
    )
    assert multi.json()["results"][0]["data"]["ltp"] == 800.0
    unknown = await sim.call("nosuch", {"apikey": APIKEY})
    assert unknown.status_code == 404
    assert unknown.json()["path"] == "/api/v1/nosuch"


# -- error classification --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_400_shapes_become_rejections(sim: SimHandle, gateway: OpenAlgoGateway) -> None:
    await sim.faults(reject_next=1, reject_message="RMS: Margin Exceeds")
    with pytest.raises(RejectedError, match="RMS: Margin Exceeds") as broker_text:
        await gateway.place_order(BUY)
    assert broker_text.value.status == 400
    bad_exchange = OrderRequest("SBIN", "XYZ", "BUY", 1, "MIS", "tg")
    with pytest.raises(RejectedError, match="exchange: Must be one of") as schema:
        await gateway.place_order(bad_exchange)
    assert "{" not in str(schema.value)
    with pytest.raises(RejectedError, match="not found for exchange"):
        await gateway.symbol_info("NOPE", "NSE")
    with pytest.raises(OrderNotFound):
        await gateway.order_status("12345", "tg")


def test_error_message_parses_every_shape() -> None:
    as_str = (
        '{"status":"error","message":"{\'quantity\': [\'Quantity must be a positive number.\']}"}'
    )
    assert parse.error_message(as_str) == "quantity: Quantity must be a positive number."
    as_obj = '{"status":"error","message":{"apikey":["Missing data for required field."]}}'
    assert parse.error_message(as_obj) == "apikey: Missing data for required field."
    page = "<html><head><title>Error</title></head><body><h1>500</h1><p>Oops &amp; co</p></body>"
    assert parse.error_message(page) == "Error 500 Oops & co"
    assert parse.error_message('{"message":"Rate limit exceeded"}') == "Rate limit exceeded"


@pytest.mark.asyncio
async def test_403_is_session_down_and_key_never_leaks(
    sim: SimHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = APIKEY[::-1]
    async with OpenAlgoGateway(sim.url, wrong, timeout=2.0) as gw:
        with pytest.raises(SessionDown) as down:
            await gw.place_order(BUY)
        await sim.faults(fail="malformed", fail_count=1)
        with pytest.raises(BrokerError) as other:
            await gw.position_book()
    for error in (down.value, other.value):
        assert wrong not in f"{error} {error.detail} {error!r}"
    assert wrong not in caplog.text
    assert wrong not in repr(gw)


@pytest.mark.asyncio
async def test_injected_429_500_html_403(sim: SimHandle, gateway: OpenAlgoGateway) -> None:
    await sim.faults(fail="429", fail_count=1)
    with pytest.raises(RateLimited):
        await gateway.order_book()
    await sim.faults(fail="500", fail_count=2)
    with pytest.raises(UnknownOutcome):
        await gateway.place_order(BUY)
    with pytest.raises(RetryableError) as read_500:
        await gateway.order_book()
    assert not isinstance(read_500.value, UnknownOutcome)
    await sim.faults(fail="html", fail_count=2)
    with pytest.raises(UnknownOutcome, match="Internal Server Error"):
        await gateway.place_smart_order(SmartOrderRequest("SBIN", "NSE", "BUY", 1, 0, "MIS", "t"))
    with pytest.raises(RetryableError, match="Internal Server Error"):
        await gateway.position_book()
    await sim.faults(fail="403", fail_count=1, endpoints=["ping"])
    await gateway.order_book()  # other endpoints unaffected
    with pytest.raises(SessionDown):
        await gateway.ping()
    assert sim.broker.net_quantity(BUY) == 0


@pytest.mark.asyncio
async def test_timeout_on_a_write_is_unknown_outcome(sim: SimHandle) -> None:
    async with OpenAlgoGateway(sim.url, APIKEY, timeout=0.3) as gw:
        await sim.faults(fail="timeout", fail_count=2)
        with pytest.raises(UnknownOutcome, match="timed out"):
            await gw.place_order(BUY)
        with pytest.raises(RetryableError) as read:
            await gw.position_book()
        assert not isinstance(read.value, UnknownOutcome)
        assert await gw.position_book() == []


@pytest.mark.asyncio
async def test_order_placement_has_its_own_longer_timeout(sim: SimHandle) -> None:
    """A placeorder reply that comes after the REST timeout but within the order timeout (as
    OpenAlgo's first order after a re-login, ~10 s) is an accepted order, not an unknown
    outcome; reads still give up at the REST timeout. Without an order timeout the same late
    reply is an unknown outcome."""
    late = {"order_reply": "late", "order_reply_delay_ms": 600, "order_reply_count": 1}
    async with OpenAlgoGateway(sim.url, APIKEY, timeout=0.3, order_timeout=5.0) as gw:
        await sim.faults(**late)
        placed = await gw.place_order(BUY)
        assert placed.order_id is not None
        await sim.faults(fail="timeout", fail_count=1, endpoints=["positionbook"])
        with pytest.raises(RetryableError, match="timed out") as read:
            await gw.position_book()
        assert not isinstance(read.value, UnknownOutcome)
    async with OpenAlgoGateway(sim.url, APIKEY, timeout=0.3) as gw:
        await sim.faults(reset=True, **late)
        with pytest.raises(UnknownOutcome, match="timed out"):
            await gw.place_order(BUY)


@pytest.mark.asyncio
async def test_connection_refused_is_retryable() -> None:
    async with serve_sim() as sim:
        url = sim.url
    async with OpenAlgoGateway(url, APIKEY, timeout=1.0) as gw:
        with pytest.raises(RetryableError, match="unreachable") as refused:
            await gw.place_order(BUY)
    assert not isinstance(refused.value, UnknownOutcome)


@pytest.mark.asyncio
async def test_semi_auto_is_not_placed(sim: SimHandle, gateway: OpenAlgoGateway) -> None:
    await sim.faults(semi_auto=True)
    with pytest.raises(Queued, match="queued for approval") as queued:
        await gateway.place_order(BUY)
    assert "semi_auto" in queued.value.detail
    assert queued.value.pending_id == "1"  # OpenAlgo's pending_order_id, as text
    with pytest.raises(Queued) as smart:
        await gateway.place_smart_order(SmartOrderRequest("SBIN", "NSE", "BUY", 0, 5, "MIS", "t"))
    assert smart.value.pending_id == "2"
    assert await gateway.order_book() == []
    await sim.faults(semi_auto=False)
    assert (await gateway.place_order(BUY)).order_id is not None


@pytest.mark.asyncio
async def test_malformed_and_html_success_replies(
    sim: SimHandle, gateway: OpenAlgoGateway, caplog: pytest.LogCaptureFixture
) -> None:
    await sim.faults(fail="garbage", fail_count=1)
    with pytest.raises(MalformedReply, match="not JSON"):
        await gateway.order_book()
    assert "<html><body>OK</body></html>" in caplog.text  # logged with the reply
    await sim.faults(fail="malformed", fail_count=5)
    with pytest.raises(MalformedReply, match="orderid"):
        await gateway.place_order(BUY)
    with pytest.raises(MalformedReply):
        await gateway.order_book()
    with pytest.raises(MalformedReply):
        await gateway.trade_book()
    with pytest.raises(MalformedReply):
        await gateway.order_status("1", "tg")
    with pytest.raises(MalformedReply):
        await gateway.quotes([("SBIN", "NSE")])


@pytest.mark.asyncio
async def test_implausible_tick_size_is_refused(sim: SimHandle, gateway: OpenAlgoGateway) -> None:
    sim.market.set_instrument("SBIN", "NSE", tick_size=to_units(10), lot_size=1)
    with pytest.raises(MalformedReply, match="1%"):
        await gateway.symbol_info("SBIN", "NSE")
    info = await gateway.symbol_info("SBIN", "NSE", reference_price=to_units(5000))
    assert info.tick_size == "10"


def test_numbers_as_strings_or_numbers() -> None:
    row = {"symbol": "A", "exchange": "NSE", "product": "MIS", "quantity": "-104",
           "average_price": "17.2", "ltp": 17.31, "pnl": "-10.44"}  # fmt: skip
    pos = parse.position_report(parse.loads(parse.json.dumps(row)))
    assert (pos.quantity, pos.average_price, pos.ltp) == (-104, 172_000, 173_100)
    with pytest.raises(parse.ParseError):
        parse.position_report(row | {"quantity": "1.5"})
    with pytest.raises(parse.ParseError):
        parse.position_report(row | {"quantity": True})
    assert parse.units("18.953333", "avg", average=True) == 189_533
    with pytest.raises(parse.ParseError):
        parse.units("18.953333", "ltp")


# -- rate limits -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_local_limiter_keeps_under_the_server_limit() -> None:
    limits = RateLimits(order=3, smart_order=3, api=5, window_s=0.25)
    async with serve_sim(limits) as sim:
        # The simulator stamps each request when this same event loop gets to it: on a busy
        # machine a stalled loop can hand it requests released in two of our windows at once.
        # A margin as wide as the window absorbs stalls up to 0.25 s.
        local = RateLimitConfig(
            orders=3, smart_orders=3, api=5, window_s=0.25, margin_s=0.25, reserved_high=2
        )
        async with OpenAlgoGateway(sim.url, APIKEY, rate_limits=local) as gw:
            started = time.monotonic()
            results = await asyncio.gather(*(gw.place_order(BUY) for _ in range(7)))
            assert all(r.order_id for r in results)
            assert time.monotonic() - started >= 0.5  # 7 orders at 3 per 0.25 s
            reads = await asyncio.gather(*(gw.order_book() for _ in range(8)))
            assert len(reads) == 8
        async with OpenAlgoGateway(sim.url, APIKEY, rate_limits=RateLimitConfig(orders=50)) as raw:
            outcomes = await asyncio.gather(
                *(raw.place_order(BUY) for _ in range(6)), return_exceptions=True
            )
            assert any(isinstance(o, RateLimited) for o in outcomes)


@pytest.mark.asyncio
async def test_high_priority_reads_overtake_polling() -> None:
    limits = RateLimits(enabled=False)
    async with serve_sim(limits) as sim:
        local = RateLimitConfig(api=4, window_s=0.3, margin_s=0.0, reserved_high=2)
        async with OpenAlgoGateway(sim.url, APIKEY, rate_limits=local) as gw:
            order: list[str] = []

            async def poll(i: int) -> None:
                await gw.quotes([("SBIN", "NSE")])
                order.append(f"poll{i}")

            async def resolve() -> None:
                await gw.order_book()
                order.append("book")

            polls = [asyncio.create_task(poll(i)) for i in range(4)]  # queued first
            await asyncio.gather(resolve(), *polls)
            # LOW may use only 2 of 4 slots: the high-priority read is never starved
            assert order.index("book") <= 2
