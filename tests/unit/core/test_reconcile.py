"""Tests: core.reconcile, the pure comparison of our open trades with the broker's books."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tradeguard.core.broker import OrderReport, OrderStatus, PositionReport
from tradeguard.core.exit_order import ExitOrderState
from tradeguard.core.model import Side, TradeState
from tradeguard.core.reconcile import (
    CorrectionKind,
    TradeSnapshot,
    parse_broker_time,
    reconcile,
)
from tradeguard.core.timeutil import NS_PER_SECOND

# 28-Aug-2025 09:59:10 IST
T0 = parse_broker_time("28-Aug-2025 09:59:10")
assert T0 is not None
K = CorrectionKind


def trade(
    trade_id: str = "t1",
    *,
    side: Side = Side.LONG,
    qty: int = 10,
    state: TradeState = TradeState.ACTIVE,
    exit_order_id: str | None = None,
    intent_at: int | None = None,
    entered_at: int = 0,
    in_flight: bool = False,
) -> TradeSnapshot:
    return TradeSnapshot(
        trade_id,
        "SBIN",
        "NSE",
        "MIS",
        side,
        qty,
        state,
        entered_at,
        None,
        exit_order_id,
        intent_at,
        in_flight=in_flight,
    )


def order(
    order_id: str,
    status: OrderStatus,
    *,
    action: str = "SELL",
    qty: int = 10,
    price: int | None = None,
    stamp: str = "28-Aug-2025 09:59:11",
) -> OrderReport:
    return OrderReport(order_id, "SBIN", "NSE", action, qty, "MIS", status, price, None, stamp)


def net(quantity: int) -> list[PositionReport]:
    return [PositionReport("SBIN", "NSE", "MIS", quantity)]


def kinds(corrections: list) -> list[tuple[str, CorrectionKind]]:  # type: ignore[type-arg]
    return [(c.trade_id, c.kind) for c in corrections]


def test_timestamps_of_every_known_shape_parse_as_ist() -> None:
    assert parse_broker_time("2025-08-28 09:59:10") == T0
    assert parse_broker_time("2025-08-28T09:59:10+05:30") == T0
    assert parse_broker_time("junk") is None
    assert T0 == 1_756_355_350 * NS_PER_SECOND


def test_everything_in_line_needs_nothing() -> None:
    assert reconcile([trade()], net(10), [], T0) == []


def test_complete_exit_closes_at_its_average_price() -> None:
    exiting = trade(state=TradeState.EXITING, exit_order_id="9", intent_at=T0)
    [fix] = reconcile([exiting], net(0), [order("9", OrderStatus.COMPLETE, price=971_000)], T0)
    assert (fix.kind, fix.price, fix.quantity) == (K.CLOSE, 971_000, 10)
    assert "filled" in fix.summary


@pytest.mark.parametrize("status", [OrderStatus.REJECTED, OrderStatus.CANCELLED])
def test_rejected_or_cancelled_exit_reopens(status: OrderStatus) -> None:
    exiting = trade(state=TradeState.EXITING, exit_order_id="9", intent_at=T0)
    assert kinds(reconcile([exiting], net(10), [order("9", status)], T0)) == [("t1", K.REOPEN)]


def test_exit_failed_trade_is_not_reopened_silently() -> None:
    failed = trade(state=TradeState.EXIT_FAILED, exit_order_id="9")
    assert reconcile([failed], net(10), [order("9", OrderStatus.REJECTED)], T0) == []


def test_working_exit_keeps_tracking_and_explains_a_missing_position() -> None:
    exiting = trade(state=TradeState.EXITING, exit_order_id="9", intent_at=T0)
    fixes = reconcile([exiting], net(0), [order("9", OrderStatus.OPEN)], T0)
    assert kinds(fixes) == [("t1", K.KEEP_TRACKING)]


def test_intent_without_order_id_adopts_the_matching_order() -> None:
    exiting = trade(state=TradeState.EXITING, intent_at=T0)
    orders = [
        order("1", OrderStatus.COMPLETE, action="BUY"),  # wrong action
        order("2", OrderStatus.COMPLETE, qty=5),  # wrong quantity
        order("3", OrderStatus.COMPLETE, stamp="28-Aug-2025 09:50:00"),  # before the intent
        order("4", OrderStatus.COMPLETE, price=970_000),
    ]
    fixes = reconcile([exiting], net(0), orders, T0)
    assert kinds(fixes) == [("t1", K.ADOPT), ("t1", K.CLOSE)]
    assert fixes[0].order_id == fixes[1].order_id == "4"


def test_two_intents_never_adopt_the_same_order() -> None:
    a = trade("a", state=TradeState.EXITING, intent_at=T0, entered_at=1)
    b = trade("b", state=TradeState.EXITING, intent_at=T0 + 1, entered_at=2)
    fixes = reconcile([a, b], net(10), [order("4", OrderStatus.COMPLETE, price=1)], T0)
    assert kinds(fixes) == [("a", K.ADOPT), ("a", K.CLOSE), ("b", K.REOPEN)]


def test_intent_without_any_order_reopens() -> None:
    exiting = trade(state=TradeState.EXITING, intent_at=T0)
    assert kinds(reconcile([exiting], net(10), [], T0)) == [("t1", K.REOPEN)]


@pytest.mark.parametrize("broker_net", [0, -3])
def test_position_gone_or_reversed_closes_externally(broker_net: int) -> None:
    assert kinds(reconcile([trade()], net(broker_net), [], T0)) == [("t1", K.CLOSED_EXTERNALLY)]


def test_smaller_position_adjusts_the_quantity() -> None:
    [fix] = reconcile([trade()], net(6), [], T0)
    assert (fix.kind, fix.quantity) == (K.ADJUST_QUANTITY, 6)


def test_short_trades_mirror_long_ones() -> None:
    [fix] = reconcile([trade(side=Side.SHORT)], net(-4), [], T0)
    assert (fix.kind, fix.quantity) == (K.ADJUST_QUANTITY, 4)


def test_larger_position_never_touches_our_trades() -> None:
    assert reconcile([trade()], net(25), [], T0) == []


def test_a_shared_net_goes_to_the_newest_trades_first() -> None:
    old = trade("old", qty=10, entered_at=1)
    mid = trade("mid", qty=10, entered_at=2)
    new = trade("new", qty=10, entered_at=3)
    fixes = reconcile([old, mid, new], net(14), [], T0)
    assert [(c.trade_id, c.kind, c.quantity) for c in fixes] == [
        ("old", K.CLOSED_EXTERNALLY, 0),
        ("mid", K.ADJUST_QUANTITY, 4),
    ]


def test_opposite_trades_on_one_row_are_assumed_intact() -> None:
    long_ = trade("l", qty=10, entered_at=1)
    short = trade("s", side=Side.SHORT, qty=4, entered_at=2)
    # expected net 6; broker shows 2: the long side lost 4
    [fix] = reconcile([long_, short], net(2), [], T0)
    assert (fix.trade_id, fix.kind, fix.quantity) == ("l", K.ADJUST_QUANTITY, 6)


def test_in_flight_exits_are_left_to_the_executor() -> None:
    busy = trade(state=TradeState.EXITING, intent_at=T0, in_flight=True)
    assert reconcile([busy], net(0), [], T0) == []


def test_same_input_same_corrections() -> None:
    trades = [trade("a", entered_at=2), trade("b", entered_at=1)]
    assert reconcile(trades, net(5), [], T0) == reconcile(list(reversed(trades)), net(5), [], T0)


# -- the exit-order ledger (issue 11) ---------------------------------------------------------


def test_an_order_any_ledger_row_claims_is_never_adopted() -> None:
    """Failure 2: X belongs to a trade that is closed (not among the open trades): only the
    ledger knows it. Without `claimed` it would be adopted for b's intent."""
    b = trade("b", state=TradeState.EXITING, intent_at=T0)
    x = [order("X", OrderStatus.COMPLETE, price=1)]
    assert kinds(reconcile([b], net(10), x, T0)) == [("b", K.ADOPT), ("b", K.CLOSE)]
    assert kinds(reconcile([b], net(10), x, T0, claimed={"X"})) == [("b", K.REOPEN)]


