"""Parsing OpenAlgo WebSocket pushes into ticks and order reports (openalgo-interface.md §3)."""

from __future__ import annotations

from typing import Any

import pytest

from tradeguard.adapters.openalgo.feed_parse import (
    FeedMessageError,
    RecentKeys,
    epoch_ns,
    parse_market_data,
    parse_order_update,
    price_units,
)
from tradeguard.core.broker import OrderStatus
from tradeguard.core.model import Tick

RECEIVED = 1_800_000_000_000_000_000


def md(data: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"type": "market_data", "symbol": "NIFTY", "exchange": "NSE_INDEX", "mode": 1,
            "broker": "zerodha", "data": data, **top}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "units"),
    [(1424.05, 14_240_500), ("1424.05", 14_240_500), (7, 70_000), (0.1 + 0.2, 3_000),
     ("0.0025", 25), (1e-4, 1)],
)  # fmt: skip
def test_price_units_exact(raw: object, units: int) -> None:
    assert price_units(raw) == units


@pytest.mark.parametrize("raw", [None, True, "abc", "1.00001", float("nan"), float("inf"), [1]])
def test_price_units_refuses(raw: object) -> None:
    with pytest.raises(FeedMessageError):
        price_units(raw)


@pytest.mark.parametrize(
    ("raw", "ns"),
    [(1_712_572_800_123, 1_712_572_800_123_000_000), ("1712572800123", 1_712_572_800_123_000_000),
     (1_712_572_800, 1_712_572_800_000_000_000), (None, None), ("2024-04-08T10:00:00", None),
     (0, None), (-5, None), (True, None)],
)  # fmt: skip
def test_epoch_ns(raw: object, ns: int | None) -> None:
    assert epoch_ns(raw) == ns


def test_market_data_uses_top_level_names_and_ltt() -> None:
    msg = md({"symbol": "x", "exchange": "y", "mode": 3, "ltp": 22500.5, "ltt": 1_712_572_800_000,
              "timestamp": 1_712_572_800_123, "volume": 10, "depth": {"buy": []}})  # fmt: skip
    assert parse_market_data(msg, RECEIVED) == Tick(
        "NIFTY", "NSE_INDEX", 225_005_000, 1_712_572_800_000_000_000
    )


def test_market_data_time_falls_back_to_timestamp_then_receive_time() -> None:
    assert parse_market_data(md({"ltp": 1, "timestamp": 1_712_572_800_123}), RECEIVED)[3] == (
        1_712_572_800_123_000_000
    )
    assert parse_market_data(md({"ltp": "1", "ltt": "junk"}), RECEIVED)[3] == RECEIVED


@pytest.mark.parametrize(
    "msg",
    [md({"ltp": 0}), md({"ltp": -1}), md({}), md({"ltp": 1}, symbol=""), md({"ltp": 1}, exchange=5),
     {"type": "market_data", "symbol": "A", "exchange": "NSE", "data": "x"}],
)  # fmt: skip
def test_market_data_refuses(msg: dict[str, Any]) -> None:
    with pytest.raises(FeedMessageError):
        parse_market_data(msg, RECEIVED)


ORDER = {"type": "order_update", "user_id": "u", "mode": "live", "broker": "zerodha",
         "orderid": 240221025997024, "symbol": "RELIANCE", "exchange": "NSE", "action": "buy",
         "quantity": "10", "price": 1424.0, "trigger_price": 0.0, "pricetype": "LIMIT",
         "product": "mis", "order_status": "COMPLETE", "filled_quantity": 10,
         "pending_quantity": 0, "average_price": 1423.85, "rejection_reason": ""}  # fmt: skip


def test_order_update() -> None:
    rep, key = parse_order_update(ORDER)
    assert rep.order_id == "240221025997024"
    assert (rep.action, rep.product, rep.quantity) == ("BUY", "MIS", 10)
    assert rep.status is OrderStatus.COMPLETE
    assert (rep.average_price, rep.filled_quantity) == (14_238_500, 10)
    assert key == ("240221025997024", "complete", 10)


def test_order_update_unknown_average_and_status() -> None:
    rep, _ = parse_order_update({**ORDER, "average_price": 0.0, "order_status": "trigger pending"})
    assert rep.average_price is None
    assert rep.status is OrderStatus.TRIGGER_PENDING


@pytest.mark.parametrize(
    "change",
    [{"orderid": ""}, {"orderid": None}, {"order_status": None}, {"quantity": "1.5"},
     {"quantity": None}, {"symbol": None}, {"average_price": "x"}],
)  # fmt: skip
def test_order_update_refuses(change: dict[str, Any]) -> None:
    with pytest.raises(FeedMessageError):
        parse_order_update({**ORDER, **change})


def test_recent_keys_is_bounded() -> None:
    keys = RecentKeys(2)
    assert [keys.seen(k) for k in ("a", "a", "b", "c", "a")] == [False, True, False, False, False]
    assert len(keys) == 2
