"""Adapters layer: the database schema as SQLAlchemy 2 typed declarative models.

Conventions (portable across SQLite and PostgreSQL):

- money and prices are BIGINT units of 1/10,000 rupee (core.money); times are BIGINT epoch ns;
- strategy settings copied out of the config dict keep the user's exact decimal (percent,
  points or rupees as configured) in `ExactDecimal` (NUMERIC on PostgreSQL, text on SQLite,
  so no binary float ever touches them); the JSON `config` column stays the source of truth;
- strings are unbounded (VARCHAR/TEXT): a long symbol must never make a write fail.

The seed's `active_trades` and strategy risk columns all have a home: the strategy risk columns
exist under their seed names; `SEED_TRADE_COLUMNS` maps each seed `active_trades` column to
the `trades` column that holds it (derived seed columns are filled on write).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, MetaData, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")
Units = BigInteger
# SQLite only auto-increments an INTEGER PRIMARY KEY (rowid alias), not a BIGINT one.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal: NUMERIC on PostgreSQL, its text on SQLite (whose NUMERIC is a float)."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        return dec if dialect.name == "postgresql" else str(dec)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AccountRow(Base):
    """An account: its API key's lookup id and argon2 hash, its encrypted OpenAlgo key."""

    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_api_key_id", "api_key_id", unique=True),)

    account: Mapped[str] = mapped_column(String(), primary_key=True)
    api_key_hash: Mapped[str | None] = mapped_column(String())
    openalgo_key_encrypted: Mapped[str | None] = mapped_column(Text())
    created_at: Mapped[int] = mapped_column(BigInteger(), default=0)
    api_key_id: Mapped[str | None] = mapped_column(String())  # migration 0002


class UserRow(Base):
    """A dashboard user (migration 0002): argon2 password hash and lockout state."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(), primary_key=True)
    account: Mapped[str] = mapped_column(String(), index=True)
    password_hash: Mapped[str] = mapped_column(String())
    failed_logins: Mapped[int] = mapped_column(Integer(), default=0)
    locked_until: Mapped[int | None] = mapped_column(BigInteger())
    created_at: Mapped[int] = mapped_column(BigInteger(), default=0)
    updated_at: Mapped[int] = mapped_column(BigInteger(), default=0)


class StrategyRow(Base):
    """A strategy: its config (JSON, authoritative), the seed's risk columns, and live state."""

    __tablename__ = "strategies"

    strategy_id: Mapped[str] = mapped_column(String(), primary_key=True)
    account: Mapped[str] = mapped_column(String(), index=True)
    name: Mapped[str] = mapped_column(String())
    config: Mapped[dict[str, Any]] = mapped_column(Json)
    # Seed risk columns, copied from `config` on every write (settings as configured).
    enable_sl: Mapped[bool | None]
    sl_type: Mapped[str | None] = mapped_column(String())
    sl_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    enable_target: Mapped[bool | None]
    target_type: Mapped[str | None] = mapped_column(String())
    target_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    enable_trailing_sl: Mapped[bool | None]
    trailing_sl_type: Mapped[str | None] = mapped_column(String())
    trailing_sl_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    allocated_funds: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    position_size_type: Mapped[str | None] = mapped_column(String())
    position_size_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    max_open_positions: Mapped[int | None] = mapped_column(Integer())
    daily_loss_limit: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    enable_portfolio_sl: Mapped[bool | None]
    portfolio_sl_type: Mapped[str | None] = mapped_column(String())
    portfolio_sl_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    enable_portfolio_target: Mapped[bool | None]
    portfolio_target_type: Mapped[str | None] = mapped_column(String())
    portfolio_target_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    enable_portfolio_trailing_sl: Mapped[bool | None]
    portfolio_trailing_type: Mapped[str | None] = mapped_column(String())
    portfolio_trailing_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    # Live portfolio state (units): StrategyRecord.peak_pnl and .trailing_level.
    portfolio_highest_pnl: Mapped[int] = mapped_column(Units(), default=0)
    portfolio_current_trailing_sl: Mapped[int | None] = mapped_column(Units())
    state: Mapped[str] = mapped_column(String())
    halt_reason: Mapped[str | None] = mapped_column(Text())
    realized_pnl: Mapped[int] = mapped_column(Units(), default=0)
    baseline: Mapped[int] = mapped_column(Units(), default=0)
    day: Mapped[int] = mapped_column(Integer(), default=0)
    updated_at: Mapped[int] = mapped_column(BigInteger(), default=0)