def test_an_order_placed_before_the_intent_never_matches_it() -> None:
    """No tolerance backwards: an order stamped a second before the intent's second is not it
    (the old rule admitted 2 s); the same second is (broker times are whole seconds)."""
    exiting = trade(state=TradeState.EXITING, intent_at=T0 + NS_PER_SECOND // 2)
    early = [order("1", OrderStatus.COMPLETE, stamp="28-Aug-2025 09:59:09")]
    assert kinds(reconcile([exiting], net(10), early, T0)) == [("t1", K.REOPEN)]
    same = [order("1", OrderStatus.COMPLETE, stamp="28-Aug-2025 09:59:10", price=1)]
    assert kinds(reconcile([exiting], net(0), same, T0)) == [("t1", K.ADOPT), ("t1", K.CLOSE)]


def test_an_ambiguous_match_is_unresolved_never_guessed() -> None:
    exiting = trade(state=TradeState.EXITING, intent_at=T0)
    two = [order("1", OrderStatus.COMPLETE), order("2", OrderStatus.OPEN)]
    fixes = reconcile([exiting], net(0), two, T0)
    assert kinds(fixes) == [("t1", K.UNRESOLVED)]  # and not closed externally at net 0
    assert "2 unclaimed orders" in fixes[0].summary
    unreadable = [order("1", OrderStatus.COMPLETE, stamp="not a time")]
    assert kinds(reconcile([exiting], net(0), unreadable, T0)) == [("t1", K.UNRESOLVED)]


def test_an_unresolved_exit_is_said_once_and_adopted_when_one_order_shows() -> None:
    def unresolved(state: TradeState) -> TradeSnapshot:
        return replace(trade(state=state, intent_at=T0), exit_state=ExitOrderState.UNRESOLVED)

    two = [order("1", OrderStatus.COMPLETE), order("2", OrderStatus.OPEN)]
    assert reconcile([unresolved(TradeState.EXITING)], net(0), two, T0) == []
    failed = unresolved(TradeState.EXIT_FAILED)
    assert reconcile([failed], net(0), two, T0) == []  # still not guessed, nothing else
    assert reconcile([failed], net(0), [], T0) == []  # absent: waits for a person
    one = [order("1", OrderStatus.COMPLETE, price=7)]
    assert kinds(reconcile([failed], net(0), one, T0)) == [("t1", K.ADOPT), ("t1", K.CLOSE)]


def test_an_abandoned_exit_is_reopened_without_looking_for_its_order() -> None:
    exiting = replace(
        trade(state=TradeState.EXITING, intent_at=T0), exit_state=ExitOrderState.ABANDONED
    )
    orders = [order("1", OrderStatus.COMPLETE)]
    assert kinds(reconcile([exiting], net(10), orders, T0)) == [("t1", K.REOPEN)]
