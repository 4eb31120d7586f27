"""App layer: the rows the app hands to storage: full snapshots of trades and strategies, and
audit entries. Snapshot upserts are idempotent, so a queue of them can be replayed safely in
order after a database outage. Money fields are integer units (core.money); times epoch ns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(slots=True)
class TradeRecord:
    """Every column of the seed's active_trades table, plus rules, levels and the exit intent.

    Treat it as immutable (build a new one with `dataclasses.replace`); it is not declared
    frozen because a frozen dataclass pays an `object.__setattr__` per field: about 10 us per
    record against 1 us, on the exit path (three snapshots per exit) and on every restart
    (one per open trade)."""

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
class HistoryQuery:
    """Which closed trades a history read returns (every field optional, all must match):
    closed in [closed_from, closed_until) (epoch ns), of one strategy id, one symbol, one exit
    reason ("CLOSED_EXTERNALLY": closed externally with no exit reason of ours)."""

    closed_from: int | None = None
    closed_until: int | None = None
    strategy_id: str | None = None
    symbol: str | None = None
    reason: str | None = None

    def matches(self, record: TradeRecord) -> bool:
        """The same test as the database query, for records still queued for it."""
        closed = record.closed_at or 0
        return (
            (self.closed_from is None or closed >= self.closed_from)
            and (self.closed_until is None or closed < self.closed_until)
            and (self.strategy_id is None or record.strategy_id == self.strategy_id)
            and (self.symbol is None or record.symbol == self.symbol)
            and (self.reason is None or reason_of(record) == self.reason)
        )


EXTERNAL = "CLOSED_EXTERNALLY"


def reason_of(record: TradeRecord) -> str:
    """Why a closed trade closed: its exit reason, or CLOSED_EXTERNALLY when it has none."""
    return record.exit_reason or EXTERNAL


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
class AuditQuery:
    """Which audit entries to read for one account (the audit-log view): those about its
    trades and strategies, of one trade or one strategy (its own entries and its trades'),
    older than entry id `before` (the previous page's last), newest first."""

    account: str
    trade_id: str | None = None
    strategy_id: str | None = None
    before: int | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audit entry as stored, with its id (the page cursor)."""

    id: int
    record: AuditRecord


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


@dataclass(slots=True)
class TradeProgress:
    """The fast-moving fields of an open trade, as the periodic flush writes them: a narrow
    update of a row that a full TradeRecord wrote before (lifecycle changes are always written
    through as full snapshots). A newer full TradeRecord of the trade supersedes it; a newer
    TradeProgress applies on top of an older full record.

    Treat it as immutable, like TradeRecord (and not frozen for the same reason: the flush
    builds up to one per open trade every second)."""

    trade_id: str
    long: bool  # the seed's highest_price (LONG) / lowest_price (SHORT) follow best_price
    best_price: int
    stop_loss: int | None
    stop_reason: str | None
    target: int | None
    trailing_level: int | None
    breakeven_level: int | None
    last_price: int | None
    updated_at: int

    def apply(self, record: TradeRecord) -> TradeRecord:
        """`record` with these fields moved on (for reads that see queued writes)."""
        return replace(
            record,
            best_price=self.best_price,
            stop_loss=self.stop_loss,
            stop_reason=self.stop_reason,
            target=self.target,
            trailing_level=self.trailing_level,
            breakeven_level=self.breakeven_level,
            last_price=self.last_price,
            updated_at=self.updated_at,
        )


@dataclass(slots=True)
class ExitOrderRecord:
    """One row of the exit-order ledger (core.exit_order.ExitOrder): a full, idempotent
    snapshot keyed by `exit_id`. An intent is a row with no order id, written before the order
    goes out. Treat it as immutable, like TradeRecord."""

    exit_id: str
    trade_id: str
    account: str
    symbol: str
    exchange: str
    product: str
    side: str  # the order's action, BUY / SELL
    quantity: int
    tag: str
    state: str  # core.exit_order.ExitOrderState
    intent_at: int
    attempt: int = 1
    reason: str | None = None
    trigger: int | None = None
    tick_price: int | None = None
    tick_time: int | None = None
    order_id: str | None = None
    filled: int = 0
    average_price: int | None = None
    submitted_at: int | None = None
    acked_at: int | None = None
    final_at: int | None = None
    message: str | None = None
    updated_at: int = 0
    pending_id: str | None = None  # OpenAlgo's pending_order_id (QUEUED_FOR_APPROVAL)


Record = (
    TradeRecord
    | TradeProgress
    | StrategyRecord
    | AuditRecord
    | AccountRecord
    | UserRecord
    | ExitOrderRecord
)


@dataclass(frozen=True, slots=True)
class LoadedState:
    """What start-up reads: strategies, trades that are ACTIVE, EXITING or EXIT_FAILED, the
    exit orders that are not final (any trade), and the order ids of every exit row ever
    written (none of them may be adopted by another trade)."""

    strategies: list[StrategyRecord]
    trades: list[TradeRecord]
    exit_orders: list[ExitOrderRecord] = field(default_factory=list)
    claimed_order_ids: frozenset[str] = frozenset()
