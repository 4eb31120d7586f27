"""App layer: every outside dependency of the app, as a typing.Protocol.

Adapters implement these; the app never names a concrete adapter. Broker values and errors
are core types (core.broker); storage rows are app records (app.records).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, Protocol

from tradeguard.app.records import (
    AccountRecord,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    HistoryQuery,
    LoadedState,
    Record,
    TradeRecord,
    UserRecord,
)
from tradeguard.core.broker import (
    FillReport,
    OrderReport,
    OrderRequest,
    PlaceResult,
    PositionReport,
    SmartOrderRequest,
    SymbolInfo,
)
from tradeguard.core.model import Tick
from tradeguard.core.sessions import ExchangeSession


class Clock(Protocol):
    """Wall-clock time as epoch ns, and waiting. Tests inject a manual clock."""

    def now(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class BrokerGateway(Protocol):
    """The broker as OpenAlgo's REST API exposes it (OpenAlgo gateway or the paper broker).

    Every method raises a core.broker.BrokerError subclass on failure, classified as
    RetryableError / RateLimited / SessionDown / RejectedError / NotPlaced / UnknownOutcome /
    MalformedReply / OrderNotFound.
    """

    async def place_order(self, request: OrderRequest) -> PlaceResult: ...

    async def place_smart_order(self, request: SmartOrderRequest) -> PlaceResult: ...

    async def order_status(self, order_id: str, strategy: str) -> OrderReport: ...

    async def order_book(self) -> list[OrderReport]: ...

    async def trade_book(self) -> list[FillReport]: ...

    async def position_book(self) -> list[PositionReport]: ...

    async def open_position(self, symbol: str, exchange: str, product: str, strategy: str) -> int:
        """The account's signed net quantity on symbol/exchange/product (0 when none)."""
        ...

    async def quotes(self, symbols: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Last prices (units) by (symbol, exchange); symbols without a quote are absent."""
        ...

    async def symbol_info(
        self, symbol: str, exchange: str, *, reference_price: int | None = None
    ) -> SymbolInfo:
        """Tick and lot size. `reference_price` (units), when known, is a price the symbol
        trades near, against which an implausible tick size is refused."""
        ...

    async def ping(self) -> None: ...


TickHandler = Callable[[Tick], None]
OrderUpdateHandler = Callable[[OrderReport], None]


class MarketTimings(Protocol):
    """Where the exchanges' sessions of a date come from (OpenAlgo's `market/timings`).
    Raises a core.broker.BrokerError subclass on failure."""

    async def market_timings(self, day: date) -> list[ExchangeSession]:
        """Every session on the IST date `day`; an empty list on a weekend or holiday."""
        ...


class MarketFeed(Protocol):
    """Live ticks and order updates. Subscriptions are per symbol, reference-counted by the
    caller (subscribe once however many trades hold it). The feed reconnects by itself."""

    def set_handlers(self, on_tick: TickHandler, on_order: OrderUpdateHandler) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe(self, symbols: Sequence[tuple[str, str]]) -> None: ...

    async def unsubscribe(self, symbols: Sequence[tuple[str, str]]) -> None: ...

    @property
    def connected(self) -> bool: ...

    @property
    def reconnects(self) -> int:
        """How often the feed came back after a drop (re-authenticated and resubscribed):
        order updates sent meanwhile are lost, so each one calls for a reconciliation."""
        ...

    def last_tick_at(self, symbol: str, exchange: str) -> int | None:
        """Epoch ns of the last tick received for a symbol (staleness tracking)."""
        ...

    def stale_symbols(self, now_ns: int, threshold_s: float) -> list[tuple[str, str]]:
        """Subscribed symbols whose live stream has been silent for more than `threshold_s`
        (counted from their last streamed tick or their subscription, whichever is later): a
        symbol kept alive only by REST polling is still stale."""
        ...


class Store(Protocol):
    """Storage. `commit` writes records in one transaction, in order, after everything queued
    before them. It returns True once they are durable: committed, or (database unavailable)
    fsync'd to the write-ahead journal and queued to be written in order when it returns.
    False: neither could take them, and nothing was stored (a store without a journal keeps
    them queued instead). It raises when the database refuses one of them as data (the
    others are written)."""

    async def load(self) -> LoadedState: ...

    async def commit(self, records: Sequence[Record]) -> bool: ...

    async def trade(self, trade_id: str) -> TradeRecord | None: ...

    async def entry_trade(self, account: str, order_id: str) -> str | None:
        """The id of the trade (any state) of `account` whose entry order is `order_id`."""
        ...

    def refused_view(self) -> dict[str, Any]:
        """Records the database refused: `count`, and `records` (newest, with detail)."""
        ...

    async def history(
        self, account: str | None, limit: int, query: HistoryQuery | None = None
    ) -> list[TradeRecord]:
        """Closed trades (of `account`, or all) matching `query`, newest close first."""
        ...

    async def audit_page(self, query: AuditQuery) -> list[AuditEntry]:
        """The audit entries `query` asks for, newest first (entries still waiting for the
        database are not in it yet)."""
        ...

    @property
    def degraded(self) -> bool: ...

    @property
    def pending(self) -> int: ...

    async def close(self) -> None: ...


Sleeper = Callable[[float], Awaitable[None]]


class AlertSink(Protocol):
    """Where alerts go (log, dashboard toast, Telegram...). `level`: info/warning/error/critical.
    Must not block: called on the event loop from the exit path."""

    def alert(self, level: str, message: str, **detail: Any) -> None: ...


class EventSink(Protocol):
    """Live events for the dashboard: `topic` is level / strategy / exit / closed; `payload` a
    core decision value (LevelChange, StrategyChange, ExitDecision) or, for `closed`, the
    Trade that just left the book (CLOSED or CLOSED_EXTERNALLY). Never blocks."""

    def publish(self, topic: str, payload: object) -> None: ...


class KeyHasher(Protocol):
    """Slow, salted one-way hashing of API keys and passwords (argon2). `verify` compares in
    constant time and returns False (never raises) for a wrong secret or a malformed hash."""

    def hash(self, secret: str) -> str: ...

    def verify(self, hashed: str, secret: str) -> bool: ...


class SecretBox(Protocol):
    """Symmetric authenticated encryption of secrets at rest (the OpenAlgo API key).
    `decrypt` raises ValueError when the token was not made with this box's key."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str: ...


class AccountStore(Protocol):
    """The part of storage the account service uses (SqlStore implements it with Store)."""

    async def commit(self, records: Sequence[Record]) -> bool: ...

    async def accounts(self) -> list[AccountRecord]: ...

    async def users(self) -> list[UserRecord]: ...

    async def audit_entries(
        self, subject: str | None = None, limit: int = 1000
    ) -> list[AuditRecord]: ...
