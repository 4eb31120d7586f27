"""Core layer: the exit-order ledger. One `ExitOrder` per order we send (or intend to send) to
close a trade, with an explicit state machine, and `ExitLedger`, the collection of them that
caps, reconciliation and recovery read: the single source of truth for what we have sent.

States (`ExitOrderState`), one transition table (`EXIT_TRANSITIONS`); an illegal move raises:

    INTENT ──► SUBMITTED_UNKNOWN ──► WORKING ──► PARTLY_FILLED ──► FILLED
      │              │    │            │  │           │  │
      │              │    └► UNRESOLVED┘  └► REJECTED ◄┘  └► CANCELLED (rest unfilled)
      └► ABANDONED   └► (an order report: any of WORKING / PARTLY_FILLED / final)
    (also: INTENT -> UNRESOLVED after a crash; INTENT -> a reported state when the reply
    comes; SUBMITTED_UNKNOWN / UNRESOLVED -> ABANDONED when nothing was placed after all;
    SUBMITTED_UNKNOWN -> QUEUED_FOR_APPROVAL -> a reported state (approved: its order adopted)
    or ABANDONED (the trader rejected it))

INTENT: committed before the order goes out, no order id yet. SUBMITTED_UNKNOWN: sent, the
reply was lost (timeout, 5xx): an order may exist. WORKING / PARTLY_FILLED: the broker has it.
FILLED / REJECTED / CANCELLED: final, absorbing. ABANDONED: never reached the broker (a wait
ran out, the position was gone, nothing placed). UNRESOLVED: the outcome is unknown and could
not be matched to an order (or several matched): a person or a later order report settles it
(a report moves it on like SUBMITTED_UNKNOWN). QUEUED_FOR_APPROVAL: OpenAlgo in semi-auto mode
queued it in its Action Center (`pending_id`, no order id): it may still be approved and fill,
so it counts on its key like a working order until its order is adopted or the trader says it
was rejected.

Fills come as cumulative filled quantities (order reports) or as individual fills keyed by their
trade id; both are idempotent: a report with the same or a lower filled quantity changes
nothing, a fill already seen changes nothing, and the filled quantity never goes down nor
exceeds the order's quantity. `remaining` is the unfilled part of a live order (0 when final):
what still may leave the position. Several orders may serve one exit (slices of a freeze
quantity): they share a trade id and are told apart by `exit_id`.

Pure: no clock, no ids of its own (`exit_id` and times are arguments).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from tradeguard.core.broker import OrderReport, OrderStatus

Key = tuple[str, str, str]  # symbol, exchange, product: one net position at the broker


class ExitOrderState(StrEnum):
    INTENT = "INTENT"
    SUBMITTED_UNKNOWN = "SUBMITTED_UNKNOWN"
    WORKING = "WORKING"
    PARTLY_FILLED = "PARTLY_FILLED"
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    ABANDONED = "ABANDONED"
    UNRESOLVED = "UNRESOLVED"
    QUEUED = "QUEUED_FOR_APPROVAL"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def may_fill(self) -> bool:
        """An order in this state may (still) take quantity off the position."""
        return self in _MAY_FILL


_FINAL = frozenset(
    {
        ExitOrderState.FILLED,
        ExitOrderState.REJECTED,
        ExitOrderState.CANCELLED,
        ExitOrderState.ABANDONED,
    }
)
_MAY_FILL = frozenset(
    {
        ExitOrderState.SUBMITTED_UNKNOWN,
        ExitOrderState.WORKING,
        ExitOrderState.PARTLY_FILLED,
        ExitOrderState.UNRESOLVED,
        ExitOrderState.QUEUED,
    }
)
_REPORTED = frozenset(
    {
        ExitOrderState.WORKING,
        ExitOrderState.PARTLY_FILLED,
        ExitOrderState.FILLED,
        ExitOrderState.REJECTED,
        ExitOrderState.CANCELLED,
    }
)

EXIT_TRANSITIONS: dict[ExitOrderState, frozenset[ExitOrderState]] = {
    ExitOrderState.INTENT: frozenset(
        {
            ExitOrderState.SUBMITTED_UNKNOWN,
            ExitOrderState.ABANDONED,
            # a committed intent read back after a crash may have gone out: recovery can
            # find it ambiguous in the order book
            ExitOrderState.UNRESOLVED,
            *_REPORTED,  # the reply came back with an order id (and maybe its fill already)
        }
    ),
    ExitOrderState.SUBMITTED_UNKNOWN: frozenset(
        {ExitOrderState.UNRESOLVED, ExitOrderState.ABANDONED, ExitOrderState.QUEUED, *_REPORTED}
    ),
    ExitOrderState.UNRESOLVED: frozenset({ExitOrderState.ABANDONED, *_REPORTED}),
    # approved in the Action Center: its order is adopted (a report); rejected: abandoned
    ExitOrderState.QUEUED: frozenset({ExitOrderState.ABANDONED, *_REPORTED}),
    ExitOrderState.WORKING: frozenset(_REPORTED),
    ExitOrderState.PARTLY_FILLED: frozenset(_REPORTED - {ExitOrderState.WORKING}),
    ExitOrderState.FILLED: frozenset(),
    ExitOrderState.REJECTED: frozenset(),
    ExitOrderState.CANCELLED: frozenset(),
    ExitOrderState.ABANDONED: frozenset(),
}


class IllegalExitTransition(RuntimeError):
    """An exit-order state change the transition table does not allow: a bug, never data."""


class LedgerError(ValueError):
    """A ledger operation that contradicts what the ledger holds (a duplicate order id...)."""


@dataclass(slots=True)
class ExitOrder:
    """One exit order of ours. Mutable; owned by one ExitLedger. Money in integer units."""

    exit_id: str
    trade_id: str
    account: str
    key: Key
    side: str  # the order's action: "SELL" closes a LONG, "BUY" a SHORT
    quantity: int
    tag: str
    intent_at: int
    attempt: int = 1
    reason: str | None = None
    trigger: int | None = None  # the level that fired (a price, or a P&L amount)
    tick_price: int | None = None  # the price that fired it, and its time
    tick_time: int | None = None
    state: ExitOrderState = ExitOrderState.INTENT
    order_id: str | None = None
    filled: int = 0
    average_price: int | None = None
    submitted_at: int | None = None
    acked_at: int | None = None
    final_at: int | None = None
    message: str | None = None
    pending_id: str | None = None  # OpenAlgo's pending_order_id (semi-auto: queued)
    _fills: set[str] = field(default_factory=set, repr=False)
    _fill_value: int = field(default=0, repr=False)  # sum(price * qty) of keyed fills

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise LedgerError(f"exit {self.exit_id}: quantity must be positive")
        if self.side not in ("BUY", "SELL"):
            raise LedgerError(f"exit {self.exit_id}: side must be BUY or SELL, was {self.side}")

    # -- reading --------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """The unfilled quantity that may still leave the position (0 once final)."""
        if not self.state.may_fill:
            return 0
        return self.quantity - self.filled

    @property
    def signed_remaining(self) -> int:
        """`remaining` as a change of the net position (a SELL takes quantity off: negative)."""
        return -self.remaining if self.side == "SELL" else self.remaining

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @property
    def live(self) -> bool:
        """Sent (or about to be) and not final: the trade's exit is in the broker's hands."""
        return not self.state.is_final

    # -- transitions ----------------------------------------------------------------------

    def move(self, new: ExitOrderState, now: int, message: str | None = None) -> None:
        """Change state through the table; the same state again is a no-op."""
        if new is self.state:
            if message is not None:
                self.message = message
            return
        if new not in EXIT_TRANSITIONS[self.state]:
            raise IllegalExitTransition(f"exit {self.exit_id}: {self.state} -> {new}")
        self.state = new
        if new.is_final:
            self.final_at = now
        if message is not None:
            self.message = message

    def submitted(self, now: int) -> None:
        """The request is going out: until its reply, its outcome is unknown."""
        self.move(ExitOrderState.SUBMITTED_UNKNOWN, now)
        self.submitted_at = now

    def acknowledged(self, order_id: str, now: int) -> None:
        """The broker answered with an order id: the order is working."""
        self.assign(order_id)
        self.acked_at = now
        if self.state in (
            ExitOrderState.INTENT,
            ExitOrderState.SUBMITTED_UNKNOWN,
            ExitOrderState.UNRESOLVED,
            ExitOrderState.QUEUED,
        ):
            self.move(ExitOrderState.WORKING, now)

    def assign(self, order_id: str) -> None:
        if self.order_id is not None and self.order_id != order_id:
            raise LedgerError(f"exit {self.exit_id} is order {self.order_id}, not {order_id}")
        self.order_id = order_id

    def resize(self, quantity: int) -> None:
        """The quantity to send, cut before it was sent (a smaller position at the broker)."""
        if self.state not in (ExitOrderState.INTENT, ExitOrderState.SUBMITTED_UNKNOWN):
            raise LedgerError(f"exit {self.exit_id} is {self.state}: its quantity is fixed")
        if not 0 < quantity <= self.quantity:
            raise LedgerError(f"exit {self.exit_id}: new quantity {quantity} out of range")
        self.quantity = quantity

    def abandon(self, now: int, message: str) -> None:
        """Never reached the broker (nothing placed)."""
        self.move(ExitOrderState.ABANDONED, now, message)

    def unresolved(self, now: int, message: str) -> None:
        self.move(ExitOrderState.UNRESOLVED, now, message)

    def queued(self, pending_id: str | None, now: int, message: str) -> None:
        """Accepted without an order id, queued for the trader's approval (semi-auto)."""
        self.move(ExitOrderState.QUEUED, now, message)
        self.pending_id = pending_id

    def apply_report(self, report: OrderReport, now: int) -> bool:
        """An order report (status, book, update stream) of this order. Late, duplicate or
        out-of-order reports change nothing: the filled quantity only grows, a final state
        stays. True when something changed."""
        if self.order_id is None:
            self.assign(report.order_id)
        elif report.order_id != self.order_id:
            raise LedgerError(f"report of {report.order_id} applied to exit {self.exit_id}")
        if self.state.is_final:
            return False
        before = (self.state, self.filled, self.average_price)
        filled = report.filled_quantity
        if filled is None:
            filled = report.quantity if report.status is OrderStatus.COMPLETE else 0
        filled = min(max(filled, 0), self.quantity)
        if filled > self.filled:
            self.filled = filled
            if report.average_price:
                self.average_price = report.average_price
        elif report.status is OrderStatus.COMPLETE and report.average_price:
            self.average_price = self.average_price or report.average_price
        status = report.status
        if status is OrderStatus.COMPLETE:
            self.filled = self.quantity  # complete: all of it, whatever an earlier report said
            new = ExitOrderState.FILLED
        elif status is OrderStatus.REJECTED:
            new = ExitOrderState.REJECTED
        elif status is OrderStatus.CANCELLED:
            new = ExitOrderState.CANCELLED
        elif self.filled > 0:
            new = ExitOrderState.PARTLY_FILLED
        else:
            new = (
                ExitOrderState.PARTLY_FILLED
                if self.state is ExitOrderState.PARTLY_FILLED
                else ExitOrderState.WORKING
            )
        self.move(new, now, report.rejection_reason or None)
        return (self.state, self.filled, self.average_price) != before

    def apply_fill(self, fill_id: str, quantity: int, price: int, now: int) -> bool:
        """One fill (trade-book row) of this order, keyed by its trade id: a fill seen before
        changes nothing. A fill completing the quantity makes the order FILLED."""
        if fill_id in self._fills or self.state.is_final or quantity <= 0:
            return False
        self._fills.add(fill_id)
        take = min(quantity, self.quantity - self.filled)
        if take <= 0:
            return False
        self._fill_value += take * price
        self.filled += take
        self.average_price = round(self._fill_value / self.filled)
        full = self.filled >= self.quantity
        self.move(ExitOrderState.FILLED if full else ExitOrderState.PARTLY_FILLED, now)
        return True