# The seed config fields that get a real column on `strategies` (same names in the config).
STRATEGY_SEED_FIELDS: tuple[str, ...] = (
    "enable_sl", "sl_type", "sl_value", "enable_target", "target_type", "target_value",
    "enable_trailing_sl", "trailing_sl_type", "trailing_sl_value", "allocated_funds",
    "position_size_type", "position_size_value", "max_open_positions", "daily_loss_limit",
    "enable_portfolio_sl", "portfolio_sl_type", "portfolio_sl_value", "enable_portfolio_target",
    "portfolio_target_type", "portfolio_target_value", "enable_portfolio_trailing_sl",
    "portfolio_trailing_type", "portfolio_trailing_value",
)  # fmt: skip


class TradeRow(Base):
    """A trade: every TradeRecord field (our names) plus the seed's derived columns."""

    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_state", "state"),
        Index("ix_trades_strategy_id", "strategy_id"),
        Index("ix_trades_account_closed_at", "account", "closed_at"),
        # migration 0003: one trade per entry order of an account (NULLs never collide)
        Index("ux_trades_account_entry_order_id", "account", "entry_order_id", unique=True),
    )

    trade_id: Mapped[str] = mapped_column(String(), primary_key=True)
    account: Mapped[str] = mapped_column(String())
    strategy_id: Mapped[str] = mapped_column(String())
    entry_order_id: Mapped[str | None] = mapped_column(String())
    symbol: Mapped[str] = mapped_column(String())
    exchange: Mapped[str] = mapped_column(String())
    product: Mapped[str] = mapped_column(String())
    side: Mapped[str] = mapped_column(String())
    entry_price: Mapped[int] = mapped_column(Units())
    quantity: Mapped[int] = mapped_column(BigInteger())
    tick_size: Mapped[str] = mapped_column(String())
    lot_size: Mapped[int] = mapped_column(BigInteger())
    rules: Mapped[dict[str, Any]] = mapped_column(Json)
    state: Mapped[str] = mapped_column(String())
    entered_at: Mapped[int] = mapped_column(BigInteger())
    best_price: Mapped[int] = mapped_column(Units())
    stop_loss: Mapped[int | None] = mapped_column(Units())
    stop_reason: Mapped[str | None] = mapped_column(String())
    target: Mapped[int | None] = mapped_column(Units())
    trailing_level: Mapped[int | None] = mapped_column(Units())
    breakeven_level: Mapped[int | None] = mapped_column(Units())
    last_price: Mapped[int | None] = mapped_column(Units())
    exit_reason: Mapped[str | None] = mapped_column(String())
    exit_trigger: Mapped[int | None] = mapped_column(Units())
    exit_tick_price: Mapped[int | None] = mapped_column(Units())
    exit_tick_time: Mapped[int | None] = mapped_column(BigInteger())
    exit_attempt: Mapped[int] = mapped_column(Integer(), default=0)
    exit_intent_at: Mapped[int | None] = mapped_column(BigInteger())
    exit_order_id: Mapped[str | None] = mapped_column(String())
    exit_message: Mapped[str | None] = mapped_column(Text())
    exit_price: Mapped[int | None] = mapped_column(Units())
    realized_pnl: Mapped[int | None] = mapped_column(Units())
    closed_at: Mapped[int | None] = mapped_column(BigInteger())
    updated_at: Mapped[int] = mapped_column(BigInteger(), default=0)
    # Seed columns derived on write (never read back: best_price and rules are the truth).
    highest_price: Mapped[int | None] = mapped_column(Units())  # best_price of a LONG
    lowest_price: Mapped[int | None] = mapped_column(Units())  # best_price of a SHORT
    trailing_stop_loss: Mapped[bool] = mapped_column(default=False)  # rules has "trailing"
    trailing_stop_type: Mapped[str | None] = mapped_column(String())
    trailing_stop_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())


