"""The exit-order ledger table on real databases: rows round-trip, upserts are idempotent,
an order id is unique per account, start-up loads the rows that are not final plus every order
id ever written, and reads merge writes queued during an outage."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from tests.db import factories as f
from tests.db.conftest import Database, open_store
from tests.helpers import sqlite_write_lock
from tradeguard.adapters.db.store import SqlStore

NO_RETRY = {"retry_initial": 60.0, "retry_max": 60.0}


@pytest.mark.asyncio
async def test_exit_rows_round_trip_and_upsert(database: Database) -> None:
    intent = f.exit_order()
    working = f.exit_order(state="WORKING", order_id="o-1", submitted_at=f.T0 + 1, acked_at=2)
    done = f.exit_order(
        "t-0:x1", trade_id="t-0", state="FILLED", order_id="o-0", filled=10, average_price=5
    )
    first = await open_store(database.url)
    try:
        trade = f.trade(state="EXITING", exit_order_id="o-old")  # written before the ledger
        assert await first.commit([trade, intent, done])
        assert await first.commit([working])  # the same row, moved on
    finally:
        await first.close()
    second = await open_store(database.url)
    try:
        loaded = await second.load()
        assert loaded.exit_orders == [working]  # the final row is not loaded...
        assert loaded.claimed_order_ids == {"o-0", "o-1", "o-old"}  # ...its id is claimed
        assert await second.exit_orders("t-1") == [working]
    finally:
        await second.close()


@pytest.mark.asyncio
async def test_an_order_id_belongs_to_one_exit_per_account(store: SqlStore) -> None:
    assert await store.commit([f.exit_order(order_id="o-1"), f.exit_order("t-1:x2")])
    with pytest.raises(IntegrityError):
        await store.commit([f.exit_order("t-2:x1", trade_id="t-2", order_id="o-1")])
    other = f.exit_order("t-3:x1", trade_id="t-3", account="acct-2", order_id="o-1")
    assert await store.commit([other])  # another account's order book
    assert {r.exit_id for r in (await store.load()).exit_orders} == {"t-1:x1", "t-1:x2", "t-3:x1"}


@pytest.mark.asyncio
async def test_queued_exit_rows_are_seen_by_load_while_the_database_is_locked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tradeguard.db"
    store = await open_store(make_url(f"sqlite:///{path}"), **NO_RETRY)
    try:
        assert await store.commit([f.exit_order(state="WORKING", order_id="o-1")])
        with sqlite_write_lock(path):
            filled = f.exit_order(state="FILLED", order_id="o-1", filled=10)
            intent = f.exit_order("t-1:x2", attempt=2)
            assert not await store.commit([filled, intent])
            loaded = await store.load()
            assert loaded.exit_orders == [intent]
            assert loaded.claimed_order_ids == {"o-1"}
            assert await store.exit_orders("t-1") == [filled, intent]
    finally:
        await store.close()
