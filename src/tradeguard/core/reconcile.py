"""Core layer: reconciliation. Compare our open trades with the broker's books; decide fixes.

Pure and deterministic: `reconcile(trades, positions, orders, now)` returns one list of
`Correction`s, applied in order by the app layer (start-up recovery and feed reconnects).

Per trade, first its latest exit order (from the exit-order ledger):
- an exit order id is known: `complete` -> CLOSE at the order's average price; `rejected` /
  `cancelled` -> REOPEN (EXITING only; an EXIT_FAILED trade already waits for a person);
  still working -> KEEP_TRACKING; not in the order book -> decided by the position below.
- EXITING without an order id (we crashed between the intent and the reply, or the reply was
  lost): the candidates are the orders on the same symbol/exchange/product with the exit
  action and the exit quantity, placed at or after the intent (at the broker's whole-second
  resolution: no tolerance backwards), whose order id no ledger row of any trade in any state
  and no trade's entry claims (`claimed`). Exactly one -> ADOPT it, followed by what its
  status means. None -> REOPEN (never placed, safe to evaluate again). Two or more, or one
  whose time cannot be read -> UNRESOLVED: never guessed; the trade stays EXITING, shown as
  "exit unresolved" and alerted, until the order updates or a person settle it.
- EXITING whose latest exit order was ABANDONED (it never reached the broker) -> REOPEN.

Then the position. Trades on one symbol/exchange/product share the broker's one net position,
so it is allocated across them. Trades being closed by a complete order hold nothing; trades
with a working exit (or in flight in the executor) are "pending": a shortfall up to their
quantity is explained by their exit and changes nothing else. Otherwise, per direction:

- the broker net is compared with what our trades expect (`sum(sign * qty)`); when it is
  smaller in one direction, that direction's capacity is the net plus the opposite direction's
  quantity (which we assume intact: a netting broker cannot tell them apart);
- capacity is handed to the NEWEST trades first (by entry time, then trade id): an outside
  reduction is assumed to have consumed the oldest lots, as brokers match FIFO. A trade that
  gets nothing is CLOSED_EXTERNALLY, one that gets part of its quantity is ADJUST_QUANTITY.
- a broker net larger than ours (someone added) never touches our trades.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from tradeguard.core.broker import OrderReport, OrderStatus, PositionReport
from tradeguard.core.exit_order import ExitOrderState
from tradeguard.core.model import Side, TradeState
from tradeguard.core.money import fmt
from tradeguard.core.timeutil import NS_PER_SECOND

_IST = timezone(timedelta(hours=5, minutes=30))
_TIME_FORMATS = (
    "%d-%b-%Y %H:%M:%S",  # OpenAlgo live: 28-Aug-2025 09:59:10
    "%Y-%m-%d %H:%M:%S",  # sandbox
    "%d-%m-%Y %H:%M:%S",
    "%H:%M:%S %d-%m-%Y",
    "%Y-%m-%dT%H:%M:%S",
)
_WORKING = frozenset({OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING})


class CorrectionKind(StrEnum):
    CLOSE = "CLOSE"
    REOPEN = "REOPEN"
    ADOPT = "ADOPT"
    KEEP_TRACKING = "KEEP_TRACKING"
    UNRESOLVED = "UNRESOLVED"
    CLOSED_EXTERNALLY = "CLOSED_EXTERNALLY"
    ADJUST_QUANTITY = "ADJUST_QUANTITY"


@dataclass(frozen=True, slots=True)
class TradeSnapshot:
    """What reconciliation needs to know about one open trade."""

    trade_id: str
    symbol: str
    exchange: str
    product: str
    side: Side
    quantity: int
    state: TradeState
    entered_at: int = 0
    entry_order_id: str | None = None
    exit_order_id: str | None = None
    exit_intent_at: int | None = None
    exit_quantity: int | None = None  # None: the open quantity
    exit_state: ExitOrderState | None = None  # of the latest exit order (None: none yet)
    in_flight: bool = False  # the executor is handling this exit right now: do not touch

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.symbol, self.exchange, self.product)


@dataclass(frozen=True, slots=True)
class Correction:
    """One fix to apply to one trade. `price` is the fill price (CLOSE; None when the broker
    gave none), `quantity` the new open quantity (ADJUST_QUANTITY) or the filled quantity
    (CLOSE), `order_id` the exit order concerned."""

    trade_id: str
    kind: CorrectionKind
    summary: str
    order_id: str | None = None
    price: int | None = None
    quantity: int | None = None
    status: OrderStatus | None = None


@dataclass(slots=True)
class _Plan:
    trade: TradeSnapshot
    corrections: list[Correction] = field(default_factory=list)
    holds: bool = True  # still holds its quantity at the broker, as far as orders tell
    pending: bool = False  # a working exit explains a shortfall up to its quantity
    missing: bool = False  # its exit order id is not in the order book (an earlier session?)


def parse_broker_time(text: str) -> int | None:
    """Epoch ns of an order-book timestamp (naive times are IST); None when unparseable."""
    raw = text.strip()
    if not raw:
        return None
    if raw.isdigit():  # epoch seconds or milliseconds
        value = int(raw)
        return value * 1_000_000 if value > 10**11 else value * NS_PER_SECOND
    for pattern in _TIME_FORMATS:
        try:
            parsed = datetime.strptime(raw, pattern).replace(tzinfo=_IST)
        except ValueError:
            continue
        return _to_ns(parsed)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_IST)
    return _to_ns(parsed)


def _to_ns(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1_000


def matches_exit(
    order: OrderReport, trade: TradeSnapshot, quantity: int, intent_at: int | None
) -> bool | None:
    """Could `order` be the exit placed for `trade`'s intent? (No client order id exists.)
    True / False; None when it matches but for a time that cannot be read (a doubt)."""
    if (order.symbol, order.exchange, order.product) != trade.key:
        return False
    if order.action.upper() != trade.side.exit_action or order.quantity != quantity:
        return False
    if intent_at is None:
        return True
    placed = parse_broker_time(order.timestamp)
    if placed is None:
        return None
    # Broker times are whole seconds: "at or after the intent" at that resolution.
    return placed >= intent_at - intent_at % NS_PER_SECOND


def exit_candidates(
    orders: Iterable[OrderReport],
    trade: TradeSnapshot,
    quantity: int,
    intent_at: int | None,
    claimed: Collection[str],
) -> tuple[OrderReport | None, int]:
    """(the one unclaimed order that matches an exit intent, or None; how many could).
    A count above 1 (or 1 with no order: its time is unreadable) is ambiguous."""
    sure: list[OrderReport] = []
    doubtful = 0
    for order in orders:
        if order.order_id in claimed:
            continue
        match = matches_exit(order, trade, quantity, intent_at)
        if match:
            sure.append(order)
        elif match is None:
            doubtful += 1
    count = len(sure) + doubtful
    return (sure[0] if count == 1 and sure else None), count


def find_exit_order(
    orders: Iterable[OrderReport],
    trade: TradeSnapshot,
    quantity: int,
    intent_at: int | None,
    claimed: Collection[str],
) -> OrderReport | None:
    """The one unclaimed order matching an exit intent; None when none or several do."""
    return exit_candidates(orders, trade, quantity, intent_at, claimed)[0]


def reconcile(
    trades: Sequence[TradeSnapshot],
    positions: Sequence[PositionReport],
    orders: Sequence[OrderReport],
    now: int,
    claimed: Collection[str] = (),
) -> list[Correction]:
    """Decide every correction; see the module docstring for the rules. `claimed`: every
    order id the exit-order ledger has ever seen (any trade, any state), never adopted."""
    del now  # decisions depend only on the books; kept for the audit trail's symmetry
    by_id = {o.order_id: o for o in orders}
    taken = set(claimed)
    taken |= {t.exit_order_id for t in trades if t.exit_order_id}
    taken |= {t.entry_order_id for t in trades if t.entry_order_id}
    ordered = sorted(trades, key=lambda t: (t.exit_intent_at or 0, t.entered_at, t.trade_id))
    plans = {t.trade_id: _plan_orders(t, by_id, orders, taken) for t in ordered}
    nets: dict[tuple[str, str, str], int] = {}
    for p in positions:
        key = (p.symbol, p.exchange, p.product)
        nets[key] = nets.get(key, 0) + p.quantity
    groups: dict[tuple[str, str, str], list[_Plan]] = {}
    for trade in trades:
        groups.setdefault(trade.key, []).append(plans[trade.trade_id])
    for key in sorted(groups):
        _allocate(groups[key], nets.get(key, 0))
    for plan in plans.values():
        if plan.missing and not plan.corrections:
            tid = plan.trade.trade_id
            plan.corrections.append(
                Correction(
                    tid,
                    CorrectionKind.REOPEN,
                    f"{tid}: exit order {plan.trade.exit_order_id} is not in the broker's order "
                    "book and the position is still there; evaluate again",
                    order_id=plan.trade.exit_order_id,
                )
            )
    return [c for t in ordered for c in plans[t.trade_id].corrections]


def _plan_orders(
    trade: TradeSnapshot,
    by_id: dict[str, OrderReport],
    orders: Sequence[OrderReport],
    claimed: set[str],
) -> _Plan:
    plan = _Plan(trade)
    if trade.in_flight:
        plan.pending = True
        return plan
    exit_qty = trade.exit_quantity or trade.quantity
    if trade.exit_order_id:
        order = by_id.get(trade.exit_order_id)
        if order is not None:
            _apply_status(plan, order)
        else:
            plan.missing = trade.state is TradeState.EXITING
        return plan
    # an exit queued for approval (semi-auto) waits like an unresolved one: once approved, its
    # order shows in the book and is adopted
    unresolved = trade.exit_state in (ExitOrderState.UNRESOLVED, ExitOrderState.QUEUED)
    if trade.state is TradeState.EXIT_FAILED and unresolved:
        # An exit left unresolved: its order may exist; it may explain a missing position,
        # and the one order the book now shows for it is adopted (nothing else changes).
        plan.pending = True
        order, count = exit_candidates(orders, trade, exit_qty, trade.exit_intent_at, claimed)
        if order is not None:
            _adopt(plan, order, claimed)
        return plan
    if trade.state is not TradeState.EXITING:
        return plan
    if trade.exit_state is ExitOrderState.ABANDONED:  # it never reached the broker
        order, count = None, 0
    else:
        order, count = exit_candidates(orders, trade, exit_qty, trade.exit_intent_at, claimed)
    if order is None and count:
        plan.pending = True  # it may have gone out: it may explain a missing position
        if trade.exit_state is not ExitOrderState.UNRESOLVED:  # said once, not every round
            plan.corrections.append(
                Correction(
                    trade.trade_id,
                    CorrectionKind.UNRESOLVED,
                    f"{trade.trade_id}: exit outcome unknown and {count} unclaimed orders "
                    f"could be it ({trade.side.exit_action} {exit_qty} {trade.symbol}); not "
                    "guessed: exit unresolved, waiting for the order book or a person",
                )
            )
        return plan
    if order is None:
        plan.corrections.append(
            Correction(
                trade.trade_id,
                CorrectionKind.REOPEN,
                f"{trade.trade_id}: exit intent without an order at the broker; not placed, "
                "evaluate again",
            )
        )
        return plan
    _adopt(plan, order, claimed)
    return plan


def _adopt(plan: _Plan, order: OrderReport, claimed: set[str]) -> None:
    trade = plan.trade
    claimed.add(order.order_id)
    plan.corrections.append(
        Correction(
            trade.trade_id,
            CorrectionKind.ADOPT,
            f"{trade.trade_id}: adopted exit order {order.order_id} ({order.action} "
            f"{order.quantity} {order.symbol}, {order.status})",
            order_id=order.order_id,
            status=order.status,
        )
    )
    _apply_status(plan, order)


def _apply_status(plan: _Plan, order: OrderReport) -> None:
    trade = plan.trade
    tid = trade.trade_id
    if order.status is OrderStatus.COMPLETE:
        filled = order.filled_quantity or order.quantity
        plan.holds = False
        plan.corrections.append(
            Correction(
                tid,
                CorrectionKind.CLOSE,
                f"{tid}: exit order {order.order_id} filled {filled} at {fmt(order.average_price)}",
                order_id=order.order_id,
                price=order.average_price,
                quantity=filled,
                status=order.status,
            )
        )
    elif order.status in _WORKING:
        plan.pending = True
        plan.corrections.append(
            Correction(
                tid,
                CorrectionKind.KEEP_TRACKING,
                f"{tid}: exit order {order.order_id} still {order.status}",
                order_id=order.order_id,
                status=order.status,
            )
        )
    elif trade.state is TradeState.EXITING:
        filled = order.filled_quantity or 0
        why = f" ({order.rejection_reason})" if order.rejection_reason else ""
        plan.corrections.append(
            Correction(
                tid,
                CorrectionKind.REOPEN,
                f"{tid}: exit order {order.order_id} {order.status}{why}; evaluate again",
                order_id=order.order_id,
                quantity=filled if 0 < filled < trade.quantity else None,
                status=order.status,
            )
        )


def _allocate(plans: list[_Plan], net: int) -> None:
    holders = [p for p in plans if p.holds]
    longs = sum(p.trade.quantity for p in holders if p.trade.side is Side.LONG)
    shorts = sum(p.trade.quantity for p in holders if p.trade.side is Side.SHORT)
    expected = longs - shorts
    if net == expected:
        return
    # The direction that is short of quantity at the broker, and what it may still hold.
    if net < expected:
        side, capacity = Side.LONG, max(0, net + shorts)
    else:
        side, capacity = Side.SHORT, max(0, longs - net)
    mine = [p for p in holders if p.trade.side is side]
    pending = sum(p.trade.quantity for p in mine if p.pending)
    total = sum(p.trade.quantity for p in mine)
    if total - pending <= capacity:
        return  # working exits explain the shortfall
    rest = capacity
    for plan in sorted(
        (p for p in mine if not p.pending),
        key=lambda p: (p.trade.entered_at, p.trade.trade_id),
        reverse=True,
    ):
        trade = plan.trade
        keep = min(trade.quantity, rest)
        rest -= keep
        if keep == trade.quantity:
            continue
        if keep == 0:
            plan.corrections.append(
                Correction(
                    trade.trade_id,
                    CorrectionKind.CLOSED_EXTERNALLY,
                    f"{trade.trade_id}: {trade.side} {trade.quantity} {trade.symbol} gone at "
                    f"the broker (net {net}); closed externally",
                    quantity=0,
                )
            )
        else:
            plan.corrections.append(
                Correction(
                    trade.trade_id,
                    CorrectionKind.ADJUST_QUANTITY,
                    f"{trade.trade_id}: broker holds only {keep} of {trade.quantity} "
                    f"{trade.symbol} (net {net}); quantity adjusted",
                    quantity=keep,
                )
            )
