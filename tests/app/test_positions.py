"""Tests (app): the broker view (positions matched to guarded trades, unguarded quantity), the
"guard this position" action, partial exits and the audit log, on the whole stack against the
embedded simulator (real gateway, feed, SQLite store); and the matching rule as a property."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import eventually
from tests.stack import Stack, running_stack
from tradeguard.app.errors import Conflict, InvalidRequest, NotFound
from tradeguard.app.positions import GuardedPart, match_positions
from tradeguard.app.service import CreateTrade
from tradeguard.core.broker import PositionReport

ACCOUNT = "alice"
RULES = {
    "enable_sl": True,
    "sl_type": "POINTS",
    "sl_value": "10",
    "enable_target": True,
    "target_type": "POINTS",
    "target_value": "20",
}


def part(key: tuple[str, str, str], signed: int, account: str = ACCOUNT, tid: str = "T1") -> Any:
    return GuardedPart(key, signed, account, tid, "s1", "LONG" if signed > 0 else "SHORT", 1, "A")


SBIN = ("SBIN", "NSE", "MIS")


def position(net: int, key: tuple[str, str, str] = SBIN, avg: int = 8_000_000) -> PositionReport:
    return PositionReport(key[0], key[1], key[2], net, avg)


def test_positions_match_trades_on_their_key() -> None:
    infy = ("INFY", "NSE", "MIS")
    sbin_cnc = ("SBIN", "NSE", "CNC")
    matches = match_positions(
        [
            position(10),
            position(-5, infy),
            position(7, sbin_cnc),
            position(0, ("TCS", "NSE", "MIS")),
        ],
        [
            part(SBIN, 4, tid="A"),
            part(SBIN, 3, account="bob", tid="B"),
            part(infy, -5, tid="C"),
            part(("TCS", "NSE", "NRML"), 2, tid="D"),
        ],
        ACCOUNT,
    )
    by_key = {m.key: m for m in matches}
    assert set(by_key) == {SBIN, infy, sbin_cnc, ("TCS", "NSE", "NRML")}  # flat TCS MIS left out
    sbin = by_key[SBIN]
    assert (sbin.guarded, sbin.unguarded, sbin.status) == (7, 3, "PARTLY_GUARDED")
    assert [p.trade_id for p in sbin.parts] == ["A"]  # bob's trade counted, never shown
    assert (by_key[infy].unguarded, by_key[infy].status) == (0, "GUARDED")
    assert (by_key[sbin_cnc].unguarded, by_key[sbin_cnc].status) == (7, "UNGUARDED")
    gone = by_key[("TCS", "NSE", "NRML")]
    assert (gone.net, gone.unguarded, gone.status) == (0, 0, "OVER_GUARDED")


def test_a_short_position_larger_than_its_trades_is_unguarded_short() -> None:
    [match] = match_positions([position(-9)], [part(SBIN, -4)], ACCOUNT)
    assert (match.unguarded, match.status) == (-5, "PARTLY_GUARDED")
    [opposite] = match_positions([position(-9)], [part(SBIN, 4)], ACCOUNT)
    assert (opposite.unguarded, opposite.status) == (0, "OVER_GUARDED")


@given(
    net=st.integers(-1000, 1000),
    guards=st.lists(st.integers(-500, 500).filter(bool), max_size=4),
)
def test_unguarded_never_exceeds_the_net_nor_flips_its_side(net: int, guards: list[int]) -> None:
    parts = [part(SBIN, g, tid=f"T{i}") for i, g in enumerate(guards)]
    [match] = match_positions([position(net)], parts, ACCOUNT) or [None]
    if match is None:  # nothing at the broker and nothing guarded
        assert net == 0
        assert not guards
        return
    u = match.unguarded
    assert abs(u) <= abs(net)
    assert u == 0 or (u > 0) == (net > 0)
    if u:
        assert match.guarded + u == net  # guarding u makes the key exactly guarded


# -- on the stack ------------------------------------------------------------------------------


async def strategy(stack: Stack, name: str = "s1") -> None:
    await stack.service.configure_strategy(ACCOUNT, name, RULES, actor="test")


@pytest.mark.asyncio
async def test_guard_this_position_creates_a_trade_with_the_strategy_defaults(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path) as stack:
        service = stack.service
        await strategy(stack)
        await stack.fill_entry("SBIN", "BUY", 10, "manual")  # opened by another tool
        view = await service.broker_view(ACCOUNT, refresh=True)
        [row] = view["positions"]
        assert (row["symbol"], row["quantity"], row["guarded"], row["unguarded"]) == (
            "SBIN",
            10,
            0,
            10,
        )
        assert row["status"] == "UNGUARDED"
        assert view["unguarded"] == 1
        assert row["average_price"] == "800.00"
        assert [o["tradeguard"] for o in view["orders"]] == [None]

        trade = await service.guard_position(ACCOUNT, "s1", SBIN, "user:trader")
        assert (trade["side"], trade["quantity"], trade["entry_price"]) == ("LONG", 10, "800.00")
        assert (trade["stop_loss"], trade["target"], trade["strategy"]) == (
            "790.00",
            "820.00",
            "s1",
        )
        [row] = (await service.broker_view(ACCOUNT))["positions"]
        assert (row["status"], row["unguarded"]) == ("GUARDED", 0)
        assert [t["trade_id"] for t in row["trades"]] == [trade["trade_id"]]

        with pytest.raises(Conflict, match="nothing unguarded on NSE:SBIN MIS"):
            await service.guard_position(ACCOUNT, "s1", SBIN, "user:trader")
        assert len(service.active_trades(ACCOUNT)) == 1  # the second click made nothing
        audit = await service.audit_log(ACCOUNT, trade_id=trade["trade_id"])
        assert [(e["action"], e["actor"]) for e in audit["entries"]] == [
            ("trade_created", "user:trader")
        ]


@pytest.mark.asyncio
async def test_a_partly_guarded_position_guards_only_the_rest(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        service = stack.service
        await strategy(stack)
        order_id = await stack.fill_entry("SBIN", "BUY", 10, "s1")
        await service.create_trade(ACCOUNT, CreateTrade("s1", order_id=order_id), actor="test")
        await stack.fill_entry("SBIN", "BUY", 5, "manual")
        [row] = (await service.broker_view(ACCOUNT, refresh=True))["positions"]
        assert (row["status"], row["guarded"], row["unguarded"]) == ("PARTLY_GUARDED", 10, 5)
        assert {o["tradeguard"] for o in (await service.broker_view(ACCOUNT))["orders"]} == {
            "entry",
            None,
        }
        with pytest.raises(Conflict, match=r"only 5 .* unguarded now, not 6"):
            await service.guard_position(ACCOUNT, "s1", SBIN, "test", quantity=6)
        with pytest.raises(NotFound):
            await service.guard_position(ACCOUNT, "nope", SBIN, "test")
        with pytest.raises(InvalidRequest, match="product"):
            await service.guard_position(ACCOUNT, "s1", ("SBIN", "NSE", "XYZ"), "test")
        made = await service.guard_position(ACCOUNT, "s1", SBIN, "test", quantity=2)
        assert made["quantity"] == 2
        [row] = (await service.broker_view(ACCOUNT, refresh=True))["positions"]
        assert (row["guarded"], row["unguarded"]) == (12, 3)


@pytest.mark.asyncio
async def test_the_broker_books_are_cached_and_a_refresh_is_rate_bounded(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        positions = stack.service.positions
        positions.min_interval = 60.0  # a refresh never re-reads within a minute here
        await stack.service.broker_view(ACCOUNT)
        await stack.service.broker_view(ACCOUNT)
        await stack.service.broker_view(ACCOUNT, refresh=True)
        assert positions.reads == 1
        positions.min_interval = 0.0
        await stack.service.broker_view(ACCOUNT, refresh=True)
        assert positions.reads == 2


@pytest.mark.asyncio
async def test_a_partial_exit_keeps_the_rest_guarded_with_the_same_rules(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        service = stack.service
        await strategy(stack)
        order_id = await stack.fill_entry("SBIN", "BUY", 10, "s1")
        made = await service.create_trade(
            ACCOUNT, CreateTrade("s1", order_id=order_id), actor="test"
        )
        trade_id = made["trade_id"]
        await stack.wait_subscribed("SBIN")
        for bad in (0, 10, 11):
            with pytest.raises(InvalidRequest, match="1 to 9 of the open 10"):
                await service.exit_trade(ACCOUNT, trade_id, "user:trader", quantity=bad)
        stack.price("SBIN", "805")
        view = await service.exit_trade(ACCOUNT, trade_id, "user:trader", quantity=4)
        assert (view["trade_id"], view["quantity"], view["state"]) == (trade_id, 6, "ACTIVE")
        assert (view["stop_loss"], view["target"]) == (made["stop_loss"], made["target"])
        part_id = view["part"]["trade_id"]
        assert view["part"]["quantity"] == 4

        async def part_closed() -> bool:
            history = await service.trade_history(ACCOUNT)
            return any(h["trade_id"] == part_id for h in history)

        await eventually(part_closed, message="the part's exit filled")
        [closed] = [h for h in await service.trade_history(ACCOUNT) if h["trade_id"] == part_id]
        assert (closed["quantity"], closed["exit_price"], closed["pnl"]) == (4, "805.00", "20.00")
        net = await stack.gateway.open_position("SBIN", "NSE", "MIS", "s1")
        assert net == 6  # one exit of 4, nothing more
        [row] = (await service.broker_view(ACCOUNT, refresh=True))["positions"]
        assert (row["status"], row["guarded"]) == ("GUARDED", 6)
        # the rest is still guarded: its stop fires for its 6
        stack.price("SBIN", "789")
        await eventually(
            lambda: not service.active_trades(ACCOUNT), message="the rest exited at its stop"
        )
        assert await stack.gateway.open_position("SBIN", "NSE", "MIS", "s1") == 0

        log = await service.audit_log(ACCOUNT, trade_id=trade_id)
        actions = [(e["action"], e["actor"]) for e in log["entries"]]
        assert ("partial_exit", "user:trader") in actions
        partial = next(e for e in log["entries"] if e["action"] == "partial_exit")
        assert partial["detail"] == {"quantity": 4, "remaining": 6, "part": part_id}


@pytest.mark.asyncio
async def test_a_partial_exit_of_a_trade_not_active_is_refused(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        service = stack.service
        await strategy(stack)
        order_id = await stack.fill_entry("SBIN", "BUY", 10, "s1")
        made = await service.create_trade(
            ACCOUNT, CreateTrade("s1", order_id=order_id), actor="test"
        )
        await service.exit_trade(ACCOUNT, made["trade_id"], "test")
        with pytest.raises((Conflict, NotFound)):
            await service.exit_trade(ACCOUNT, made["trade_id"], "test", quantity=4)


@pytest.mark.asyncio
async def test_the_audit_log_pages_newest_first_and_filters(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        service = stack.service
        await strategy(stack, "s1")
        await strategy(stack, "s2")
        await service.configure_strategy("bob", "s1", RULES, actor="bob")
        trades = []
        for name in ("s1", "s2", "s1"):
            view = await service.create_trade(
                ACCOUNT,
                CreateTrade(
                    name,
                    symbol="SBIN",
                    exchange="NSE",
                    action="BUY",
                    quantity=1,
                    price=Decimal(800),
                ),
                actor=f"user:{name}",
            )
            trades.append(view["trade_id"])
        await service.pause_strategy(ACCOUNT, "s2", actor="user:trader")

        async def everything() -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = []
            before = None
            while True:
                page = await service.audit_log(ACCOUNT, before=before, limit=2)
                entries += page["entries"]
                before = page["next_before"]
                if before is None:
                    return entries

        entries = await eventually(everything, message="the audit entries written")
        ids = [e["id"] for e in entries]
        assert ids == sorted(ids, reverse=True)
        assert len(set(ids)) == len(ids)
        assert entries[0]["action"] == "strategy_paused"
        assert entries[0]["strategy"] == "s2"
        assert entries[0]["actor"] == "user:trader"
        assert all(e["actor"] != "bob" for e in entries)  # another account's never shown
        s1 = await service.audit_log(ACCOUNT, strategy="s1")
        subjects = {e["subject"] for e in s1["entries"]}
        assert subjects == {f"{ACCOUNT}:s1", trades[0], trades[2]}
        one = await service.audit_log(ACCOUNT, trade_id=trades[1])
        assert [e["actor"] for e in one["entries"]] == ["user:s2"]
        assert (await service.audit_log("bob", trade_id=trades[1]))["entries"] == []
        with pytest.raises(InvalidRequest):
            await service.audit_log(ACCOUNT, limit=0)
        with pytest.raises(NotFound):
            await service.audit_log(ACCOUNT, strategy="nope")
