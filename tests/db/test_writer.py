"""The row writer (adapters/db/writer.py): one kept connection, dropped after any error, driver
errors raised as SQLAlchemy's, and rows exactly as the ORM reads them back. SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.db import factories as f
from tests.db.conftest import Database
from tradeguard.adapters.db import rows
from tradeguard.adapters.db.connect import create_engine
from tradeguard.adapters.db.migrate import upgrade_connection
from tradeguard.adapters.db.writer import PROGRESS_ROWS_PER_STATEMENT, RowWriter


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    made = create_engine(database.url)
    with made.begin() as connection:
        upgrade_connection(connection)
    try:
        yield made
    finally:
        made.dispose()


def checkouts(engine: Engine) -> list[int]:
    seen: list[int] = []

    @event.listens_for(engine, "checkout")
    def _count(*_: Any) -> None:
        seen.append(1)

    return seen


def audit_actions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT action FROM audit ORDER BY id")).scalars())


def test_writes_keep_one_connection_and_an_error_drops_it(engine: Engine) -> None:
    seen = checkouts(engine)
    writer = RowWriter(engine)
    try:
        writer.write([f.trade("t-1"), f.audit(1)])
        writer.write([f.progress("t-1"), f.audit(2)])
        writer.write([f.strategy(), f.account(), f.audit(3)])
        assert len(seen) == 1
        refused = writer.write([f.audit(4), f.trade("t-bad", symbol=None), f.audit(5)], mark=7)
        assert [(r.trade_id, type(e)) for r, e in refused] == [  # type: ignore[union-attr]
            ("t-bad", IntegrityError)  # SQLAlchemy's class, the driver's error
        ]
        assert refused[0][1].orig is not None  # type: ignore[attr-defined]
        assert len(seen) == 2  # a fresh connection after the error, kept by the isolation
        writer.write([f.audit(6)])
        assert len(seen) == 2
    finally:
        writer.close()
    # only the refused record was left out, in one transaction with the journal mark
    assert audit_actions(engine) == [f"action-{i}" for i in (1, 2, 3, 4, 5, 6)]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT seq FROM journal_marks")).scalar_one() == 7


def test_rows_read_back_as_written(engine: Engine) -> None:
    trade = f.trade("t-1")
    short = f.trade("t-2", side="SHORT", rules={"trailing": {"type": "PERCENT", "value": "1.5"}})
    strategy = f.strategy()
    writer = RowWriter(engine)
    try:
        writer.write([trade, short, strategy, f.audit(1, detail={"price": 1_250_0000})])
        moved = f.progress("t-1", n=3)
        writer.write([moved])
    finally:
        writer.close()
    with Session(engine) as session:
        loaded = rows.load(session)
        entries = rows.audit_entries(session, None, 10)
    by_id = {t.trade_id: t for t in loaded.trades}
    assert by_id["t-2"] == short
    assert by_id["t-1"] == moved.apply(trade)
    assert loaded.strategies == [strategy]
    assert [e.detail for e in entries] == [{"price": 1_250_0000}]


def test_progress_beyond_one_statement_is_written_whole(engine: Engine) -> None:
    count = PROGRESS_ROWS_PER_STATEMENT + 7
    trades = [f.trade(f"t-{i}") for i in range(count)]
    writer = RowWriter(engine)
    try:
        writer.write(trades)
        writer.write([f.progress(t.trade_id, n=i) for i, t in enumerate(trades)])
    finally:
        writer.close()
    with Session(engine) as session:
        loaded = {t.trade_id: t for t in rows.load(session).trades}
    for i, original in enumerate(trades):
        assert loaded[original.trade_id] == f.progress(original.trade_id, n=i).apply(original)
