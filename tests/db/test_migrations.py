"""Migrations and engine set-up on real databases: create from empty, round trip down and up,
the models agree with the migration, the seed's columns all have a home, SQLite pragmas."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.db.conftest import Database, open_store
from tests.db.factories import trade
from tradeguard.adapters.db import migrate
from tradeguard.adapters.db.connect import (
    DEFAULT_URL,
    ENV_VAR,
    create_engine,
    database_url,
    normalize_url,
)
from tradeguard.adapters.db.tables import SEED_TRADE_COLUMNS, metadata

TABLES = {"accounts", "strategies", "trades", "audit", "users", "journal_marks", "exit_orders"}
HEAD = "0005"

# The seed's strategy risk columns (seed-design.md, "Enhanced Strategies Table").
SEED_STRATEGY_COLUMNS = [
    "enable_sl",
    "sl_type",
    "sl_value",
    "enable_target",
    "target_type",
    "target_value",
    "enable_trailing_sl",
    "trailing_sl_type",
    "trailing_sl_value",
    "allocated_funds",
    "position_size_type",
    "position_size_value",
    "max_open_positions",
    "daily_loss_limit",
    "enable_portfolio_sl",
    "portfolio_sl_type",
    "portfolio_sl_value",
    "enable_portfolio_target",
    "portfolio_target_type",
    "portfolio_target_value",
    "enable_portfolio_trailing_sl",
    "portfolio_trailing_type",
    "portfolio_trailing_value",
    "portfolio_highest_pnl",
    "portfolio_current_trailing_sl",
]

# The seed's active_trades columns (seed-design.md, "Active Trades Table").
SEED_ACTIVE_TRADES = [
    "id",
    "user_id",
    "strategy_id",
    "order_id",
    "symbol",
    "exchange",
    "product_type",
    "trade_type",
    "entry_price",
    "quantity",
    "stop_loss",
    "target",
    "trailing_stop_loss",
    "trailing_stop_value",
    "trailing_stop_type",
    "current_trailing_sl",
    "highest_price",
    "lowest_price",
    "current_ltp",
    "last_sync",
    "websocket_subscribed",
    "status",
    "created_at",
    "updated_at",
    "closed_at",
    "exit_price",
    "exit_order_id",
    "pnl",
]


def _tables(database: Database) -> dict[str, set[str]]:
    engine = create_engine(database.url)
    try:
        inspector = inspect(engine)
        return {
            t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_every_table(database: Database) -> None:
    assert migrate.current(database.url) is None
    migrate.upgrade(database.url)
    assert migrate.current(database.url) == migrate.head() == HEAD
    tables = _tables(database)
    assert set(tables) == TABLES | {migrate.VERSION_TABLE}
    assert set(SEED_STRATEGY_COLUMNS) <= tables["strategies"]
    assert set(SEED_TRADE_COLUMNS) == set(SEED_ACTIVE_TRADES)
    assert set(SEED_TRADE_COLUMNS.values()) <= tables["trades"]
    assert {"id", "at", "actor", "action", "subject", "detail"} == tables["audit"]
    migrate.upgrade(database.url)  # a second upgrade is a no-op
    assert migrate.current(database.url) == HEAD


def test_downgrade_to_base_and_upgrade_again(database: Database) -> None:
    migrate.upgrade(database.url)
    migrate.downgrade(database.url, "base")
    assert migrate.current(database.url) is None
    assert set(_tables(database)) <= {migrate.VERSION_TABLE}
    migrate.upgrade(database.url)
    assert migrate.current(database.url) == HEAD
    assert set(_tables(database)) == TABLES | {migrate.VERSION_TABLE}


def test_downgrade_0002_keeps_0001_data(database: Database) -> None:
    migrate.upgrade(database.url)
    engine = create_engine(database.url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (account, api_key_hash, created_at, api_key_id) "
                    "VALUES ('a', 'h', 1, 'abc')"
                )
            )
    finally:
        engine.dispose()
    migrate.downgrade(database.url, "0001")
    assert migrate.current(database.url) == "0001"
    tables = _tables(database)
    assert "users" not in tables
    assert "api_key_id" not in tables["accounts"]
    migrate.upgrade(database.url)
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT account, api_key_hash FROM accounts")).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("a", "h")


@pytest.mark.asyncio
async def test_store_creates_and_migrates_on_first_start(database: Database) -> None:
    store = await open_store(database.url)
    try:
        assert await store.commit([trade()])
    finally:
        await store.close()
    assert migrate.current(database.url) == HEAD


def test_models_match_the_migration(database: Database) -> None:
    migrate.upgrade(database.url)
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    relevant = [
        d for d in diff if not (d[0] == "remove_table" and d[1].name == migrate.VERSION_TABLE)
    ]
    assert relevant == []


def test_sqlite_connections_use_wal_busy_timeout_and_normal_sync(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "tg.db"
    engine = create_engine(f"sqlite:///{path}", busy_timeout_ms=1234)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 1234
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        engine.dispose()
    assert path.exists()


def test_default_url_is_a_sqlite_file_under_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert database_url() == DEFAULT_URL
    engine = create_engine(database_url())
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert (tmp_path / "data" / "tradeguard.db").exists()


def test_url_from_environment_gets_the_psycopg_driver() -> None:
    url = database_url({ENV_VAR: "postgres://u:p@db.example:5433/tg"})
    parsed = normalize_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database) == ("db.example", 5433, "tg")
    assert normalize_url("postgresql://h/x").drivername == "postgresql+psycopg"
    assert database_url({ENV_VAR: "  "}) == DEFAULT_URL
