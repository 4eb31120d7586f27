"""Tests: the exit path against the real PaperBroker and SqlStore: exactly one order per exit,
the intent committed before it, and every broker failure handled by its class."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.app.harness import EX, Harness, World
from tests.helpers import eventually
from tradeguard.app.records import AuditRecord, TradeRecord
from tradeguard.app.resolve import ExecutorPolicy
from tradeguard.core.broker import (
    NotPlaced,
    OrderReport,
    OrderRequest,
    PlaceResult,
    RateLimited,
    SessionDown,
    SmartOrderRequest,
    UnknownOutcome,
)
from tradeguard.core.model import Side
from tradeguard.core.money import to_units
from tradeguard.core.rules import Level, LevelKind, Offset, TradeRules, TrailingRule
from tradeguard.core.strategy import ExitOrderMode


def pts(value: str) -> Level:
    return Level(LevelKind.POINTS, Decimal(value))


async def record(app: Harness, trade_id: str) -> TradeRecord:
    found = await app.store.trade(trade_id)
    assert found is not None
    return found


async def actions(app: Harness, trade_id: str) -> list[str]:
    return [a.action for a in await app.store.audits(trade_id)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("side", "rules", "prices", "reason", "fill"),
    [
        (Side.LONG, TradeRules(stop_loss=pts("2")), ["99", "97.9"], "STOP_LOSS", "97.9"),
        (Side.SHORT, TradeRules(stop_loss=pts("2")), ["101", "102.5"], "STOP_LOSS", "102.5"),
        (Side.LONG, TradeRules(target=pts("3")), ["101", "103.05"], "TARGET", "103.05"),
        (
            Side.LONG,
            TradeRules(trailing=TrailingRule(Offset(LevelKind.POINTS, Decimal("2")))),
            ["105", "104", "102.95"],
            "TRAILING_STOP",
            "102.95",
        ),
    ],
)
async def test_price_rule_exit_sends_exactly_one_order(
    app: Harness, side: Side, rules: TradeRules, prices: list[str], reason: str, fill: str
) -> None:
    await app.enter("t1", "RELIANCE", side, 10, rules)
    for price in prices:
        app.tick("RELIANCE", price)
    await app.settle()
    app.tick("RELIANCE", prices[-1])  # more ticks at the level change nothing
    await app.settle()

    [order] = app.exits()
    assert (order.action, order.quantity, order.product) == (side.exit_action, 10, "MIS")
    assert order.strategy == f"tg:s1:{reason}:t1"
    closed = await record(app, "t1")
    assert closed.state == "CLOSED"
    assert closed.exit_reason == reason
    assert closed.exit_price == to_units(fill)
    assert closed.realized_pnl == side.sign * (to_units(fill) - to_units("100")) * 10
    assert closed.exit_order_id == app.broker.order_ids[0]
    assert app.feed.subscribed == {}
    # the intent (EXITING, with its intent time, no order id yet) was committed first
    timeline = app.world.timeline
    intent = timeline.index(
        "commit",
        lambda r: isinstance(r, TradeRecord) and r.state == "EXITING" and r.exit_order_id is None,
    )
    assert intent < timeline.index("place", lambda r: True)


@pytest.mark.asyncio
async def test_time_exit_fires_from_the_clock_without_ticks(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 5, TradeRules(max_holding_seconds=60))
    app.clock.advance(61)
    app.monitor.on_clock()
    await app.settle()
    [order] = app.exits()
    assert (order.action, order.quantity) == ("SELL", 5)
    assert (await record(app, "t1")).exit_reason == "MAX_HOLDING"


@pytest.mark.asyncio
async def test_portfolio_stop_sends_every_exit_concurrently(app: Harness) -> None:
    app.engine.configure_strategy(
        "s1",
        app.engine.strategy("s1").config.replace(
            enable_portfolio_sl=True, portfolio_sl_value=Decimal("100")
        ),
    )
    await app.enter("a", "RELIANCE", Side.LONG, 10)
    await app.enter("b", "TCS", Side.LONG, 10)
    await app.enter("c", "INFY", Side.SHORT, 10)
    app.broker.barrier = 3
    app.tick("RELIANCE", "96")  # -40
    app.tick("TCS", "196")  # -80
    app.tick("INFY", "54")  # -120: portfolio stop
    await app.settle()

    assert sorted((o.symbol, o.action, o.quantity) for o in app.exits()) == [
        ("INFY", "BUY", 10),
        ("RELIANCE", "SELL", 10),
        ("TCS", "SELL", 10),
    ]
    assert app.broker.max_inflight == 3  # all three placements were in flight at once
    for trade_id in "abc":
        assert (await record(app, trade_id)).exit_reason == "PORTFOLIO_STOP"
    assert app.engine.strategy("s1").state.value == "HALTED"


@pytest.mark.asyncio
async def test_rejection_marks_exit_failed_and_alerts(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.world.paper.reject_next(1, "RMS: insufficient margin")
    app.tick("RELIANCE", "97")
    await app.settle()
    failed = await record(app, "t1")
    assert failed.state == "EXIT_FAILED"
    assert "RMS: insufficient margin" in (failed.exit_message or "")
    assert "error" in app.alerts.levels()
    app.tick("RELIANCE", "96")  # an EXIT_FAILED trade fires nothing by itself
    await app.settle()
    assert app.world.paper.net_quantity(OrderRequest("RELIANCE", EX, "SELL", 1, "MIS", "")) == 10


@pytest.mark.asyncio
async def test_rejection_after_acceptance_marks_exit_failed(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.world.paper.reject_next(1, "RMS: blocked", at_submit=False)
    app.tick("RELIANCE", "97")
    await app.settle()
    failed = await record(app, "t1")
    assert failed.state == "EXIT_FAILED"
    assert failed.exit_order_id == app.broker.order_ids[0]
    assert "RMS: blocked" in (failed.exit_message or "")


@pytest.mark.asyncio
async def test_unknown_outcome_is_resolved_from_the_order_book_without_resending(
    app: Harness,
) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.broker.script = [("after", UnknownOutcome("read timeout"))]
    app.tick("RELIANCE", "97")
    await app.settle()
    assert len(app.exits()) == 1
    closed = await record(app, "t1")
    assert closed.state == "CLOSED"
    assert closed.exit_order_id == app.broker.order_ids[0]
    assert closed.exit_attempt == 1
    assert "exit_unresolved" in await actions(app, "t1")


@pytest.mark.asyncio
async def test_unknown_outcome_with_no_order_is_left_unresolved_not_placed_again(
    app: Harness,
) -> None:
    """The default policy: an unknown outcome the order book does not show is NOT placed
    again (a slow broker can show it late): the exit is unresolved, the trade EXIT_FAILED
    (it fires nothing more), alerted critical; a person's retry places it again."""
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.broker.script = [("before", UnknownOutcome("connection reset"))]
    app.tick("RELIANCE", "97")
    await app.settle()
    assert app.exits() == []  # the call never reached the broker, and nothing was resent
    failed = await record(app, "t1")
    assert (failed.state, failed.exit_attempt) == ("EXIT_FAILED", 1)
    assert "unknown" in (failed.exit_message or "")
    [row] = await app.store.inner.exit_orders("t1")
    assert (row.state, row.order_id) == ("UNRESOLVED", None)
    assert any(lvl == "critical" and "UNRESOLVED" in m for lvl, m, _ in app.alerts.items)
    assert "exit_retry" not in await actions(app, "t1")
    key = ("RELIANCE", EX, "MIS")
    assert app.snapshots.ledger.reserved(key) == -10  # it may still exist: it counts

    app.executor.submit([app.engine.request_exit("t1", app.clock.now())])  # a person retries
    await app.settle()
    [order] = app.exits()
    assert (order.action, order.quantity) == ("SELL", 10)
    closed = await record(app, "t1")
    assert (closed.state, closed.exit_attempt) == ("CLOSED", 2)
    rows = await app.store.inner.exit_orders("t1")
    assert [r.state for r in rows] == ["ABANDONED", "FILLED"]
    assert "exit_unresolved_given_up" in await actions(app, "t1")


