"""Adapters layer: writes the store's record batches, one transaction each, on the database
worker thread, through one long-lived driver connection with SQL built once per dialect.

Why not SQLAlchemy Core for each write: an exit intent (one trade snapshot and one audit row)
cost about 170 us of interpreter time through `engine.begin()` and `Connection.execute` (pool
checkout, statement cache, result set-up) against about 65 us on the driver (measured on the
benchmark machine, `docs/performance.md`). The worker holds the interpreter lock for that time
while the event loop handles the same exit's position read, so it is on the exit's path.
SQLAlchemy still provides the schema, the connection (pool, pragmas, file identity: connect.py)
and every value conversion (each column type's own bind processor), and a driver error is
raised as SQLAlchemy's exception for it, so the store classifies failures as before.

Snapshots are upserted (INSERT .. ON CONFLICT DO UPDATE: writing one twice is harmless), audit
entries only inserted. Trade progress is a narrow UPDATE by key; on SQLite all of a
transaction's progress rows go in one statement (UPDATE .. FROM VALUES), because the sqlite3
driver releases the interpreter lock around every row of an executemany and a worker that must
win it back from a busy event loop once per row waits up to a switch interval each time.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from tradeguard.adapters.db import rows
from tradeguard.adapters.db.connect import ensure_same_file, sqlite_file
from tradeguard.adapters.db.errors import is_outage
from tradeguard.app.records import Record

Refused = list[tuple[Record, Exception]]  # records the database refused, with its error
_MARK_KEYS = ("name", "seq")

# One UPDATE .. FROM (VALUES ..) per this many rows: 11 parameters a row stays far under
# SQLite's 32,766-parameter limit.
PROGRESS_ROWS_PER_STATEMENT = 500
_SQLITE_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)

Processor = Callable[[Any], Any] | None


class RowWriter:
    """`write(records)` in one transaction; the connection is kept between writes and dropped
    (its transaction rolled back) after any error, so the next write starts on a fresh one."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sql = Statements(engine.dialect)
        self._file = sqlite_file(engine.url)
        self._connection: PoolProxiedConnection | None = None

    def write(self, records: Sequence[Record], mark: int | None = None) -> Refused:
        """Write `records` (and the journal `mark`, if given) in one transaction. A record the
        database refuses is isolated: the transaction is redone with each record in a
        savepoint, the refused ones are left out and returned with their error, the rest
        (and the mark) are committed. Raises on an outage (errors.is_outage)."""
        try:
            self._transaction(lambda cursor: self._execute(cursor, rows.arrange(records)), mark)
        except Exception as error:
            if is_outage(error):
                raise
            return self._isolating(records, mark)
        return []

    def _isolating(self, records: Sequence[Record], mark: int | None) -> Refused:
        refused: Refused = []

        def each(cursor: Any) -> None:
            if self._sql.dialect.name == "sqlite":
                cursor.execute("BEGIN")  # else RELEASE of the outermost savepoint commits
            for record in records:
                cursor.execute("SAVEPOINT tg_record")
                try:
                    self._execute(cursor, rows.arrange([record]))
                except Exception as error:
                    wrapped = self._wrapped(error)
                    if is_outage(wrapped):
                        raise wrapped from error
                    cursor.execute("ROLLBACK TO SAVEPOINT tg_record")
                    refused.append((record, wrapped))
                cursor.execute("RELEASE SAVEPOINT tg_record")

        self._transaction(each, mark)
        return refused

    def _transaction(self, work: Callable[[Any], None], mark: int | None) -> None:
        try:
            connection = self._connect()
            cursor = connection.cursor()
            try:
                work(cursor)
                if mark is not None:
                    statement, processors = self._sql.upsert(rows.MARKS_TABLE, _MARK_KEYS)
                    values = [{"name": rows.JOURNAL_MARK, "seq": mark}]
                    cursor.execute(statement, _params(values, _MARK_KEYS, processors)[0])
            finally:
                cursor.close()
            connection.commit()
        except Exception as error:
            self.discard()
            raise self._wrapped(error) from error

    def _wrapped(self, error: Exception) -> Exception:
        """A driver error as SQLAlchemy's exception for it (others unchanged)."""
        dbapi = self._engine.dialect.loaded_dbapi
        if isinstance(error, dbapi.Error):
            return DBAPIError.instance(None, None, error, dbapi.Error, dialect=self._engine.dialect)
        return error

    def discard(self) -> None:
        """Drop the connection (after an error, or when the database went away)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it is being thrown away
                connection.invalidate()

    def close(self) -> None:
        """Give the connection back to the pool (before the engine is disposed)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # the pool invalidates a broken one
                connection.close()

    def _connect(self) -> PoolProxiedConnection:
        if self._connection is None:
            self._connection = self._engine.raw_connection()  # pool: pragmas, file identity
            return self._connection
        try:
            ensure_same_file(self._file, self._connection.info)
        except Exception:
            self.discard()
            raise
        return self._connection

    def _execute(self, cursor: Any, arranged: rows.Arranged) -> None:
        sql = self._sql
        for table, values in arranged.snapshots:
            keys = tuple(values[0])
            statement, processors = sql.upsert(table, keys)
            cursor.executemany(statement, _params(values, keys, processors))
        if arranged.progress:
            params = [rows.progress_params(r) for r in arranged.progress]
            if sql.dialect.name == "sqlite" and _SQLITE_UPDATE_FROM:
                for start in range(0, len(params), PROGRESS_ROWS_PER_STATEMENT):
                    part = params[start : start + PROGRESS_ROWS_PER_STATEMENT]
                    flat = tuple(value for row in part for value in row)
                    cursor.execute(sql.sqlite_progress(len(part)), flat)
            else:  # PostgreSQL (psycopg batches an executemany) and old SQLite: by row
                by_row = [row[1:] + row[:1] for row in params]  # the key goes last (WHERE)
                cursor.executemany(sql.progress(), by_row)
        if arranged.audits:
            keys = tuple(arranged.audits[0])
            statement, processors = sql.insert(rows.AUDIT_TABLE, keys)
            cursor.executemany(statement, _params(arranged.audits, keys, processors))


