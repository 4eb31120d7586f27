"""Tests (API): the trade endpoints: createtrade (explicit and from a filled order),
activetrades, updatetrade, exittrade and tradehistory, with their error paths."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Api
from tests.helpers import eventually
from tradeguard.core.money import to_units


async def _error(api: Api, path: str, body: dict[str, object], status: int) -> str:
    reply = await api.post(path, body)
    assert reply.status_code == status, reply.text
    payload = reply.json()
    assert payload["status"] == "error"
    assert isinstance(payload["message"], str)
    assert payload["message"]
    return str(payload["message"])


@pytest.mark.asyncio
async def test_createtrade_explicit_accepts_strings_and_numbers(api: Api) -> None:
    await api.strategy()
    as_strings = await api.trade(quantity="10", price="800.5")
    as_numbers = await api.trade(symbol="INFY", quantity=5, price=1500.25, action="sell")
    assert (as_strings["quantity"], as_strings["entry_price"]) == (10, "800.50")
    assert (as_strings["stop_loss"], as_strings["target"]) == ("790.50", "820.50")
    assert as_numbers["side"] == "SHORT"
    assert as_numbers["entry_price"] == "1500.25"
    trades = await api.data("activetrades", {})
    assert {t["trade_id"] for t in trades} == {as_strings["trade_id"], as_numbers["trade_id"]}
    assert await api.data("activetrades", {"strategy": "other"}) == []


@pytest.mark.asyncio
async def test_createtrade_with_rule_overrides(api: Api) -> None:
    await api.strategy()
    view = await api.trade(
        rules={
            "stop_loss": {"type": "PERCENT", "value": "1"},
            "target": None,
            "trailing": {"type": "POINTS", "value": 5},
        }
    )
    assert view["initial_stop"] == "792.00"
    assert view["trailing_stop"] == "795.00" == view["stop_loss"]  # the tighter one rules
    assert view["target"] is None
    assert view["rules"]["trailing"] == {"type": "POINTS", "value": "5"}


@pytest.mark.asyncio
async def test_createtrade_from_a_filled_order(api: Api) -> None:
    await api.strategy()
    order_id = await api.stack.fill_entry("SBIN", "BUY", 7)
    view = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    assert view["quantity"] == 7
    assert view["entry_order_id"] == order_id
    assert view["entry_price"] == "800.00"
    message = await _error(api, "createtrade", {"strategy": "s1", "orderid": order_id}, 409)
    assert "already guarded" in message
    await _error(api, "createtrade", {"strategy": "s1", "orderid": "999999"}, 404)


@pytest.mark.asyncio
async def test_createtrade_refuses_an_order_that_is_not_complete(api: Api) -> None:
    """An order that stays open (not filled within the bounded wait) or a rejected one has no
    real fill to guard: refused with its status named, and nothing is created. An open order
    that fills while createtrade waits for it is accepted by that same call."""
    await api.strategy()
    broker = api.stack.sim.broker
    broker.set_fill_late(True)  # accepted as `open`, filled only when released
    pending = await api.stack.fill_entry("SBIN", "BUY", 7)
    broker.set_fill_late(False)
    broker.reject_next(1, "RMS: margin exceeded", at_submit=False)  # open, then rejected
    rejected = await api.stack.fill_entry("SBIN", "BUY", 3)
    message = await _error(api, "createtrade", {"strategy": "s1", "orderid": pending}, 409)
    wait = api.stack.runtime.executor.policy.entry_wait
    assert f"order {pending} is open, not complete after waiting {wait:g}s" in message
    message = await _error(api, "createtrade", {"strategy": "s1", "orderid": rejected}, 409)
    assert f"order {rejected} is rejected, not complete:" in message
    assert await api.data("activetrades", {}) == []
    call = asyncio.ensure_future(api.post("createtrade", {"strategy": "s1", "orderid": pending}))
    await eventually(
        lambda: any(o == pending for _a, o in api.stack.service.entries._entering),
        message="createtrade waiting for the fill",
    )
    assert not call.done()
    assert broker.release_late_fills() == [pending]
    reply = await call
    assert reply.status_code == 200, reply.text
    view = reply.json()["data"]
    assert (view["quantity"], view["entry_order_id"]) == (7, pending)


@pytest.mark.asyncio
async def test_an_implausible_tick_size_is_refused_even_with_no_quote(api: Api) -> None:
    """Some brokers report tick sizes 100x off. The entry price is the reference, so the check
    holds when no quote can be had (here every quote call fails at the simulator)."""
    await api.strategy()
    api.stack.sim.market.set_instrument("SBIN", "NSE", tick_size=to_units(10), lot_size=1)
    api.stack.sim.api.faults.update({"fail": "500", "endpoints": ["quotes", "multiquotes"]})
    base = {"strategy": "s1", "symbol": "SBIN", "exchange": "NSE", "action": "BUY"}
    message = await _error(api, "createtrade", {**base, "quantity": 1, "price": 800}, 503)
    assert "tick_size 10 is >= 1% of price 800" in message
    assert await api.data("activetrades", {}) == []


@pytest.mark.asyncio
async def test_createtrade_errors_change_nothing(api: Api) -> None:
    await api.strategy()
    base = {"strategy": "s1", "symbol": "SBIN", "exchange": "NSE", "action": "BUY"}
    cases: list[tuple[dict[str, object], int, str]] = [
        ({**base, "quantity": 1, "price": 800, "symbol": "NOPE"}, 404, "unknown symbol"),
        ({**base, "quantity": -5, "price": 800}, 400, "quantity"),
        ({**base, "quantity": "ten", "price": 800}, 400, "quantity"),
        ({**base, "quantity": True, "price": 800}, 400, "quantity"),
        ({**base, "quantity": 1.5, "price": 800}, 400, "quantity"),
        ({**base, "quantity": 1, "price": -1}, 400, "price"),
        ({**base, "quantity": 1, "price": "1e12"}, 400, "price"),
        ({**base, "quantity": 1, "price": "NaN"}, 400, "price"),
        ({**base, "quantity": 1, "price": "800.123456"}, 400, "price"),
        ({**base, "quantity": 1, "price": 800, "action": "HOLD"}, 400, "action"),
        ({**base, "quantity": 1, "price": 800, "product": "XYZ"}, 400, "product"),
        ({**base, "quantity": 1, "price": 800, "extra": 1}, 400, "unknown field"),
        ({**base, "quantity": 1}, 400, "missing: price"),
        ({"strategy": "s1"}, 400, "give an orderid"),
        ({**base, "quantity": 1, "price": 800, "orderid": "1"}, 400, "not both"),
        ({**base, "quantity": 1, "price": 800, "strategy": "nope"}, 404, "strategy"),
        ({**base, "quantity": 1, "price": 800, "strategy": "bad name!"}, 400, "strategy"),
        (
            {**base, "quantity": 1, "price": 800, "rules": {"stop_loss": {"type": "X"}}},
            400,
            "stop_loss",
        ),
        (
            {
                **base,
                "quantity": 1,
                "price": 800,
                "rules": {"stop_loss": {"type": "PRICE", "value": "900"}},
            },
            400,
            "",
        ),
        (
            {
                **base,
                "quantity": 1,
                "price": 800,
                "rules": {"stop_loss": {"type": "POINTS", "value": "1e9"}},
            },
            400,
            "stop_loss",
        ),
        ({**base, "quantity": 1, "price": 800, "rules": {"unknown": 1}}, 400, "unknown"),
        ({**base, "quantity": 1, "price": 800, "rules": "tight"}, 400, "rules"),
    ]
    for body, status, fragment in cases:
        message = await _error(api, "createtrade", body, status)
        assert fragment.lower() in message.lower(), (body, message)
    assert await api.data("activetrades", {}) == []


@pytest.mark.asyncio
async def test_max_open_positions_is_a_conflict(api: Api) -> None:
    await api.strategy(max_open_positions=1)
    await api.trade()
    await _error(
        api,
        "createtrade",
        {"strategy": "s1", "symbol": "INFY", "exchange": "NSE", "action": "BUY",
         "quantity": 1, "price": 1500},
        409,
    )  # fmt: skip


@pytest.mark.asyncio
async def test_updatetrade_changes_rules_and_refuses_bad_ones(api: Api) -> None:
    await api.strategy()
    view = await api.trade()
    trade_id = view["trade_id"]
    await api.move("SBIN", "805")
    updated = await api.data(
        "updatetrade",
        {"trade_id": trade_id, "rules": {"stop_loss": {"type": "PRICE", "value": "798"}}},
    )
    assert updated["stop_loss"] == "798.00"
    message = await _error(
        api,
        "updatetrade",
        {"trade_id": trade_id, "rules": {"stop_loss": {"type": "PRICE", "value": "806"}}},
        400,
    )
    assert "stop" in message
    await _error(api, "updatetrade", {"trade_id": trade_id, "rules": {"bogus": 1}}, 400)
    await _error(api, "updatetrade", {"trade_id": trade_id}, 400)
    await _error(api, "updatetrade", {"trade_id": "Tnope", "rules": {}}, 404)
    still = await api.data("activetrades", {})
    assert still[0]["stop_loss"] == "798.00"


@pytest.mark.asyncio
async def test_exittrade_closes_the_trade_and_history_shows_it(api: Api) -> None:
    await api.strategy()
    order_id = await api.stack.fill_entry("SBIN", "BUY", 10)  # a real position to exit
    view = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    trade_id = view["trade_id"]
    exiting = await api.data("exittrade", {"trade_id": trade_id})
    assert exiting["state"] in ("EXITING", "CLOSED")

    async def closed() -> list[dict[str, object]]:
        history = await api.data("tradehistory", {"limit": "10"})
        return [h for h in history if h["trade_id"] == trade_id]

    rows = await eventually(closed, message="trade in history")
    assert rows[0]["exit_reason"] == "MANUAL"
    assert rows[0]["state"] == "CLOSED"
    await _error(api, "tradehistory", {"limit": 0}, 400)
    await _error(api, "tradehistory", {"limit": 5000}, 400)


@pytest.mark.asyncio
async def test_a_closed_trade_answers_409_already_closed_to_exit_update_and_protect(
    api: Api,
) -> None:
    await api.strategy()
    order_id = await api.stack.fill_entry("SBIN", "BUY", 10)
    trade_id = (await api.data("createtrade", {"strategy": "s1", "orderid": order_id}))["trade_id"]
    await api.data("exittrade", {"trade_id": trade_id})

    async def closed() -> bool:
        history = await api.data("tradehistory", {"limit": "10"})
        return any(h["trade_id"] == trade_id for h in history)

    await eventually(closed, message="trade in history")
    expected = f"trade {trade_id} is already closed (CLOSED, MANUAL)"
    assert await _error(api, "exittrade", {"trade_id": trade_id}, 409) == expected
    rules = {"stop_loss": {"type": "PRICE", "value": "700"}}
    assert await _error(api, "updatetrade", {"trade_id": trade_id, "rules": rules}, 409) == (
        expected
    )
    protect = {"trade_id": trade_id, "action": "stop_to_cost"}
    assert await _error(api, "protecttrade", protect, 409) == expected
    # unknown ids, and a closed trade of another account, stay 404 "not found"
    assert "not found" in await _error(api, "exittrade", {"trade_id": "Tnope"}, 404)
    reply = await api.post("exittrade", {"trade_id": trade_id}, account="bob")
    assert reply.status_code == 404, reply.text
    assert "not found" in reply.json()["message"]


@pytest.mark.asyncio
async def test_exit_twice_is_a_conflict(api: Api) -> None:
    await api.strategy()
    view = await api.trade()
    api.stack.sim.broker.set_fill_late(True)  # the exit stays open: the trade stays EXITING
    first = await api.post("exittrade", {"trade_id": view["trade_id"]})
    assert first.status_code == 200
    message = await _error(api, "exittrade", {"trade_id": view["trade_id"]}, 409)
    assert "EXITING" in message or "exit" in message.lower()
    api.stack.sim.broker.set_fill_late(False)
    api.stack.sim.broker.release_late_fills()
