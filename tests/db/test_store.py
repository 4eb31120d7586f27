"""SqlStore on real databases: every field survives a round trip, snapshots are idempotent
upserts, load() returns only open trades, history is newest first, audit is append-only."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from tests.db import factories as f
from tests.db.conftest import Database, open_store
from tradeguard.adapters.db.connect import create_engine
from tradeguard.adapters.db.store import SqlStore, StoreClosed
from tradeguard.adapters.db.tables import StrategyRow, TradeRow
from tradeguard.app.records import AuditEntry, AuditQuery, Record


@pytest.mark.asyncio
async def test_every_field_round_trips_through_a_fresh_store(database: Database) -> None:
    records: list[Record] = [f.account(), f.strategy(), f.trade(state="EXITING"), f.audit(1)]
    first = await open_store(database.url)
    try:
        assert await first.commit(records)
    finally:
        await first.close()

    second = await open_store(database.url)
    try:
        assert await second.trade("t-1") == f.trade(state="EXITING")
        loaded = await second.load()
        assert loaded.strategies == [f.strategy()]
        assert loaded.trades == [f.trade(state="EXITING")]
        assert await second.accounts() == [f.account()]
        assert await second.audit_entries() == [f.audit(1)]
        assert await second.trade("missing") is None
    finally:
        await second.close()


@pytest.mark.asyncio
async def test_seed_columns_are_filled_from_the_records(
    database: Database, store: SqlStore
) -> None:
    short = f.trade("t-2", side="SHORT", best_price=1_100_0000, rules={})
    assert await store.commit([f.strategy(), f.trade(), short])
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            row = connection.execute(select(StrategyRow)).one()
            long_row, short_row = connection.execute(
                select(TradeRow).order_by(TradeRow.trade_id)
            ).all()
    finally:
        engine.dispose()
    assert (row.enable_sl, row.sl_type, row.sl_value) == (True, "POINTS", Decimal("12.5"))
    assert (row.target_type, row.target_value) == ("PERCENT", Decimal("3.125"))
    assert (row.trailing_sl_type, row.trailing_sl_value) == ("PERCENT", Decimal("0.75"))
    assert row.allocated_funds == Decimal("250000.5")
    assert (row.position_size_type, row.position_size_value) == (
        "PERCENT_ALLOCATION",
        Decimal("20"),
    )
    assert (row.max_open_positions, row.daily_loss_limit) == (7, Decimal("5000"))
    assert (row.enable_portfolio_sl, row.portfolio_sl_type, row.portfolio_sl_value) == (
        True,
        "AMOUNT",
        Decimal("4000"),
    )
    assert (row.portfolio_target_type, row.portfolio_target_value) == ("PERCENT", Decimal("2.5"))
    assert row.enable_portfolio_trailing_sl is True
    assert (row.portfolio_trailing_type, row.portfolio_trailing_value) == (
        "AMOUNT",
        Decimal("1500"),
    )
    assert row.portfolio_highest_pnl == f.strategy().peak_pnl
    assert row.portfolio_current_trailing_sl == f.strategy().trailing_level
    assert (long_row.highest_price, long_row.lowest_price) == (f.trade().best_price, None)
    assert (short_row.highest_price, short_row.lowest_price) == (None, 1_100_0000)
    assert long_row.trailing_stop_loss is True
    assert (long_row.trailing_stop_type, long_row.trailing_stop_value) == (
        "PERCENT",
        Decimal("1.25"),
    )
    assert (short_row.trailing_stop_loss, short_row.trailing_stop_type) == (False, None)


@pytest.mark.asyncio
async def test_snapshots_are_idempotent_upserts(database: Database, store: SqlStore) -> None:
    newer = f.trade(last_price=1_270_0000, updated_at=f.T0 + 99)
    assert await store.commit([f.trade(), f.trade()])
    assert await store.commit([f.trade(), newer, f.strategy(), f.strategy(state="ACTIVE")])
    assert await store.commit([newer])
    assert await store.trade("t-1") == newer
    assert (await store.load()).strategies == [f.strategy(state="ACTIVE")]
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM trades")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM strategies")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.asyncio
async def test_load_returns_only_open_trades(store: SqlStore) -> None:
    states = ["ACTIVE", "EXITING", "CLOSED", "EXIT_FAILED", "CLOSED_EXTERNALLY"]
    trades = [f.trade(f"t-{i}", state=s, entered_at=f.T0 + i) for i, s in enumerate(states)]
    assert await store.commit([f.strategy("s-a"), f.strategy("s-b", state="PAUSED"), *trades])
    loaded = await store.load()
    assert [t.state for t in loaded.trades] == ["ACTIVE", "EXITING", "EXIT_FAILED"]
    assert [s.strategy_id for s in loaded.strategies] == ["s-a", "s-b"]
    assert await store.commit([replace(trades[0], state="CLOSED")])
    assert [t.state for t in (await store.load()).trades] == ["EXITING", "EXIT_FAILED"]


@pytest.mark.asyncio
async def test_history_lists_closed_trades_newest_first(store: SqlStore) -> None:
    closed = [
        f.trade("t-a", state="CLOSED", closed_at=f.T0 + 3),
        f.trade("t-b", state="CLOSED_EXTERNALLY", closed_at=f.T0 + 9),
        f.trade("t-c", state="CLOSED", closed_at=f.T0 + 5, account="acct-2"),
        f.trade("t-d", state="ACTIVE", closed_at=None),
    ]
    assert await store.commit(closed)
    assert [t.trade_id for t in await store.history(None, 10)] == ["t-b", "t-c", "t-a"]
    assert [t.trade_id for t in await store.history("acct-1", 10)] == ["t-b", "t-a"]
    assert [t.trade_id for t in await store.history(None, 2)] == ["t-b", "t-c"]


@pytest.mark.asyncio
async def test_audit_is_append_only_and_ordered(store: SqlStore) -> None:
    assert await store.commit([f.audit(3), f.audit(1), f.trade(), f.audit(2)])
    assert await store.commit([f.audit(3)])  # the same entry again is a second entry
    assert await store.commit([f.audit(9, subject="strategy:strat-1")])
    entries = await store.audit_entries()
    assert [e.action for e in entries] == [
        "action-3",
        "action-1",
        "action-2",
        "action-3",
        "action-9",
    ]
    assert entries[0] == f.audit(3)
    assert [e.action for e in await store.audit_entries("trade:t-1")] == [
        "action-3",
        "action-1",
        "action-2",
        "action-3",
    ]
    assert [e.action for e in await store.audit_entries(limit=2)] == ["action-3", "action-9"]


@pytest.mark.asyncio
async def test_a_refused_write_raises_and_does_not_block_the_queue(store: SqlStore) -> None:
    broken = f.trade("t-bad", symbol=None)  # NOT NULL: the database refuses the data
    with pytest.raises(IntegrityError, match=r"(?i)null"):
        await store.commit([broken, f.audit(1)])
    assert await store.commit([f.trade("t-good"), f.audit(2)])
    assert (store.degraded, store.pending) == (False, 0)
    assert await store.trade("t-bad") is None
    # only the refused record is left out (its audit entry lands), and the refusal is audited
    actions = [e.action for e in await store.audit_entries()]
    assert actions == ["action-1", "record_refused", "action-2"]
    refused = store.refused_view()
    assert refused["count"] == 1
    assert refused["records"][0]["key"] == "trade:t-bad"
    assert '"trade_id":"t-bad"' in refused["records"][0]["record"]


@pytest.mark.asyncio
async def test_closed_store_refuses_work(database: Database) -> None:
    store = await open_store(database.url)
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreClosed):
        await store.commit([f.audit(1)])
    with pytest.raises(StoreClosed):
        await store.load()


@pytest.mark.asyncio
async def test_progress_moves_only_the_fast_fields(database: Database, store: SqlStore) -> None:
    short = f.trade("t-2", side="SHORT")
    assert await store.commit([f.trade(), short])
    moved = f.progress("t-1", 3)
    assert await store.commit([moved, f.progress("t-2", 2, long=False)])
    assert await store.trade("t-1") == moved.apply(f.trade())
    saved = await store.trade("t-2")
    assert saved is not None
    assert (saved.best_price, saved.state, saved.rules) == (1_260_1000, "ACTIVE", short.rules)
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            seed = connection.execute(
                select(TradeRow.trade_id, TradeRow.highest_price, TradeRow.lowest_price).order_by(
                    TradeRow.trade_id
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in seed] == [("t-1", 1_260_1500, None), ("t-2", None, 1_260_1000)]


@pytest.mark.asyncio
async def test_progress_and_full_snapshots_apply_in_order_within_a_batch(
    store: SqlStore,
) -> None:
    assert await store.commit([f.trade("t-1"), f.trade("t-2")])
    # t-1: progress, then a newer full snapshot (an exit intent): the snapshot wins whole.
    exiting = f.trade("t-1", state="EXITING", best_price=1_262_0000)
    # t-2: a full snapshot, then newer progress: the progress lands on top of it.
    edited = f.trade("t-2", quantity=50)
    later = f.progress("t-2", 9)
    assert await store.commit([f.progress("t-1", 5), exiting, edited, later])
    assert await store.trade("t-1") == exiting
    assert await store.trade("t-2") == later.apply(edited)


@pytest.mark.asyncio
async def test_many_progress_rows_land_in_one_transaction(store: SqlStore) -> None:
    trades = [f.trade(f"t-{i:04d}") for i in range(1_234)]  # more than one statement's worth
    assert await store.commit(trades)
    moved = [f.progress(t.trade_id, i) for i, t in enumerate(trades)]
    assert await store.commit(moved)
    loaded = {t.trade_id: t for t in (await store.load()).trades}
    assert loaded == {p.trade_id: p.apply(t) for p, t in zip(moved, trades, strict=True)}


@pytest.mark.asyncio
async def test_audit_pages_are_one_accounts_newest_first_and_filtered(store: SqlStore) -> None:
    """The audit-log view's query: an account's trades' and strategies' entries (never
    another account's, even one named like a prefix of it), by trade or by strategy (its own
    entries and its trades'), newest first, page by page with `before`."""
    records: list[Record] = [
        f.strategy("acct-1:s1"),
        f.strategy("acct-1:s2"),
        f.strategy("acct-10:s1", account="acct-10"),
        f.trade("t-1", strategy_id="acct-1:s1"),
        f.trade("t-2", strategy_id="acct-1:s2"),
        f.trade("t-9", account="acct-10", strategy_id="acct-10:s1"),
        f.audit(1, subject="acct-1:s1"),
        f.audit(2, subject="t-1"),
        f.audit(3, subject="t-2"),
        f.audit(4, subject="t-9"),
        f.audit(5, subject="acct-10:s1"),
        f.audit(6, subject="acct-1"),
        f.audit(7, subject="t-1"),
    ]
    assert await store.commit(records)

    def actions(entries: list[AuditEntry]) -> list[str]:
        return [e.record.action for e in entries]

    everything = await store.audit_page(AuditQuery("acct-1"))
    assert actions(everything) == [f"action-{n}" for n in (7, 6, 3, 2, 1)]
    first = await store.audit_page(AuditQuery("acct-1", limit=2))
    assert actions(first) == ["action-7", "action-6"]
    rest = await store.audit_page(AuditQuery("acct-1", before=first[-1].id, limit=10))
    assert actions(rest) == ["action-3", "action-2", "action-1"]
    by_trade = await store.audit_page(AuditQuery("acct-1", trade_id="t-1"))
    assert actions(by_trade) == ["action-7", "action-2"]
    by_strategy = await store.audit_page(AuditQuery("acct-1", strategy_id="acct-1:s1"))
    assert actions(by_strategy) == ["action-7", "action-2", "action-1"]
    assert await store.audit_page(AuditQuery("acct-1", trade_id="t-9")) == []
    assert actions(await store.audit_page(AuditQuery("acct-10"))) == ["action-5", "action-4"]
