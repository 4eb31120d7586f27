"""Tests: the simulator's state file (adapters.sim.sim_state): what is saved comes back the
same (any sequence of orders: hypothesis), the file is written whole and 0600, an unreadable one
is moved aside, and an EmbeddedSimulator restarted on the same file has its books."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.adapters.sim.embedded import EmbeddedSimulator, SimulatorOptions
from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.adapters.sim.sim_state import (
    SimStateError,
    capture,
    parse,
    read_state,
    write_state,
)
from tradeguard.core.broker import OrderRequest
from tradeguard.core.money import to_units

SYMBOLS = (("SBIN", "NSE"), ("INFY", "NSE"))

orders = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(1, 50),
        st.sampled_from(["MIS", "CNC"]),
        st.sampled_from(["MARKET", "LIMIT"]),
        st.integers(-20, 20),  # price move before the order, in ticks
    ),
    max_size=25,
)


def _broker() -> tuple[PaperBroker, SimMarket]:
    market = SimMarket(seed=1)
    for symbol, exchange in SYMBOLS:
        market.set_price(symbol, exchange, to_units("800"))
    return PaperBroker(market), market


@settings(max_examples=60, deadline=None)
@given(orders)
def test_saved_books_come_back_the_same(steps: list[tuple[object, ...]]) -> None:
    broker, market = _broker()
    for (symbol, exchange), action, quantity, product, pricetype, move in steps:  # type: ignore[misc]
        ltp = market.last_price(symbol, exchange)
        assert ltp is not None
        market.set_price(symbol, exchange, max(500, ltp + move * 500))
        request = OrderRequest(symbol, exchange, action, quantity, product, "t", pricetype,
                               price=to_units("799") if pricetype == "LIMIT" else 0)  # fmt: skip
        broker.submit(request)  # every one valid: accepted, filled or resting
    data = capture(broker, market)
    book, last_id, prices = parse(json.loads(json.dumps(data)))
    again, again_market = _broker()
    again.restore(book, last_id)
    for (symbol, exchange), units in prices.items():
        again_market.set_price(symbol, exchange, units)
    assert capture(again, again_market) == data
    assert again.funds() == broker.funds()
    assert [(r.order_id, r.status, r.filled_quantity) for r in again.reports.book()] == [
        (r.order_id, r.status, r.filled_quantity) for r in broker.reports.book()
    ]
    # a resting LIMIT order still fills after the restore, and ids go on
    new_id = again.submit(OrderRequest("SBIN", "NSE", "BUY", 1, "MIS", "t"))
    assert int(new_id) == last_id + 1


def test_the_file_is_written_whole_and_private(tmp_path: Path) -> None:
    broker, market = _broker()
    broker.submit(OrderRequest("SBIN", "NSE", "BUY", 3, "MIS", "t"))
    path = tmp_path / "state" / "simulator.json"
    write_state(path, capture(broker, market))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["simulator.json"]  # no temporary left
    saved = read_state(path)
    assert saved is not None
    assert saved[0].positions[("SBIN", "NSE", "MIS")].quantity == 3


@pytest.mark.parametrize(
    "text", ["{not json", "[]", '{"version": 99}', '{"version": 1, "orders": [{}]}']
)
def test_an_unreadable_file_is_moved_aside_never_deleted(tmp_path: Path, text: str) -> None:
    path = tmp_path / "simulator.json"
    path.write_text(text)
    assert read_state(path) is None
    assert not path.exists()
    assert (tmp_path / "simulator.json.unreadable").read_text() == text
    assert read_state(tmp_path / "missing.json") is None


def test_parse_names_what_is_wrong() -> None:
    with pytest.raises(SimStateError, match="version"):
        parse({"version": 2})


@pytest.mark.asyncio
async def test_a_restarted_simulator_has_its_positions_orders_and_prices(tmp_path: Path) -> None:
    path = tmp_path / "simulator.json"
    options = SimulatorOptions(walk=False, state=path)
    async with EmbeddedSimulator(options) as sim:
        sim.market.set_price("SBIN", "NSE", to_units("812.35"))
        first = sim.broker.submit(OrderRequest("SBIN", "NSE", "BUY", 7, "CNC", "t"))
    async with EmbeddedSimulator(SimulatorOptions(walk=False, state=path)) as again:
        assert again.market.last_price("SBIN", "NSE") == to_units("812.35")
        position = again.broker.position("SBIN", "NSE", "CNC")
        assert position is not None
        assert (position.quantity, position.average_price) == (7, to_units("812.35"))
        status = await again.broker.order_status(first, "t")
        assert (status.status.value, status.average_price) == ("complete", to_units("812.35"))
        second = again.broker.submit(OrderRequest("SBIN", "NSE", "SELL", 7, "CNC", "t"))
        assert int(second) == int(first) + 1
    async with EmbeddedSimulator(SimulatorOptions(walk=False, state=path)) as third:
        assert third.broker.position("SBIN", "NSE", "CNC") is not None
        assert await third.broker.open_position("SBIN", "NSE", "CNC", "t") == 0