class ExitLedger:
    """Every exit order we know of, with lookups by exit id, order id, trade and key."""

    def __init__(self, orders: Iterable[ExitOrder] = (), claimed: Iterable[str] = ()) -> None:
        self._rows: dict[str, ExitOrder] = {}
        self._by_order: dict[str, ExitOrder] = {}
        self._by_trade: dict[str, list[ExitOrder]] = {}
        self._by_key: dict[Key, list[ExitOrder]] = {}
        # Order ids of rows no longer held in memory (final rows of closed trades, loaded at
        # start-up only as ids): still never adopted by anybody.
        self._claimed: set[str] = set(claimed)
        for order in orders:
            self.add(order)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[ExitOrder]:
        return iter(self._rows.values())

    def add(self, order: ExitOrder) -> ExitOrder:
        if order.exit_id in self._rows:
            raise LedgerError(f"exit {order.exit_id} is already in the ledger")
        self._rows[order.exit_id] = order
        self._by_trade.setdefault(order.trade_id, []).append(order)
        self._by_key.setdefault(order.key, []).append(order)
        if order.order_id is not None:
            self.bind(order, order.order_id)
        return order

    def bind(self, order: ExitOrder, order_id: str) -> None:
        """`order` is broker order `order_id` (the reply, or an adopted order)."""
        owner = self._by_order.get(order_id)
        if owner is not None and owner is not order:
            raise LedgerError(
                f"order {order_id} already belongs to exit {owner.exit_id} ({owner.trade_id})"
            )
        order.assign(order_id)
        self._by_order[order_id] = order

    def get(self, exit_id: str) -> ExitOrder | None:
        return self._rows.get(exit_id)

    def by_order(self, order_id: str) -> ExitOrder | None:
        return self._by_order.get(order_id)

    def of_trade(self, trade_id: str) -> list[ExitOrder]:
        return list(self._by_trade.get(trade_id, ()))

    def latest(self, trade_id: str) -> ExitOrder | None:
        rows = self._by_trade.get(trade_id)
        return rows[-1] if rows else None

    def on_key(self, key: Key) -> list[ExitOrder]:
        return list(self._by_key.get(key, ()))

    def live_on_key(self, key: Key) -> list[ExitOrder]:
        """Our exits on `key` that may still fill."""
        return [o for o in self._by_key.get(key, ()) if o.remaining]

    def reserved(self, key: Key) -> int:
        """The signed unfilled remainder of our exits on `key` that may still fill: what will
        still leave the broker's net when they fill (a fill already in it is not counted)."""
        return sum(o.signed_remaining for o in self._by_key.get(key, ()))

    def working(self, key: Key) -> int:
        """How many of our exits on `key` may still fill."""
        return sum(1 for o in self._by_key.get(key, ()) if o.remaining)

    def next_id(self, trade_id: str) -> str:
        """A fresh exit id for the trade's next order."""
        return f"{trade_id}:x{len(self._by_trade.get(trade_id, ())) + 1}"

    def claim(self, order_ids: Iterable[str]) -> None:
        """Order ids of rows not held in memory (read at start-up): never adopted."""
        self._claimed.update(order_ids)

    def claimed_order_ids(self) -> set[str]:
        """Every order id any exit row has ever had (any trade, any state)."""
        return set(self._by_order) | self._claimed

    def claims(self, order_id: str) -> bool:
        return order_id in self._by_order or order_id in self._claimed

    def forget_trade(self, trade_id: str) -> None:
        """Drop a closed trade's final rows from memory; their order ids stay claimed. Rows
        that may still fill stay (they still count on their key)."""
        rows = self._by_trade.pop(trade_id, [])
        keep = [o for o in rows if o.live]
        if keep:
            self._by_trade[trade_id] = keep
        for order in rows:
            if order.live:
                continue
            self._rows.pop(order.exit_id, None)
            on_key = self._by_key.get(order.key)
            if on_key is not None:
                on_key.remove(order)
                if not on_key:
                    del self._by_key[order.key]
            if order.order_id is not None:
                self._by_order.pop(order.order_id, None)
                self._claimed.add(order.order_id)
