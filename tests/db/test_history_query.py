"""Tests (storage): the history filter in SQL (rows.history) keeps exactly the closed trades
HistoryQuery.matches keeps (the test the write queue applies while the database is away), on
SQLite and PostgreSQL (the `store` fixture's databases)."""

from __future__ import annotations

import pytest

from tests.history_seed import D2, D3, ist, seed
from tradeguard.adapters.db.store import SqlStore
from tradeguard.app.records import HistoryQuery
from tradeguard.core.timeutil import DAY_NS

QUERIES = [
    HistoryQuery(),
    HistoryQuery(closed_from=ist(D2, 0)),
    HistoryQuery(closed_until=ist(D3, 0)),
    HistoryQuery(closed_from=ist(D2, 0), closed_until=ist(D2, 0) + DAY_NS),
    HistoryQuery(closed_from=ist(D3, 15), closed_until=ist(D3, 15) + 1),  # the edge: H4 only
    HistoryQuery(strategy_id="alice:s2"),
    HistoryQuery(symbol="SBIN"),
    HistoryQuery(reason="STOP_LOSS"),
    HistoryQuery(reason="CLOSED_EXTERNALLY"),
    HistoryQuery(reason="TARGET", strategy_id="alice:s1", symbol="INFY"),
    HistoryQuery(reason="TARGET", symbol="SBIN"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
async def test_sql_filter_agrees_with_matches(store: SqlStore, query: HistoryQuery) -> None:
    records = seed()
    assert await store.commit(records)
    expected = sorted(
        (r for r in records if r.account == "alice" and query.matches(r)),
        key=lambda r: (r.closed_at or 0, r.trade_id),
        reverse=True,
    )
    found = await store.history("alice", 100, query)
    assert [r.trade_id for r in found] == [r.trade_id for r in expected]
    assert found or (query.reason == "TARGET" and query.symbol == "SBIN")  # one finds nothing
