"""Tests: the paper broker (positions, fills, smart-order table, rejections, fault hooks)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tradeguard.adapters.sim.market import SimMarket, WalkConfig
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
from tradeguard.core.money import to_units


def order(action: str, qty: int, **kw: object) -> OrderRequest:
    fields: dict[str, object] = {
        "symbol": "SBIN",
        "exchange": "NSE",
        "action": action,
        "quantity": qty,
        "product": "MIS",
        "strategy": "t",
    }
    fields.update(kw)
    return OrderRequest(**fields)  # type: ignore[arg-type]


def smart(action: str, qty: int, size: int) -> SmartOrderRequest:
    return SmartOrderRequest("SBIN", "NSE", action, qty, size, "MIS", "t")


@pytest.fixture
def market() -> SimMarket:
    m = SimMarket(seed=1, clock_ms=lambda: 1_700_000_000_000)
    m.set_price("SBIN", "NSE", to_units("800"))
    return m


@pytest.fixture
def broker(market: SimMarket) -> PaperBroker:
    return PaperBroker(market, clock_ms=lambda: 1_700_000_000_000)


async def net(broker: PaperBroker, product: str = "MIS") -> int:
    rows = [r for r in await broker.position_book() if r.product == product]
    return rows[0].quantity if rows else 0


@pytest.mark.asyncio
async def test_market_order_fills_at_last_price_and_builds_position(
    broker: PaperBroker, market: SimMarket
) -> None:
    first = await broker.place_order(order("BUY", 10))
    assert first.order_id == "26000000000001"
    market.set_price("SBIN", "NSE", to_units("810"))
    await broker.place_order(order("BUY", 10))
    status = await broker.order_status(first.order_id, "t")
    assert status.status is OrderStatus.COMPLETE
    assert status.average_price == to_units("800")
    [pos] = await broker.position_book()
    assert (pos.quantity, pos.average_price, pos.ltp) == (20, to_units("805"), to_units("810"))


@pytest.mark.asyncio
async def test_reduce_cross_and_realized_pnl(broker: PaperBroker, market: SimMarket) -> None:
    await broker.place_order(order("BUY", 10))
    market.set_price("SBIN", "NSE", to_units("820"))
    await broker.place_order(order("SELL", 4))
    assert await net(broker) == 6
    assert broker.realized_pnl("SBIN", "NSE", "MIS") == 4 * to_units("20")
    await broker.place_order(order("SELL", 10))  # crosses zero: short 4 at 820
    pos = broker.position("SBIN", "NSE", "MIS")
    assert pos is not None
    assert (pos.quantity, pos.average_price) == (-4, to_units("820"))
    assert broker.realized_pnl("SBIN", "NSE", "MIS") == 10 * to_units("20")
    market.set_price("SBIN", "NSE", to_units("830"))
    await broker.place_order(order("BUY", 4))
    flat = broker.position("SBIN", "NSE", "MIS")
    assert flat is not None
    assert (flat.quantity, flat.average_price) == (0, 0)
    assert broker.realized_pnl("SBIN", "NSE", "MIS") == Fraction(to_units("160"))
    # closed rows stay in the book for the day
    assert [r.quantity for r in await broker.position_book()] == [0]


@pytest.mark.asyncio
async def test_products_are_separate_rows(broker: PaperBroker) -> None:
    await broker.place_order(order("BUY", 5))
    await broker.place_order(order("SELL", 3, product="NRML"))
    assert await net(broker, "MIS") == 5
    assert await net(broker, "NRML") == -3


@pytest.mark.parametrize(
    ("current", "action", "qty", "target", "expected"),
    [
        (0, "BUY", 5, 0, ("BUY", 5)),  # 0/0: the request's own action and quantity
        (0, "SELL", 7, 0, ("SELL", 7)),
        (0, "BUY", 0, 0, None),  # 0/0 with quantity 0: nothing
        (10, "BUY", 1, 0, ("SELL", 10)),  # target 0 flattens, request action ignored
        (-6, "SELL", 1, 0, ("BUY", 6)),
        (0, "SELL", 1, 4, ("BUY", 4)),
        (0, "BUY", 1, -4, ("SELL", 4)),
        (3, "SELL", 9, 8, ("BUY", 5)),
        (8, "BUY", 9, 3, ("SELL", 5)),
        (-2, "SELL", 9, 5, ("BUY", 7)),
        (5, "BUY", 2, 5, None),  # matched
    ],
)
def test_smart_order_decision_table(
    current: int, action: str, qty: int, target: int, expected: tuple[str, int] | None
) -> None:
    decided = smart_order_decision(smart(action, qty, target), current)
    if expected is None:
        assert decided is None
    else:
        assert decided is not None
        assert (decided.action, decided.quantity) == expected


@pytest.mark.asyncio
async def test_smart_order_against_the_book(broker: PaperBroker) -> None:
    nothing = await broker.place_smart_order(smart("BUY", 0, 0))
    assert (nothing.order_id, nothing.message) == (None, MATCHED)
    assert await broker.order_book() == []
    opened = await broker.place_smart_order(smart("BUY", 3, 0))  # 0/0 opens a position!
    assert opened.order_id is not None
    assert await net(broker) == 3
    await broker.place_smart_order(smart("BUY", 0, -2))
    assert await net(broker) == -2
    matched = await broker.place_smart_order(smart("SELL", 5, -2))
    assert matched.order_id is None
    await broker.place_smart_order(smart("SELL", 0, 0))
    assert await net(broker) == 0


@pytest.mark.asyncio
async def test_market_order_without_a_price_is_rejected(broker: PaperBroker) -> None:
    with pytest.raises(RejectedError, match="unable to fetch current price"):
        await broker.place_order(order("BUY", 1, symbol="NOPE"))
    with pytest.raises(RejectedError, match="positive"):
        await broker.place_order(order("BUY", 0))


@pytest.mark.asyncio
async def test_limit_rests_then_fills_at_limit(broker: PaperBroker, market: SimMarket) -> None:
    marketable = await broker.place_order(order("BUY", 1, pricetype="LIMIT", price=to_units(805)))
    assert marketable.order_id is not None
    done = await broker.order_status(marketable.order_id, "t")
    assert (done.status, done.average_price) == (OrderStatus.COMPLETE, to_units("800"))
    resting = await broker.place_order(order("SELL", 1, pricetype="LIMIT", price=to_units(810)))
    assert resting.order_id is not None
    assert (await broker.order_status(resting.order_id, "t")).status is OrderStatus.OPEN
    market.set_price("SBIN", "NSE", to_units("812"))
    filled = await broker.order_status(resting.order_id, "t")
    assert (filled.status, filled.average_price) == (OrderStatus.COMPLETE, to_units("810"))


@pytest.mark.asyncio
async def test_sl_m_triggers_on_cross(broker: PaperBroker, market: SimMarket) -> None:
    placed = await broker.place_order(
        order("SELL", 2, pricetype="SL-M", trigger_price=to_units("790"))
    )
    assert placed.order_id is not None
    report = await broker.order_status(placed.order_id, "t")
    assert report.status is OrderStatus.TRIGGER_PENDING
    market.set_price("SBIN", "NSE", to_units("789.5"))
    report = await broker.order_status(placed.order_id, "t")
    assert (report.status, report.average_price) == (OrderStatus.COMPLETE, to_units("789.5"))


@pytest.mark.asyncio
async def test_listeners_see_every_status_change(broker: PaperBroker) -> None:
    seen: list[OrderReport] = []
    broker.add_order_listener(seen.append)
    await broker.place_order(order("BUY", 1))
    assert [r.status for r in seen] == [OrderStatus.OPEN, OrderStatus.COMPLETE]
    assert seen[-1].filled_quantity == 1


@pytest.mark.asyncio
async def test_reject_next_at_submit_and_after_acceptance(broker: PaperBroker) -> None:
    seen: list[OrderReport] = []
    broker.add_order_listener(seen.append)
    broker.reject_next(1, "RMS: margin exceeds")
    with pytest.raises(RejectedError, match="margin exceeds"):
        await broker.place_order(order("BUY", 1))
    assert await broker.order_book() == []
    broker.reject_next(1, "RMS: blocked", at_submit=False)
    placed = await broker.place_order(order("BUY", 1))
    assert placed.order_id is not None
    report = await broker.order_status(placed.order_id, "t")
    assert (report.status, report.rejection_reason) == (OrderStatus.REJECTED, "RMS: blocked")
    assert [r.status for r in seen] == [OrderStatus.OPEN, OrderStatus.REJECTED]
    ok = await broker.place_order(order("BUY", 1))  # faults are used up
    assert ok.order_id is not None
    assert (await broker.order_status(ok.order_id, "t")).status is OrderStatus.COMPLETE
    assert await net(broker) == 1


@pytest.mark.asyncio
async def test_fill_late_holds_until_released(broker: PaperBroker, market: SimMarket) -> None:
    broker.set_fill_late(True)
    placed = await broker.place_order(order("BUY", 3))
    assert placed.order_id is not None
    market.set_price("SBIN", "NSE", to_units("801"))  # ticks do not fill held orders
    assert (await broker.order_status(placed.order_id, "t")).status is OrderStatus.OPEN
    assert await broker.position_book() == []
    broker.set_fill_late(False)
    market.set_price("SBIN", "NSE", to_units("802"))
    assert broker.release_late_fills() == [placed.order_id]
    report = await broker.order_status(placed.order_id, "t")
    assert (report.status, report.average_price) == (OrderStatus.COMPLETE, to_units("802"))
    assert len(await broker.trade_book()) == 1


@pytest.mark.asyncio
async def test_cancel_and_unknown_order(broker: PaperBroker) -> None:
    resting = await broker.place_order(order("BUY", 1, pricetype="LIMIT", price=to_units(700)))
    assert resting.order_id is not None
    broker.cancel(resting.order_id)
    assert (await broker.order_status(resting.order_id, "t")).status is OrderStatus.CANCELLED
    with pytest.raises(RejectedError):
        broker.cancel(resting.order_id)
    with pytest.raises(OrderNotFound):
        await broker.order_status("999", "t")


@pytest.mark.asyncio
async def test_close_all_and_funds(broker: PaperBroker, market: SimMarket) -> None:
    await broker.place_order(order("BUY", 10))
    market.set_price("SBIN", "NSE", to_units("790"))
    funds = broker.funds()
    assert funds["m2munrealized"] == -10 * to_units("10")
    assert funds["utiliseddebits"] == 10 * to_units("800")
    assert len(broker.close_all()) == 1
    assert await net(broker) == 0
    assert broker.funds()["m2mrealized"] == -10 * to_units("10")


def test_random_walk_is_seeded_and_on_ticks() -> None:
    def walk(seed: int) -> list[int]:
        m = SimMarket(seed=seed)
        m.add_symbol("X", "NSE", WalkConfig(start_price=to_units(100), volatility=0.01))
        return [m.step("X", "NSE") for _ in range(50)]

    assert walk(7) == walk(7)
    assert walk(7) != walk(8)
    assert all(p % 500 == 0 and p > 0 for p in walk(7))
