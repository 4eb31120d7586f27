"""Tests: the exit-order entity and ledger: the state machine, idempotent fills from reports and
trade-book rows, reservations per key and the set of claimed order ids (with properties)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.core.broker import OrderReport, OrderStatus
from tradeguard.core.exit_order import (
    EXIT_TRANSITIONS,
    ExitLedger,
    ExitOrder,
    ExitOrderState,
    IllegalExitTransition,
    LedgerError,
)

KEY = ("RELIANCE", "NSE", "MIS")


def order(
    exit_id: str = "t1:x1", trade_id: str = "t1", quantity: int = 10, **kw: object
) -> ExitOrder:
    values: dict[str, object] = {
        "exit_id": exit_id,
        "trade_id": trade_id,
        "account": "a",
        "key": KEY,
        "side": "SELL",
        "quantity": quantity,
        "tag": "tg",
        "intent_at": 100,
    }
    values.update(kw)
    return ExitOrder(**values)  # type: ignore[arg-type]


def report(
    status: OrderStatus, filled: int | None, order_id: str = "o1", price: int | None = 1000
) -> OrderReport:
    return OrderReport(
        order_id, *KEY[:2], "SELL", 10, KEY[2], status, average_price=price, filled_quantity=filled
    )


def test_the_happy_path_intent_to_filled() -> None:
    o = order()
    assert (o.state, o.remaining) == (ExitOrderState.INTENT, 0)
    o.submitted(110)
    assert o.remaining == 10  # sent: it may fill
    o.acknowledged("o1", 120)
    assert (o.state, o.order_id, o.acked_at) == (ExitOrderState.WORKING, "o1", 120)
    assert o.apply_report(report(OrderStatus.OPEN, 4), 130)
    assert (o.state, o.filled, o.remaining) == (ExitOrderState.PARTLY_FILLED, 4, 6)
    assert o.apply_report(report(OrderStatus.COMPLETE, 10, price=990), 140)
    assert (o.state, o.filled, o.remaining, o.average_price, o.final_at) == (
        ExitOrderState.FILLED,
        10,
        0,
        990,
        140,
    )


def test_late_and_duplicate_reports_change_nothing() -> None:
    o = order()
    o.submitted(1)
    o.acknowledged("o1", 2)
    o.apply_report(report(OrderStatus.OPEN, 6), 3)
    assert not o.apply_report(report(OrderStatus.OPEN, 6), 4)  # duplicate
    assert not o.apply_report(report(OrderStatus.OPEN, 2), 5)  # older, out of order
    assert (o.state, o.filled) == (ExitOrderState.PARTLY_FILLED, 6)
    o.apply_report(report(OrderStatus.COMPLETE, 10), 6)
    assert not o.apply_report(report(OrderStatus.OPEN, 0), 7)  # final absorbs
    assert not o.apply_report(report(OrderStatus.CANCELLED, 0), 8)
    assert o.state is ExitOrderState.FILLED


def test_a_cancelled_partial_fill_keeps_its_filled_part() -> None:
    o = order()
    o.submitted(1)
    o.acknowledged("o1", 2)
    o.apply_report(report(OrderStatus.CANCELLED, 3), 3)
    assert (o.state, o.filled, o.remaining) == (ExitOrderState.CANCELLED, 3, 0)


def test_fills_keyed_by_trade_id_are_applied_once() -> None:
    o = order()
    o.submitted(1)
    assert o.apply_fill("f1", 4, 1000, 2)
    assert not o.apply_fill("f1", 4, 1000, 3)
    assert o.apply_fill("f2", 6, 1010, 4)
    assert (o.state, o.filled, o.average_price) == (ExitOrderState.FILLED, 10, 1006)


def test_illegal_transitions_raise() -> None:
    o = order()
    o.acknowledged("o1", 1)
    with pytest.raises(IllegalExitTransition):
        o.move(ExitOrderState.UNRESOLVED, 1)  # the broker has it: it is known
    o = order()
    o.abandon(1, "nothing placed")
    with pytest.raises(IllegalExitTransition):
        o.submitted(2)
    for state in (
        ExitOrderState.FILLED,
        ExitOrderState.REJECTED,
        ExitOrderState.CANCELLED,
        ExitOrderState.ABANDONED,
    ):
        assert EXIT_TRANSITIONS[state] == frozenset()


def test_bad_values_are_refused() -> None:
    with pytest.raises(LedgerError):
        order(quantity=0)
    with pytest.raises(LedgerError):
        order(side="HOLD")
    o = order()
    o.acknowledged("o1", 1)
    with pytest.raises(LedgerError):
        o.acknowledged("o2", 2)


def test_the_ledger_reserves_only_what_is_unfilled_and_live() -> None:
    ledger = ExitLedger()
    a = ledger.add(order("a:x1", "a"))
    b = ledger.add(order("b:x1", "b", quantity=5, side="SELL"))
    c = ledger.add(order("c:x1", "c", quantity=3, side="BUY"))
    assert ledger.reserved(KEY) == 0  # intents: nothing sent yet
    a.submitted(1)
    b.submitted(1)
    c.submitted(1)
    assert ledger.reserved(KEY) == -10 - 5 + 3
    ledger.bind(a, "oa")
    a.acknowledged("oa", 2)
    a.apply_report(report(OrderStatus.OPEN, 10 - 1, order_id="oa"), 3)
    assert ledger.reserved(KEY) == -1 - 5 + 3  # a's fill is in the position: not counted again
    a.apply_report(report(OrderStatus.COMPLETE, 10, order_id="oa"), 4)
    assert (ledger.reserved(KEY), ledger.working(KEY)) == (-5 + 3, 2)
    assert ledger.reserved(("OTHER", "NSE", "MIS")) == 0


def test_claimed_order_ids_cover_every_row_ever_seen() -> None:
    ledger = ExitLedger(claimed=["old"])
    a = ledger.add(order("a:x1", "a"))
    ledger.bind(a, "oa")
    a.acknowledged("oa", 1)
    a.apply_report(report(OrderStatus.COMPLETE, 10, order_id="oa"), 2)
    ledger.forget_trade("a")  # closed: out of memory, still claimed
    assert ledger.by_order("oa") is None
    assert ledger.claimed_order_ids() == {"old", "oa"}
    assert ledger.claims("oa")
    b = ledger.add(order("b:x1", "b"))
    ledger.bind(b, "ob")
    c = ledger.add(order("c:x1", "c"))
    with pytest.raises(LedgerError):
        ledger.bind(c, "ob")  # one order, one exit
    assert ledger.next_id("b") == "b:x2"
    assert [o.exit_id for o in ledger.of_trade("b")] == ["b:x1"]
    assert ledger.latest("b") is b


reports = st.lists(
    st.tuples(
        st.sampled_from(list(OrderStatus)),
        st.none() | st.integers(min_value=-3, max_value=15),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(reports, st.integers(min_value=1, max_value=12))
def test_filled_never_decreases_nor_exceeds_the_quantity(
    stream: list[tuple[OrderStatus, int | None]], quantity: int
) -> None:
    o = order(quantity=quantity)
    o.submitted(0)
    o.acknowledged("o1", 0)
    seen_filled, final_state = 0, None
    for at, (status, filled) in enumerate(stream, start=1):
        o.apply_report(report(status, filled), at)
        assert seen_filled <= o.filled <= quantity
        assert 0 <= o.remaining <= quantity - o.filled
        seen_filled = o.filled
        if final_state is not None:
            assert o.state is final_state  # terminal states absorb
        elif o.is_final:
            final_state = o.state
        # the same report again is idempotent
        before = (o.state, o.filled, o.average_price)
        assert not o.apply_report(report(status, filled), at)
        assert (o.state, o.filled, o.average_price) == before


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["f1", "f2", "f3", "f4"]), st.integers(min_value=1, max_value=6)),
        max_size=12,
    )
)
def test_fills_are_idempotent_by_trade_id(fills: list[tuple[str, int]]) -> None:
    o = order()
    o.submitted(0)
    first: dict[str, int] = {}
    for fill_id, quantity in fills:
        first.setdefault(fill_id, quantity)
        o.apply_fill(fill_id, quantity, 1000, 1)
        assert o.filled <= o.quantity
    assert o.filled == min(o.quantity, sum(first.values()))


ops = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # which order
        st.sampled_from(["submit", "ack", "report", "abandon", "forget"]),
        st.sampled_from(list(OrderStatus)),
        st.integers(min_value=0, max_value=12),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_the_ledger_reserves_exactly_the_live_unfilled_remainders(
    steps: list[tuple[int, str, OrderStatus, int]],
) -> None:
    """Whatever happens to the orders, `reserved` is the signed sum of what may still fill,
    and a claimed order id is never unclaimed."""
    ledger = ExitLedger()
    rows = [
        ledger.add(order(f"t{i}:x1", f"t{i}", quantity=10, side="SELL" if i % 2 else "BUY"))
        for i in range(4)
    ]
    claimed: set[str] = set()
    for at, (i, op, status, filled) in enumerate(steps, start=1):
        row = rows[i]
        try:
            if op == "submit":
                row.submitted(at)
            elif op == "ack":
                ledger.bind(row, f"o{i}")
                row.acknowledged(f"o{i}", at)
            elif op == "report" and row.order_id is not None:
                row.apply_report(report(status, filled, order_id=row.order_id), at)
            elif op == "abandon":
                row.abandon(at, "nothing placed")
            elif op == "forget":
                ledger.forget_trade(row.trade_id)
        except (IllegalExitTransition, LedgerError):
            pass  # refused, and nothing changed
        claimed |= {r.order_id for r in rows if r.order_id}
        live = [r for r in ledger if r.remaining]
        assert ledger.reserved(KEY) == sum(r.signed_remaining for r in live)
        assert ledger.working(KEY) == len(live)
        assert claimed <= ledger.claimed_order_ids()
        assert all(0 <= r.filled <= r.quantity for r in rows)


def test_a_queued_exit_counts_on_its_key_until_adopted_or_given_up() -> None:
    """Semi-auto: queued for approval, it may still fill (approved): it is reserved on its
    key; an adopted order's report moves it on; a rejection confirmed by the trader ends it."""
    approved, rejected = order(), order("t2:x1", "t2")
    ledger = ExitLedger([approved, rejected])
    for o in (approved, rejected):
        o.submitted(110)
        o.queued("7", 120, "queued for approval")
    assert (approved.state, approved.pending_id, approved.order_id) == (
        ExitOrderState.QUEUED,
        "7",
        None,
    )
    assert ledger.reserved(KEY) == -20
    assert approved.apply_report(report(OrderStatus.COMPLETE, 10), 130)
    assert (approved.state, approved.order_id, approved.pending_id) == (
        ExitOrderState.FILLED,
        "o1",
        "7",
    )
    rejected.abandon(140, "rejected in the Action Center")
    assert (rejected.state, ledger.reserved(KEY)) == (ExitOrderState.ABANDONED, 0)
    with pytest.raises(IllegalExitTransition):
        order().queued("8", 100, "not sent yet")  # only a sent order can be queued