def _params(
    values: list[dict[str, Any]], keys: tuple[str, ...], processors: tuple[Processor, ...]
) -> list[tuple[Any, ...]]:
    pairs = tuple(zip(keys, processors, strict=True))
    return [
        tuple(value[key] if process is None else process(value[key]) for key, process in pairs)
        for value in values
    ]


Built = tuple[str, tuple[Processor, ...]]  # SQL text, a bind processor per parameter


class Statements:
    """The SQL text and bind processors for one dialect, built on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._quote = dialect.identifier_preparer.quote
        self._upserts: dict[tuple[Table, tuple[str, ...]], Built] = {}
        self._inserts: dict[tuple[Table, tuple[str, ...]], Built] = {}

    def upsert(self, table: Table, keys: tuple[str, ...]) -> Built:
        """INSERT .. ON CONFLICT (primary key) DO UPDATE every other given column."""
        built = self._upserts.get((table, keys))
        if built is None:
            built = self._upserts[table, keys] = self._upsert(table, keys)
        return built

    def insert(self, table: Table, keys: tuple[str, ...]) -> Built:
        built = self._inserts.get((table, keys))
        if built is None:
            built = self._inserts[table, keys] = self._insert(table, keys)
        return built

    def _upsert(self, table: Table, keys: tuple[str, ...]) -> Built:
        insert, processors = self._insert(table, keys)
        primary = [c.name for c in table.primary_key.columns]
        updates = ", ".join(
            f"{self._quote(k)} = excluded.{self._quote(k)}" for k in keys if k not in primary
        )
        target = ", ".join(self._quote(k) for k in primary)
        return f"{insert} ON CONFLICT ({target}) DO UPDATE SET {updates}", processors

    def _insert(self, table: Table, keys: tuple[str, ...]) -> Built:
        columns = ", ".join(self._quote(k) for k in keys)
        marks = ", ".join([self._mark] * len(keys))
        processors = tuple(
            table.c[k].type.dialect_impl(self.dialect).bind_processor(self.dialect) for k in keys
        )
        return f"INSERT INTO {self._quote(table.name)} ({columns}) VALUES ({marks})", processors

    def sqlite_progress(self, count: int) -> str:
        return _sqlite_progress(count)

    def progress(self) -> str:
        sets = ", ".join(f"{name} = {self._mark}" for name in rows.PROGRESS_COLUMNS)
        return f"UPDATE trades SET {sets} WHERE trade_id = {self._mark}"


@functools.cache
def _sqlite_progress(count: int) -> str:
    width = 1 + len(rows.PROGRESS_COLUMNS)
    row = "(" + ", ".join("?" * width) + ")"
    sets = ", ".join(f"{name} = v.column{i + 2}" for i, name in enumerate(rows.PROGRESS_COLUMNS))
    return (
        f"UPDATE trades SET {sets} FROM (VALUES {', '.join([row] * count)}) AS v "
        "WHERE trades.trade_id = v.column1"
    )
