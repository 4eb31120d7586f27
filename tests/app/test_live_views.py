"""Tests: the cached live views (app.live_views) always equal freshly built ones.

The service keeps each open trade's and strategy's view (and its JSON text) and rebuilds it
only when the object's signature changes. Hypothesis drives random sequences of every kind of
change through the real app layer (engine, monitor, executor, PaperBroker, SQLite): ticks that
move prices and trailing levels or hit stops, rule updates, manual exits, strategy
configuration, pause and resume, new trades, and exits that fail (rejected, unresolved, queued
for approval) and are retried. After every step each cached view must be the
view a fresh build gives, and its JSON text must decode to it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.harness import EX, Harness, World
from tradeguard.app.errors import ServiceError
from tradeguard.app.publisher import ViewPublisher
from tradeguard.app.service import TradeService
from tradeguard.core.broker import (
    BrokerError,
    OrderRequest,
    Queued,
    RejectedError,
    UnknownOutcome,
)
from tradeguard.core.model import Instrument, Product, Side
from tradeguard.core.rules import (
    BreakevenRule,
    LevelKind,
    Offset,
    TradeRules,
    TrailingRule,
)
from tradeguard.core.trade import Trade

ACCOUNT = "acct"
STRATEGY = f"{ACCOUNT}:s1"
SYMBOLS = {"RELIANCE": 100, "TCS": 200, "INFY": 50}
NAMES = sorted(SYMBOLS)

RULES = TradeRules(
    stop_loss=Offset(LevelKind.PERCENT, Decimal("3")),
    trailing=TrailingRule(Offset(LevelKind.POINTS, Decimal("2"))),
    breakeven=BreakevenRule(Offset(LevelKind.POINTS, Decimal("1"))),
)
RULE_CHANGES: list[dict[str, Any]] = [
    {"stop_loss": {"type": "POINTS", "value": "4"}},
    {"target": {"type": "PERCENT", "value": "5"}},
    {"target": None},
    {"trailing": {"type": "POINTS", "value": "1"}},
    {"trailing": None},
    {"stop_loss": {"type": "PERCENT", "value": "1"}},
    {"max_holding_seconds": 36_000},  # the rules change, no level does
]
STRATEGY_CHANGES: list[dict[str, Any]] = [
    {"daily_loss_limit": "500"},
    {"daily_loss_limit": None},
    {"portfolio_stop_loss": {"type": "AMOUNT", "value": "300"}},
    {"max_open_positions": 50},
]

# The next exit placement fails: unresolved, rejected, or queued for approval (semi-auto).
FAULTS: list[BrokerError] = [
    UnknownOutcome("connection reset"),
    RejectedError("RMS: margin exceeds limits"),
    Queued("Order queued for approval in Action Center", pending_id="p1"),
]

operation = st.one_of(
    st.tuples(st.just("tick"), st.sampled_from(NAMES), st.integers(-8, 8)),
    st.tuples(st.just("update"), st.integers(0, 5), st.sampled_from(RULE_CHANGES)),
    st.tuples(st.just("exit"), st.integers(0, 5)),
    st.tuples(st.just("configure"), st.sampled_from(STRATEGY_CHANGES)),
    st.tuples(st.just("pause"), st.booleans()),
    st.tuples(st.just("enter"), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("fault"), st.integers(0, len(FAULTS) - 1)),
)


def unversioned(view: dict[str, Any]) -> dict[str, Any]:
    """A cached trade view without its `version` (which a fresh build has not)."""
    return {k: v for k, v in view.items() if k != "version"}


def assert_fresh(service: TradeService) -> None:
    """Every cached view equals a fresh build, and its text is that view as JSON."""
    for trade, entry in service.live_trades():
        assert unversioned(entry.view) == service._trade_view(trade)
        assert entry.view["version"] == entry.version
        assert json.loads(entry.text) == entry.view
    for book, entry in service.live_strategies():
        assert entry.view == service._strategy_view(book)
        assert json.loads(entry.text) == entry.view
    assert [unversioned(v) for v in json.loads(service.active_trades_json(ACCOUNT))] == [
        service._trade_view(t) for t in service.engine.trades() if t.account == ACCOUNT
    ]


class Run:
    def __init__(self, app: Harness) -> None:
        self.app = app
        self.service = TradeService(app.monitor, app.broker, app.store, app.clock)
        self.prices = {symbol: price * 20 for symbol, price in SYMBOLS.items()}  # in 0.05s
        self.entered = 0
        self.done: set[str] = set()  # kinds of operation that changed something

    def tick(self, symbol: str, steps: int) -> None:
        self.prices[symbol] = max(20, self.prices[symbol] + steps * 5)  # 0.25 a step
        self.app.tick(symbol, str(Decimal(self.prices[symbol]) / 20))

    async def enter(self, symbol: str, long: bool) -> None:
        """A filled entry at the broker and its trade, of ACCOUNT (as Harness.enter)."""
        self.entered += 1
        paper = self.app.world.paper
        action = "BUY" if long else "SELL"
        order_id = paper.submit(OrderRequest(symbol, EX, action, 3, "MIS", "x"))
        fill = (await paper.order_status(order_id, "x")).average_price
        assert fill is not None
        trade = Trade(
            trade_id=f"t{self.entered}",
            strategy_id=STRATEGY,
            account=ACCOUNT,
            instrument=Instrument(symbol, EX, Decimal("0.05")),
            side=Side.LONG if long else Side.SHORT,
            quantity=3,
            entry_price=fill,
            entered_at=self.app.clock.now(),
            rules=RULES,
            product=Product.MIS,
            entry_order_id=order_id,
        )
        await self.app.monitor.add_trade(trade)

    def trade_id(self, index: int) -> str | None:
        trades = sorted(t.trade_id for t in self.service.engine.trades())
        return trades[index % len(trades)] if trades else None

    async def apply(self, op: tuple[Any, ...]) -> None:
        service, kind = self.service, op[0]
        try:
            if kind == "tick":
                self.tick(op[1], op[2])
            elif kind == "enter":
                await self.enter(op[1], op[2])
            elif kind == "update" and (trade_id := self.trade_id(op[1])) is not None:
                await service.update_trade(ACCOUNT, trade_id, op[2], "test")
            elif kind == "exit" and (trade_id := self.trade_id(op[1])) is not None:
                await service.exit_trade(ACCOUNT, trade_id, "test")
            elif kind == "fault":
                self.app.broker.script.append(("before", FAULTS[op[1]]))
            elif kind == "configure":
                await service.configure_strategy(ACCOUNT, "s1", op[1], "test")
            elif kind == "pause":
                if op[1]:
                    await service.pause_strategy(ACCOUNT, "s1", "test")
                else:
                    await service.resume_strategy(ACCOUNT, "s1", "test")
        except ServiceError:
            pass  # refused (a stop beyond the price, a closed trade...): nothing changed
        else:
            self.done.add(kind)
        await self.app.settle()


async def _run_sequence(tmp: Path, ops: list[tuple[Any, ...]]) -> set[str]:
    world = World(tmp)
    for symbol, price in SYMBOLS.items():
        world.set_price(symbol, str(price))
    app = await Harness.open(world)
    try:
        await app.start()
        await app.add_strategy(STRATEGY)
        run = Run(app)
        await run.enter("RELIANCE", True)
        await run.enter("TCS", False)
        assert_fresh(run.service)
        for op in ops:
            await run.apply(op)
            assert_fresh(run.service)
        return run.done
    finally:
        await app.stop()


EVERY_KIND = [
    ("tick", "RELIANCE", 4),  # a new best price: trailing and breakeven move
    ("update", 0, {"target": {"type": "PERCENT", "value": "5"}}),
    ("update", 1, {"max_holding_seconds": 36_000}),
    ("configure", {"daily_loss_limit": "500"}),
    ("pause", True),
    ("pause", False),
    ("enter", "INFY", False),
    ("tick", "TCS", 8),  # t2 is SHORT: against it, towards its stop
    ("fault", 1),
    ("exit", 2),  # t3 (INFY): its exit is rejected: EXIT_FAILED, the rejection shown
    ("fault", 0),
    ("exit", 2),  # the retry: its outcome unknown, the exit unresolved
    ("fault", 2),
    ("exit", 0),  # t1: queued for approval in OpenAlgo's Action Center
    ("tick", "TCS", 8),  # through t2's stop: an automatic exit, closed and gone
]


def test_every_kind_of_change_keeps_the_cached_views_fresh(tmp_path: Path) -> None:
    done = asyncio.run(_run_sequence(tmp_path, EVERY_KIND))
    assert done == {"tick", "update", "configure", "pause", "enter", "exit", "fault"}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_cached_views_equal_fresh_views_after_any_changes(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run_sequence(Path(tmp), ops))


@pytest.mark.asyncio
async def test_a_view_is_rebuilt_only_when_its_trade_changed(app: Harness) -> None:
    run = Run(app)
    app.engine.add_strategy(STRATEGY, app.engine.strategy("s1").config)
    await run.enter("RELIANCE", True)
    await run.enter("TCS", True)
    views = run.service.ops.trade_views
    first = {t.trade_id: e for t, e in run.service.live_trades()}
    assert views.builds == 2
    again = {t.trade_id: e for t, e in run.service.live_trades()}
    assert views.builds == 2  # nothing changed: nothing rebuilt
    assert all(again[k] is first[k] for k in first)
    run.tick("RELIANCE", 4)  # a new best price: the trailing stop moves
    moved = {t.trade_id: e for t, e in run.service.live_trades()}
    assert views.builds == 3
    assert moved["t2"] is first["t2"]
    assert moved["t1"].version > first["t1"].version
    assert moved["t1"].view["version"] > first["t1"].view["version"]
    assert moved["t1"].view["last_price"] == "101.00"
    assert moved["t1"].view["trailing_stop"] == "99.00"


@pytest.mark.asyncio
async def test_the_publisher_sends_one_event_a_round_with_only_the_changed_views(
    app: Harness,
) -> None:
    run = Run(app)
    app.engine.add_strategy(STRATEGY, app.engine.strategy("s1").config)
    await run.enter("RELIANCE", True)
    await run.enter("TCS", True)
    publisher = ViewPublisher(run.service)
    async with run.service.bus.subscribe(ACCOUNT) as events:
        # two trades, their strategy, and the fixture's strategy s1 (account "default")
        assert await publisher.publish_changes() == 4
        first = await anext(events)
        assert first.kind == "views"
        assert {u.key for u in first.updates} == {"t1", "t2", STRATEGY}
        assert await publisher.publish_changes() == 0  # nothing changed
        run.tick("TCS", -2)
        assert await publisher.publish_changes() == 2  # t2 and its strategy's P&L
        second = await anext(events)
        assert [(u.kind, u.key) for u in second.updates] == [
            ("trade", "t2"),
            ("portfolio", STRATEGY),
        ]
        update = second.updates[0]
        assert json.loads(update.text) == update.data
        assert unversioned(update.data) == run.service._trade_view(app.engine.trade("t2"))