# Every column of the seed's active_trades table -> the `trades` column that holds it.
SEED_TRADE_COLUMNS: dict[str, str] = {
    "id": "trade_id",
    "user_id": "account",
    "strategy_id": "strategy_id",
    "order_id": "entry_order_id",
    "symbol": "symbol",
    "exchange": "exchange",
    "product_type": "product",
    "trade_type": "side",
    "entry_price": "entry_price",
    "quantity": "quantity",
    "stop_loss": "stop_loss",
    "target": "target",
    "trailing_stop_loss": "trailing_stop_loss",
    "trailing_stop_value": "trailing_stop_value",
    "trailing_stop_type": "trailing_stop_type",
    "current_trailing_sl": "trailing_level",
    "highest_price": "highest_price",
    "lowest_price": "lowest_price",
    "current_ltp": "last_price",
    "last_sync": "updated_at",
    # Runtime only in the seed: every open trade's symbol is subscribed at start, so the
    # state column is what decides it.
    "websocket_subscribed": "state",
    "status": "state",
    "created_at": "entered_at",
    "updated_at": "updated_at",
    "closed_at": "closed_at",
    "exit_price": "exit_price",
    "exit_order_id": "exit_order_id",
    "pnl": "realized_pnl",
}


class ExitOrderRow(Base):
    """The exit-order ledger (migration 0004): one row per exit order we sent or meant to send
    (app.records.ExitOrderRecord). An order id is unique per account."""

    __tablename__ = "exit_orders"
    __table_args__ = (
        Index("ix_exit_orders_trade_id", "trade_id"),
        Index("ix_exit_orders_state", "state"),
        Index(
            "uq_exit_orders_account_order_id",
            "account",
            "order_id",
            unique=True,
            sqlite_where=text("order_id IS NOT NULL"),
            postgresql_where=text("order_id IS NOT NULL"),
        ),
    )

    exit_id: Mapped[str] = mapped_column(String(), primary_key=True)
    trade_id: Mapped[str] = mapped_column(String())
    account: Mapped[str] = mapped_column(String())
    symbol: Mapped[str] = mapped_column(String())
    exchange: Mapped[str] = mapped_column(String())
    product: Mapped[str] = mapped_column(String())
    side: Mapped[str] = mapped_column(String())
    quantity: Mapped[int] = mapped_column(BigInteger())
    tag: Mapped[str] = mapped_column(Text())
    state: Mapped[str] = mapped_column(String())
    intent_at: Mapped[int] = mapped_column(BigInteger())
    attempt: Mapped[int] = mapped_column(Integer(), default=1)
    reason: Mapped[str | None] = mapped_column(String())
    trigger: Mapped[int | None] = mapped_column(Units())
    tick_price: Mapped[int | None] = mapped_column(Units())
    tick_time: Mapped[int | None] = mapped_column(BigInteger())
    order_id: Mapped[str | None] = mapped_column(String())
    filled: Mapped[int] = mapped_column(BigInteger(), default=0)
    average_price: Mapped[int | None] = mapped_column(Units())
    submitted_at: Mapped[int | None] = mapped_column(BigInteger())
    acked_at: Mapped[int | None] = mapped_column(BigInteger())
    final_at: Mapped[int | None] = mapped_column(BigInteger())
    message: Mapped[str | None] = mapped_column(Text())
    updated_at: Mapped[int] = mapped_column(BigInteger(), default=0)
    pending_id: Mapped[str | None] = mapped_column(String())  # migration 0005 (semi-auto)


class AuditRow(Base):
    """Append-only: rows are inserted, never updated or deleted. `id` gives the order."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger())
    actor: Mapped[str] = mapped_column(String())
    action: Mapped[str] = mapped_column(String())
    subject: Mapped[str] = mapped_column(String(), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)


class JournalMarkRow(Base):
    """Migration 0003: the newest journal sequence number whose records are in the database,
    written in the same transaction as them (adapters/db/journal.py): start-up replays only
    journal entries after it, so no audit entry is written twice."""

    __tablename__ = "journal_marks"

    name: Mapped[str] = mapped_column(String(), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger())


metadata = Base.metadata
