"""Core layer: what a broker tells us, as plain values, and how a broker call can fail.

Adapters parse wire shapes (OpenAlgo JSON, paper-broker state) into these types at the edge.
Failures are classified, because an exit's next step depends on it: a *rejection* is final, a
*retryable* error never placed anything, an *unknown outcome* may have placed an order and must
be resolved from the order book before anything is resent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class OrderStatus(StrEnum):
    OPEN = "open"
    TRIGGER_PENDING = "trigger pending"
    COMPLETE = "complete"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.COMPLETE, OrderStatus.REJECTED, OrderStatus.CANCELLED)

    @classmethod
    def parse(cls, raw: object) -> OrderStatus:
        """OpenAlgo statuses; anything unknown (broker extras, intermediate states) is OPEN,
        except `expired`, which ends an order without a fill like a cancellation."""
        text = str(raw).strip().lower()
        if text == "expired":
            return cls.CANCELLED
        try:
            return cls(text)
        except ValueError:
            return cls.OPEN


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A MARKET/LIMIT order as OpenAlgo's placeorder takes it. Prices in integer units."""

    symbol: str
    exchange: str
    action: str  # "BUY" | "SELL"
    quantity: int
    product: str
    strategy: str
    pricetype: str = "MARKET"
    price: int = 0
    trigger_price: int = 0


@dataclass(frozen=True, slots=True)
class SmartOrderRequest:
    """placesmartorder: reach `position_size` (signed) on symbol/exchange/product."""

    symbol: str
    exchange: str
    action: str
    quantity: int
    position_size: int
    product: str
    strategy: str
    pricetype: str = "MARKET"


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """An accepted placement. `order_id` None means nothing was placed (smart order no-op)."""

    order_id: str | None
    message: str = ""


@dataclass(frozen=True, slots=True)
class OrderReport:
    """One order as the broker reports it (order book, order status or order-update event)."""

    order_id: str
    symbol: str
    exchange: str
    action: str
    quantity: int
    product: str
    status: OrderStatus
    average_price: int | None = None  # units; None when unknown
    filled_quantity: int | None = None
    timestamp: str = ""
    rejection_reason: str = ""


@dataclass(frozen=True, slots=True)
class FillReport:
    """One trade-book row (one fill of an order)."""

    order_id: str
    symbol: str
    exchange: str
    action: str
    quantity: int
    product: str
    average_price: int
    timestamp: str = ""


@dataclass(frozen=True, slots=True)
class PositionReport:
    """Net position of the whole account on symbol/exchange/product (+ long, - short)."""

    symbol: str
    exchange: str
    product: str
    quantity: int
    average_price: int | None = None
    ltp: int | None = None


@dataclass(frozen=True, slots=True)
class Funds:
    """The account's funds (OpenAlgo `funds`), amounts in money units. In analyzer (sandbox)
    mode `mode` is "analyze" and the reply also says when the sandbox's funds were last reset
    (`last_reset`, OpenAlgo's naive IST "YYYY-MM-DD HH:MM:SS") and how often (`reset_count`);
    `extra` holds every other amount it carries (total_realized_pnl, grossexposure, ...)."""

    available_cash: int
    collateral: int
    m2m_realized: int
    m2m_unrealized: int
    utilised_debits: int
    mode: str = "live"
    last_reset: str | None = None
    reset_count: int | None = None
    extra: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    symbol: str
    exchange: str
    tick_size: str
    lot_size: int


class BrokerError(Exception):
    """Base of every broker failure. `detail` carries the broker's text (never secrets)."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class RetryableError(BrokerError):
    """Nothing was placed or changed (connection refused, 429, 5xx on a read): try later."""


class RateLimited(RetryableError):
    """OpenAlgo answered 429: back off (the budget is shared with every client on the IP)."""


class SessionDown(RetryableError):
    """403: the broker session is missing or revoked (OpenAlgo's daily re-login)."""


class RejectedError(BrokerError):
    """Definitively refused (validation, broker rejection at placement). Final."""


class NotPlaced(BrokerError):
    """A success reply without an order id: OpenAlgo queued it (semi-auto) or did nothing."""


class Queued(NotPlaced):
    """OpenAlgo's semi-auto mode queued the order in its Action Center (`pending_order_id`):
    not placed now, but placed if the trader approves it there."""

    def __init__(self, message: str, *, pending_id: str | None, detail: str = "") -> None:
        super().__init__(message, status=200, detail=detail)
        self.pending_id = pending_id


class UnknownOutcome(BrokerError):
    """Timeout, disconnect or 5xx on a write: an order may exist. Resolve, never resend."""


class MalformedReply(BrokerError):
    """The reply could not be parsed into what the endpoint promises."""


class OrderNotFound(BrokerError):
    """orderstatus: the order id is not in the broker's order book."""