@pytest.mark.asyncio
async def test_unknown_outcome_with_no_order_places_again_once_when_the_policy_says_so(
    world: World,
) -> None:
    app = await Harness.open(world, policy=ExecutorPolicy(place_again_after_unknown=True))
    await app.start()
    await app.add_strategy("s1")
    try:
        await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
        app.broker.script = [("before", UnknownOutcome("connection reset"))]
        app.tick("RELIANCE", "97")
        await app.settle()
        assert len(app.exits()) == 1  # the first call never reached the broker
        closed = await record(app, "t1")
        assert (closed.state, closed.exit_attempt) == ("CLOSED", 2)
        assert "exit_retry" in await actions(app, "t1")
    finally:
        await app.stop()


@pytest.mark.asyncio
async def test_success_without_order_id_is_not_placed(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.broker.script = [("before", NotPlaced("Order queued for approval in Action Center"))]
    app.tick("RELIANCE", "97")
    await app.settle()
    failed = await record(app, "t1")
    assert failed.state == "EXIT_FAILED"
    assert "Action Center" in (failed.exit_message or "")
    assert "critical" in app.alerts.levels()


@pytest.mark.asyncio
async def test_rate_limit_backs_off_and_places_once(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.broker.script = [("before", RateLimited("429")), ("before", RateLimited("429"))]
    app.tick("RELIANCE", "97")
    await app.settle()
    assert len(app.exits()) == 1
    assert (await record(app, "t1")).state == "CLOSED"
    assert [s for s in app.clock.slept if s < 1][:2] == [0.25, 0.5]


@pytest.mark.asyncio
async def test_session_down_keeps_the_intent_and_places_when_it_returns(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.broker.script = [("before", SessionDown("Invalid openalgo apikey", status=403))]
    app.broker.ping_failures = 3
    app.tick("RELIANCE", "97")
    await app.settle()
    assert len(app.exits()) == 1
    assert (await record(app, "t1")).state == "CLOSED"
    assert "critical" in app.alerts.levels()
    assert "session_down" in await actions(app, "t1")


@pytest.mark.asyncio
async def test_smart_order_targets_net_minus_our_quantity(app: Harness) -> None:
    app.engine.configure_strategy(
        "s1", app.engine.strategy("s1").config.replace(exit_order_mode=ExitOrderMode.SMARTORDER)
    )
    app.world.external("RELIANCE", "BUY", 5)  # someone else's 5 on the same row
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.tick("RELIANCE", "97")
    await app.settle()
    [smart] = app.broker.placed
    assert isinstance(smart, SmartOrderRequest)
    assert (smart.quantity, smart.position_size, smart.action) == (0, 5, "SELL")
    assert app.world.paper.net_quantity(smart) == 5  # the other 5 are untouched
    assert (await record(app, "t1")).state == "CLOSED"


@pytest.mark.asyncio
async def test_exit_is_capped_when_the_broker_position_is_smaller(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.world.external("RELIANCE", "SELL", 4)
    app.tick("RELIANCE", "97")
    await app.settle()
    [order] = app.exits()
    assert (order.action, order.quantity) == ("SELL", 6)
    assert app.world.paper.net_quantity(order) == 0  # never crosses zero
    closed = await record(app, "t1")
    assert (closed.state, closed.quantity) == ("CLOSED", 6)
    assert "position_mismatch" in await actions(app, "t1")


@pytest.mark.asyncio
async def test_position_gone_closes_externally_without_an_order(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.world.external("RELIANCE", "SELL", 10)
    app.tick("RELIANCE", "97")
    await app.settle()
    assert app.exits() == []
    assert (await record(app, "t1")).state == "CLOSED_EXTERNALLY"


@pytest.mark.asyncio
async def test_the_same_exit_is_never_executed_twice(app: Harness) -> None:
    import asyncio

    await app.enter("t1", "RELIANCE", Side.LONG, 10)
    decision = app.engine.request_exit("t1", app.clock.now())
    await asyncio.gather(app.executor.execute(decision), app.executor.execute(decision))
    await app.executor.execute(decision)  # after it closed: nothing to do
    assert len(app.exits()) == 1
    assert "exit_duplicate_ignored" in await actions(app, "t1")


@pytest.mark.asyncio
async def test_exit_goes_out_even_when_the_database_is_down(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.store.down = True
    app.tick("RELIANCE", "97")
    await app.settle()
    assert len(app.exits()) == 1
    assert any("unjournaled" in m for _, m, _ in app.alerts.items)
    assert any(isinstance(r, AuditRecord) for k, r in app.world.timeline.events if k == "commit")


@pytest.mark.asyncio
async def test_position_read_overlaps_the_intent_and_is_used_when_nothing_changed(
    app: Harness,
) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    before = app.broker.position_reads
    app.tick("RELIANCE", "97")
    await app.settle()
    [order] = app.exits()
    assert order.quantity == 10
    assert app.broker.position_reads - before == 1  # the prefetched read, not a second one
    timeline = app.world.timeline
    intent = timeline.index(
        "commit",
        lambda r: isinstance(r, TradeRecord) and r.state == "EXITING" and r.exit_order_id is None,
    )
    assert intent < timeline.index("place", lambda r: True)  # the order still waits for it


@pytest.mark.asyncio
async def test_prefetched_position_is_discarded_when_another_exit_on_the_key_went_out(
    app: Harness,
) -> None:
    await app.enter("a", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    await app.enter("b", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    app.world.external("RELIANCE", "SELL", 15)  # the account holds 5 of our 20
    before = app.broker.position_reads
    app.tick("RELIANCE", "97")  # both stops at once: two exits race on one key
    await app.settle()
    # two prefetches, and the second exit read again after the first one's order went out
    assert app.broker.position_reads - before == 3
    assert sum(o.quantity for o in app.exits()) == 5
    assert app.world.paper.net_quantity(app.exits()[0]) == 0  # never crosses zero
    states = sorted([(await record(app, t)).state for t in "ab"])
    assert states == ["CLOSED", "CLOSED_EXTERNALLY"]


# -- waits re-read the position; an exit is never sent uncapped; the session watch -----------


def hand_sells_during_first_placement(app: Harness, error: Exception, quantity: int) -> None:
    """The first placement fails with `error` (nothing placed) and, while the exit waits, the
    trader sells `quantity` by hand."""
    place = app.broker._place
    failed: list[bool] = []

    async def place_once_failing(request: OrderRequest | SmartOrderRequest) -> PlaceResult:
        if not failed:
            failed.append(True)
            app.world.external("RELIANCE", "SELL", quantity)
            raise error
        return await place(request)

    app.broker._place = place_once_failing  # type: ignore[method-assign]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "error",
    [RateLimited("429", status=429), SessionDown("Invalid openalgo apikey", status=403)],
    ids=["429", "403"],
)
@pytest.mark.parametrize("by_hand", [4, 10])
async def test_a_wait_reads_the_position_again_before_the_exit_is_resent(
    app: Harness, error: Exception, by_hand: int
) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    hand_sells_during_first_placement(app, error, by_hand)
    app.tick("RELIANCE", "97")
    await app.settle()
    net = app.world.paper.net_quantity(OrderRequest("RELIANCE", EX, "SELL", 1, "MIS", ""))
    assert net == 0  # never crossed zero
    closed = await record(app, "t1")
    if by_hand == 10:
        assert app.exits() == []
        assert closed.state == "CLOSED_EXTERNALLY"
    else:
        [order] = app.exits()
        assert (order.action, order.quantity) == ("SELL", 6)
        assert (closed.state, closed.quantity) == ("CLOSED", 6)
        assert "position_mismatch" in await actions(app, "t1")


@pytest.mark.asyncio
async def test_a_403_on_the_position_read_waits_for_the_session_then_caps(app: Harness) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    read = app.broker.open_position
    refused: list[int] = []

    async def session_down_twice(*key: str) -> int:
        if len(refused) < 2:
            refused.append(1)
            raise SessionDown("Invalid openalgo apikey", status=403)
        return await read(*key)

    app.broker.open_position = session_down_twice  # type: ignore[method-assign]
    app.broker.ping_failures = 2
    app.tick("RELIANCE", "97")
    await app.settle()
    [order] = app.exits()
    assert order.quantity == 10
    assert (await record(app, "t1")).state == "CLOSED"
    assert "session_down" in await actions(app, "t1")
    assert not any("uncapped" in m for _, m, _ in app.alerts.items)
    assert app.executor.session_down is False


@pytest.mark.asyncio
async def test_an_unreadable_position_fails_the_exit_and_never_sends_it_uncapped(
    app: Harness,
) -> None:
    await app.enter("t1", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))

    async def unreadable(*key: str) -> int:
        raise UnknownOutcome("openposition: HTTP 500")

    app.broker.open_position = unreadable  # type: ignore[method-assign]
    app.tick("RELIANCE", "97")
    await app.settle()
    assert app.broker.placed == []
    failed = await record(app, "t1")
    assert failed.state == "EXIT_FAILED"
    assert "position unknown" in (failed.exit_message or "")
    assert "error" in app.alerts.levels()


@pytest.mark.asyncio
async def test_smart_exit_beside_a_working_exit_on_the_key_goes_out_as_placeorder(
    app: Harness,
) -> None:
    app.engine.configure_strategy(
        "s1", app.engine.strategy("s1").config.replace(exit_order_mode=ExitOrderMode.SMARTORDER)
    )
    await app.add_strategy("s2")  # placeorder exits
    await app.enter("a", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=pts("2")))
    await app.enter("b", "RELIANCE", Side.LONG, 7, TradeRules(stop_loss=pts("1")), strategy="s2")
    app.world.external("RELIANCE", "BUY", 5)
    app.world.paper.set_fill_late(True)
    app.tick("RELIANCE", "98.9")  # b's stop: its exit is accepted, fills later
    await app.settle_until(lambda: len(app.exits()) == 1)
    app.world.paper.set_fill_late(False)
    app.tick("RELIANCE", "97.9")  # a's stop while b's exit is working
    await app.settle_until(lambda: len(app.broker.placed) == 2)
    assert [type(r).__name__ for r in app.broker.placed] == ["OrderRequest", "OrderRequest"]
    assert [(o.action, o.quantity) for o in app.exits()] == [("SELL", 7), ("SELL", 10)]
    app.world.paper.release_late_fills()
    await app.settle()
    assert app.world.paper.net_quantity(app.exits()[0]) == 5  # the manual 5, untouched


@pytest.mark.asyncio
async def test_the_session_watch_alerts_once_per_change_with_no_exit_in_flight(
    app: Harness,
) -> None:
    session = app.executor.session
    pings = 0
    ping = app.broker.ping

    async def counted() -> None:
        nonlocal pings
        pings += 1
        await ping()

    app.broker.ping = counted  # type: ignore[method-assign]
    session.on_clock()
    await app.settle_until(lambda: session._probe is None or session._probe.done())
    assert pings == 0  # not due yet
    app.broker.ping_failures = 3  # the daily rollover: ping answers 403
    app.clock.advance(session.up_interval)
    session.on_clock()
    await app.settle_until(lambda: session.down)
    assert app.executor.session_down is True
    for _ in range(5):  # a probe every down_interval while down, until the session is back
        app.clock.advance(session.down_interval)
        session.on_clock()
        await app.settle_until(lambda: session._probe is not None and session._probe.done())
    assert session.down is False
    assert pings == 4  # the one that found it down, two more 403s, the one that found it back
    down = [m for lvl, m, d in app.alerts.items if "session down" in m]
    back = [m for lvl, m, d in app.alerts.items if "session back" in m]
    assert (len(down), len(back)) == (1, 1)
    assert [lvl for lvl, m, _ in app.alerts.items if m in down + back] == ["critical", "info"]
    await session.close()
    audits = [a.action for a in await app.store.audits("broker")]
    assert audits == ["broker_session_down", "broker_session_back"]


@pytest.mark.asyncio
async def test_a_403_from_any_broker_call_marks_the_session_down(app: Harness) -> None:
    async def refused() -> list[OrderReport]:
        raise SessionDown("Invalid openalgo apikey", status=403)

    app.broker.order_book = refused  # type: ignore[method-assign]
    with pytest.raises(SessionDown):
        await app.executor.broker.order_book()
    assert app.executor.session_down is True
    assert [lvl for lvl, m, _ in app.alerts.items if "session down" in m] == ["critical"]
    assert await app.executor.session.probe() is True  # ping answers: back
    assert app.executor.session_down is False


@pytest.mark.asyncio
async def test_an_exit_left_working_after_its_resolver_gave_up_still_counts_as_gone(
    app: Harness,
) -> None:
    """a's SELL 10 is accepted but does not fill within the resolver's wait (its update is
    lost), so it may still fill. Then 5 are sold by hand and b's stop fires: the net of 10 is
    all a's working order, so b sends nothing. Counting a's order as done would send b's SELL 5
    too, and the net would cross zero when both fill. Nor can b tell the hand sale from a fill
    of a's that is not reported yet (a is still working after b's wait): it is not closed as
    external on that read, but fails loudly (EXIT_FAILED, alerted) for a person."""
    await app.enter("a", "RELIANCE", Side.LONG, 10)
    await app.enter("b", "RELIANCE", Side.LONG, 5)
    paper = app.world.paper
    paper.set_fill_late(True)
    paper.remove_order_listener(app.monitor.on_order_update)  # a's updates are lost
    app.executor.submit([app.engine.request_exit("a", app.clock.now())])
    await app.settle()  # the resolver gives up after resolve_timeout; a stays EXITING
    assert (await record(app, "a")).state == "EXITING"
    paper.set_fill_late(False)  # a's order stays held; new orders fill at once
    app.world.external("RELIANCE", "SELL", 5)  # by hand, before a's order fills
    app.executor.submit([app.engine.request_exit("b", app.clock.now())])
    await app.settle()
    assert [(o.action, o.quantity) for o in app.exits()] == [("SELL", 10)]
    failed = await record(app, "b")
    assert failed.state == "EXIT_FAILED"
    assert "cannot tell" in (failed.exit_message or "")
    assert any(lvl == "critical" and "cannot tell" in m for lvl, m, _ in app.alerts.items)
    paper.add_order_listener(app.monitor.on_order_update)
    paper.release_late_fills()  # a's order fills at last, and its update arrives
    await app.settle_until(lambda: "a" not in {t.trade_id for t in app.engine.trades()})
    assert paper.net_quantity(app.exits()[0]) == 0  # never crossed zero
    assert (await record(app, "a")).state == "CLOSED"
    key = ("RELIANCE", EX, "MIS")
    assert app.snapshots.ledger.reserved(key) == 0  # released once final
    assert app.snapshots.ledger.working(key) == 0


@pytest.mark.asyncio
async def test_a_fill_in_the_position_book_before_its_order_report_is_not_counted_twice(
    app: Harness,
) -> None:
    """Failure 1 of issue 11: two LONG 10 on one key, the order-update stream down and order
    reports lagging the position book (a broker polled every few seconds). a's exit fills at
    once (net 20 -> 10) but still reads as open; b's stop fires. Counting a's order as still
    to come (net 10 - 10 = 0) would close b as external and send nothing, leaving 10 open and
    unguarded: b's exit must wait until a's order's fate is known, then sell its 10."""
    await app.enter("a", "RELIANCE", Side.LONG, 10)
    await app.enter("b", "RELIANCE", Side.LONG, 10)
    paper = app.world.paper
    paper.remove_order_listener(app.monitor.on_order_update)  # the order-update stream is down
    app.broker.lag_reports = 4
    app.executor.submit([app.engine.request_exit("a", app.clock.now())])

    async def a_sent() -> bool:
        return (await record(app, "a")).exit_order_id is not None

    await eventually(a_sent, timeout=10)
    assert paper.net_quantity(app.exits()[0]) == 10  # a's fill is in the position book
    app.broker.lag_reports = 0
    app.executor.submit([app.engine.request_exit("b", app.clock.now())])
    await app.settle()
    assert [(o.action, o.quantity) for o in app.exits()] == [("SELL", 10), ("SELL", 10)]
    assert paper.net_quantity(app.exits()[0]) == 0  # nothing left open, nothing crossed
    assert (await record(app, "a")).state == "CLOSED"
    assert (await record(app, "b")).state == "CLOSED"
