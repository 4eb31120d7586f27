"""Tests: one BrokerGateway contract, passed by the in-process PaperBroker and by
OpenAlgoGateway talking to the simulator's REST server over a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.openalgo.simserver import APIKEY, serve_sim
from tradeguard.adapters.openalgo.rest_gateway import OpenAlgoGateway
from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.app.ports import BrokerGateway
from tradeguard.core.broker import (
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    RejectedError,
    SmartOrderRequest,
)
from tradeguard.core.money import to_units


@dataclass
class Rig:
    gateway: BrokerGateway
    set_price: Callable[[str, str, str], Awaitable[None]]
    reject_next: Callable[[str, bool], Awaitable[None]]
    fill_late: Callable[[bool], Awaitable[None]]
    release_late: Callable[[], Awaitable[None]]


@pytest_asyncio.fixture(params=["paper", "openalgo-sim"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    if request.param == "paper":
        market = SimMarket()
        market.set_price("SBIN", "NSE", to_units("800"))
        broker = PaperBroker(market)

        async def set_price(symbol: str, exchange: str, ltp: str) -> None:
            market.set_price(symbol, exchange, to_units(ltp))

        async def reject(message: str, at_submit: bool) -> None:
            broker.reject_next(1, message, at_submit=at_submit)

        async def fill_late(enabled: bool) -> None:
            broker.set_fill_late(enabled)

        async def release() -> None:
            broker.release_late_fills()

        yield Rig(broker, set_price, reject, fill_late, release)
        return
    async with serve_sim() as sim, OpenAlgoGateway(sim.url, APIKEY, timeout=2.0) as gateway:

        async def reject_remote(message: str, at_submit: bool) -> None:
            await sim.faults(reject_next=1, reject_message=message, reject_at_submit=at_submit)

        async def fill_late_remote(enabled: bool) -> None:
            await sim.faults(fill_late=enabled)

        async def release_remote() -> None:
            await sim.faults(release_late=True)

        yield Rig(gateway, sim.price, reject_remote, fill_late_remote, release_remote)


def buy(qty: int, **kw: object) -> OrderRequest:
    return OrderRequest("SBIN", "NSE", "BUY", qty, str(kw.pop("product", "MIS")), "c", **kw)  # type: ignore[arg-type]


def sell(qty: int, product: str = "MIS") -> OrderRequest:
    return OrderRequest("SBIN", "NSE", "SELL", qty, product, "c")


async def net(gateway: BrokerGateway, product: str = "MIS") -> int:
    rows = await gateway.position_book()
    return sum(r.quantity for r in rows if (r.symbol, r.product) == ("SBIN", product))


@pytest.mark.asyncio
async def test_market_order_fills_and_is_reported(rig: Rig) -> None:
    gw = rig.gateway
    placed = await gw.place_order(buy(5))
    assert isinstance(placed.order_id, str)
    status = await gw.order_status(placed.order_id, "c")
    assert (status.status, status.action, status.quantity) == (OrderStatus.COMPLETE, "BUY", 5)
    assert status.average_price == to_units("800")
    book = {r.order_id: r for r in await gw.order_book()}
    assert book[placed.order_id].status is OrderStatus.COMPLETE
    fills = [f for f in await gw.trade_book() if f.order_id == placed.order_id]
    assert [(f.quantity, f.average_price) for f in fills] == [(5, to_units("800"))]
    assert await gw.quotes([("SBIN", "NSE"), ("NOPE", "NSE")]) == {("SBIN", "NSE"): 8_000_000}
    with pytest.raises(OrderNotFound):
        await gw.order_status("424242", "c")


@pytest.mark.asyncio
async def test_position_signs_average_and_products(rig: Rig) -> None:
    gw = rig.gateway
    await gw.place_order(buy(10))
    await rig.set_price("SBIN", "NSE", "810")
    await gw.place_order(buy(10))
    [pos] = await gw.position_book()
    assert (pos.quantity, pos.average_price) == (20, to_units("805"))
    await gw.place_order(sell(25))
    assert await net(gw) == -5
    await gw.place_order(sell(3, "NRML"))
    assert (await net(gw), await net(gw, "NRML")) == (-5, -3)
    await gw.place_order(buy(5))
    assert await net(gw) == 0
    assert await gw.open_position("SBIN", "NSE", "MIS", "c") == 0
    assert await gw.open_position("SBIN", "NSE", "NRML", "c") == -3
    assert await gw.open_position("INFY", "NSE", "MIS", "c") == 0


@pytest.mark.parametrize(
    ("start", "action", "qty", "target", "after", "placed"),
    [
        (0, "BUY", 0, 0, 0, False),  # 0/0 with quantity 0: nothing
        (0, "SELL", 4, 0, -4, True),  # 0/0: request's action and quantity
        (6, "BUY", 9, 0, 0, True),  # flatten, request ignored
        (6, "BUY", 9, 2, 2, True),
        (-3, "SELL", 9, 4, 4, True),
        (5, "SELL", 9, 5, 5, False),  # matched
    ],
)
@pytest.mark.asyncio
async def test_smart_order_table(
    rig: Rig, start: int, action: str, qty: int, target: int, after: int, placed: bool
) -> None:
    gw = rig.gateway
    if start:
        await gw.place_order(buy(start) if start > 0 else sell(-start))
    result = await gw.place_smart_order(
        SmartOrderRequest("SBIN", "NSE", action, qty, target, "MIS", "c")
    )
    assert (result.order_id is not None) == placed
    if not placed:
        assert "Positions Already Matched" in result.message
    assert await net(gw) == after


@pytest.mark.asyncio
async def test_rejections(rig: Rig) -> None:
    gw = rig.gateway
    await rig.reject_next("RMS: Margin Exceeds", True)
    with pytest.raises(RejectedError, match="Margin Exceeds"):
        await gw.place_order(buy(1))
    assert await gw.order_book() == []
    await rig.reject_next("RMS: Blocked", False)
    placed = await gw.place_order(buy(1))
    assert placed.order_id is not None
    report = await gw.order_status(placed.order_id, "c")
    assert report.status is OrderStatus.REJECTED
    assert await net(gw) == 0
    with pytest.raises(RejectedError):
        await gw.place_order(OrderRequest("NOPE", "NSE", "BUY", 1, "MIS", "c"))


@pytest.mark.asyncio
async def test_limit_rests_until_crossed(rig: Rig) -> None:
    gw = rig.gateway
    placed = await gw.place_order(buy(2, pricetype="LIMIT", price=to_units("795")))
    assert placed.order_id is not None
    assert (await gw.order_status(placed.order_id, "c")).status is OrderStatus.OPEN
    await rig.set_price("SBIN", "NSE", "794.5")
    done = await gw.order_status(placed.order_id, "c")
    assert (done.status, done.average_price) == (OrderStatus.COMPLETE, to_units("795"))


@pytest.mark.asyncio
async def test_accepted_is_not_filled(rig: Rig) -> None:
    gw = rig.gateway
    await rig.fill_late(True)
    placed = await gw.place_order(sell(4))
    assert placed.order_id is not None
    assert (await gw.order_status(placed.order_id, "c")).status is OrderStatus.OPEN
    assert await net(gw) == 0
    await rig.fill_late(False)
    await rig.set_price("SBIN", "NSE", "799")
    await rig.release_late()
    done = await gw.order_status(placed.order_id, "c")
    assert (done.status, done.average_price) == (OrderStatus.COMPLETE, to_units("799"))
    assert await net(gw) == -4
