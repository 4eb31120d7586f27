"""App layer: the rows the app hands to storage: full snapshots of trades and strategies, and
audit entries. Snapshot upserts are idempotent, so a queue of them can be replayed safely in
order after a database outage. Money fields are integer units (core.money); times epoch ns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """Every column of the seed's active_trades table, plus rules, levels and the exit intent."""

    trade_id: str
    account: str
    strategy_id: str
    entry_order_id: str | None
    symbol: str
    exchange: str
    product: str  # seed: product_type
    side: str  # seed: trade_type LONG/SHORT
    entry_price: int
    quantity: int
    tick_size: str
    lot_size: int
    rules: dict[str, Any]  # core.codec.rules_to_dict
    state: str  # seed: status
    entered_at: int
    best_price: int  # seed: highest_price (LONG) / lowest_price (SHORT)
    stop_loss: int | None  # effective stop level
    stop_reason: str | None
    target: int | None
    trailing_level: int | None  # seed: current_trailing_sl
    breakeven_level: int | None
    last_price: int | None  # seed: current_ltp
    exit_reason: str | None = None
    exit_trigger: int | None = None
    exit_tick_price: int | None = None
    exit_tick_time: int | None = None
    exit_attempt: int = 0
    exit_intent_at: int | None = None
    exit_order_id: str | None = None
    exit_message: str | None = None
    exit_price: int | None = None
    realized_pnl: int | None = None  # seed: pnl
    closed_at: int | None = None
    updated_at: int = 0


@dataclass(frozen=True, slots=True)
class StrategyRecord:
    """A strategy's risk configuration (core.codec.config_to_dict) and its live state."""

    strategy_id: str
    account: str
    name: str
    config: dict[str, Any]
    state: str
    halt_reason: str | None
    realized_pnl: int
    baseline: int
    peak_pnl: int  # seed: portfolio_highest_pnl
    trailing_level: int | None  # seed: portfolio_current_trailing_sl
    day: int  # IST day number the realized figure belongs to
    updated_at: int = 0


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One append-only audit entry: who did what to which subject, when, with details."""

    at: int
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account. `api_key_id` is the non-secret lookup prefix of its tradeguard API key, whose
    argon2 hash is `api_key_hash` (the key itself is never stored); `openalgo_key_encrypted` is
    its OpenAlgo API key, encrypted (SecretBox)."""

    account: str
    api_key_hash: str | None = None
    openalgo_key_encrypted: str | None = None
    created_at: int = 0
    api_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A dashboard user of one account: argon2 password hash and login lockout state."""

    username: str
    account: str
    password_hash: str
    failed_logins: int = 0
    locked_until: int | None = None  # epoch ns
    created_at: int = 0
    updated_at: int = 0


Record = TradeRecord | StrategyRecord | AuditRecord | AccountRecord | UserRecord


@dataclass(frozen=True, slots=True)
class LoadedState:
    """What start-up reads: strategies, and trades that are ACTIVE, EXITING or EXIT_FAILED."""

    strategies: list[StrategyRecord]
    trades: list[TradeRecord]
