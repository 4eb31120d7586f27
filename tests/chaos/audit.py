"""Chaos campaign: what the campaign did (entries, acknowledgements, its own holdings) and the
audit of tradeguard's promise against the simulator's books.

Ground truth is the simulator: every order with its `strategy` tag (`/sim/admin/orders`;
tradeguard tags each exit `tg:<strategy>:<reason>:<trade id>`, app.outcomes.exit_tag), the
trade book (fills in the order they happened) and the position book. tradeguard's side is its
database, read directly. Each symbol/product key is held in one direction only (LONG keys
only buy to enter, SHORT keys only sell), so any fill that takes a key's net to the other side
of zero was an exit of ours.

The checks, each a count that must be zero:
1. lost: a trade acknowledged (HTTP 200 with a trade id) that tradeguard no longer has;
2. double exits: an entry (one guarded position) sent more exit quantity than it holds,
   counting every live or filled exit order of every trade created from it;
3. nets crossed: fills that took a key's net past zero to the wrong side;
4. unguarded: at the end, quantity at the broker on a key beyond what open trades guard and
   the campaign's own unguarded holdings explain (manual orders, entries no trade took);
5. missed exits: a trade still ACTIVE although the price stood through its stop or target
   while tradeguard was up and healthy (see campaign.settle).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.lab import Database
from tests.recovery.procs import Sim

OPEN_STATES = ("ACTIVE", "EXITING")
DEAD_ORDER = ("rejected", "cancelled")


@dataclass(frozen=True)
class Key:
    """A symbol/product position, held in one direction (+1 LONG, -1 SHORT)."""

    symbol: str
    product: str
    direction: int

    @property
    def entry_action(self) -> str:
        return "BUY" if self.direction > 0 else "SELL"

    def __str__(self) -> str:
        return f"{self.symbol}/{self.product}/{'LONG' if self.direction > 0 else 'SHORT'}"


@dataclass
class Entry:
    """An entry order the campaign filled at the simulator, and what became of it."""

    order_id: str
    key: Key
    quantity: int
    acked: list[str] = field(default_factory=list)  # trade ids answered with 200
    tried: bool = False  # createtrade was called for it


@dataclass
class Books:
    """One reading of the simulator's books and tradeguard's trades table."""

    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    positions: dict[tuple[str, str], int]
    trades: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, sim: Sim, database: Database) -> Books:
        orders = sim.http.get("/sim/admin/orders").json()["data"]
        fills = sim.call("tradebook")["data"]
        positions: dict[tuple[str, str], int] = defaultdict(int)
        for row in sim.call("positionbook")["data"]:
            positions[(row["symbol"], row["product"])] += int(row["quantity"])
        trades = {r["trade_id"]: r for r in database.rows("SELECT * FROM trades")}
        return cls(orders, fills, dict(positions), trades)


@dataclass
class Ledger:
    """Everything the campaign did that the audit needs."""

    keys: list[Key]
    entries: dict[str, Entry] = field(default_factory=dict)
    manual: dict[Key, int] = field(default_factory=lambda: defaultdict(int))

    def key_of(self, symbol: str, product: str) -> Key | None:
        return next((k for k in self.keys if (k.symbol, k.product) == (symbol, product)), None)

    @property
    def acked(self) -> dict[str, Entry]:
        return {trade_id: e for e in self.entries.values() for trade_id in e.acked}


def exit_quantities(orders: list[dict[str, Any]]) -> dict[str, int]:
    """Exit quantity sent per trade id (live or filled orders tagged by tradeguard)."""
    sent: dict[str, int] = defaultdict(int)
    for order in orders:
        tag = str(order.get("strategy") or "")
        if tag.startswith("tg:") and order["order_status"] not in DEAD_ORDER:
            sent[tag.rsplit(":", 1)[-1]] += int(order["quantity"])
    return dict(sent)


@dataclass
class Findings:
    lost: list[str]
    double_exits: list[str]  # entry order ids
    nets_crossed: int
    unguarded: dict[str, int]  # key -> quantity no trade guards
    overguarded: dict[str, int]  # key -> quantity open trades claim that is not at the broker
    unattributed_exits: int  # exit quantity for trade ids neither acked nor in the database
    stuck_exiting: list[str]
    guarded_twice: list[str]  # entry order ids more than one trade was created from
    details: list[str]


def audit(ledger: Ledger, books: Books) -> Findings:
    acked = ledger.acked
    details = []
    lost = sorted(t for t in acked if t not in books.trades)
    for trade_id in lost:
        entry = acked[trade_id]
        details.append(f"lost {trade_id}: entry {entry.order_id} {entry.key} x{entry.quantity}")
    trade_entry = {t: e.order_id for t, e in acked.items()}
    for trade_id, row in books.trades.items():
        if row.get("entry_order_id") in ledger.entries:
            trade_entry.setdefault(trade_id, row["entry_order_id"])
    by_entry: dict[str, dict[str, int]] = defaultdict(dict)
    unattributed = 0
    for trade_id, quantity in exit_quantities(books.orders).items():
        if trade_id in trade_entry:
            by_entry[trade_entry[trade_id]][trade_id] = quantity
        else:
            unattributed += quantity
    double = sorted(
        e for e, sent in by_entry.items() if sum(sent.values()) > ledger.entries[e].quantity
    )
    for entry_id in double:
        entry = ledger.entries[entry_id]
        sent = ", ".join(
            f"{t} ({books.trades[t]['state'] if t in books.trades else 'lost'}) {q}"
            for t, q in by_entry[entry_id].items()
        )
        details.append(f"double exit: entry {entry_id} {entry.key} x{entry.quantity}: {sent}")
    unguarded, overguarded = guard_gaps(ledger, books, details)
    stuck = sorted(t for t, r in books.trades.items() if r["state"] == "EXITING")
    trades_of: dict[str, set[str]] = defaultdict(set)
    for trade_id, entry_id in trade_entry.items():
        trades_of[entry_id].add(trade_id)
    return Findings(
        lost=lost,
        double_exits=double,
        nets_crossed=crossings(ledger, books.fills),
        unguarded=unguarded,
        overguarded=overguarded,
        unattributed_exits=unattributed,
        stuck_exiting=stuck,
        guarded_twice=sorted(e for e, trades in trades_of.items() if len(trades) > 1),
        details=details,
    )


def crossings(ledger: Ledger, fills: list[dict[str, Any]]) -> int:
    """Fills (in the trade book's order) that took a key's net to the wrong side of zero."""
    net: dict[Key, int] = defaultdict(int)
    crossed = 0
    for fill in fills:
        key = ledger.key_of(fill["symbol"], fill["product"])
        if key is None:
            continue
        signed = int(fill["quantity"]) * (1 if fill["action"] == "BUY" else -1)
        before = net[key] * key.direction
        net[key] += signed
        if net[key] * key.direction < 0 <= before:
            crossed += 1
    return crossed


def guard_gaps(
    ledger: Ledger, books: Books, details: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Per key: broker quantity beyond guarded + own holdings (unguarded), and guarded
    quantity the broker does not have (overguarded)."""
    taken = {row.get("entry_order_id") for row in books.trades.values()}
    own: dict[Key, int] = defaultdict(int, ledger.manual)
    for entry in ledger.entries.values():  # an acknowledged entry is tradeguard's to guard
        if entry.order_id not in taken and not entry.acked:
            own[entry.key] += entry.quantity
    guarded: dict[Key, int] = defaultdict(int)
    for row in books.trades.values():
        key = ledger.key_of(row["symbol"], row["product"])
        if key is not None and row["state"] in OPEN_STATES:
            guarded[key] += int(row["quantity"])
    unguarded, overguarded = {}, {}
    for key in ledger.keys:
        held = books.positions.get((key.symbol, key.product), 0) * key.direction
        gap = held - own[key] - guarded[key]
        if gap:
            others = ", ".join(
                f"{t} {r['state']} x{r['quantity']}"
                for t, r in books.trades.items()
                if (r["symbol"], r["product"]) == (key.symbol, key.product)
                and r["state"] != "CLOSED"
            )
            details.append(
                f"{key}: broker {held}, own holdings {own[key]}, open trades {guarded[key]}"
                f" ({others or 'none open'})"
            )
        if gap > 0:
            unguarded[str(key)] = gap
        elif gap < 0:
            overguarded[str(key)] = -gap
    return unguarded, overguarded


def crossed_level(row: dict[str, Any], price: int) -> bool:
    """An ACTIVE trade whose stop or target the price `price` (units) stands through."""
    long = row["side"] == "LONG"
    stop, target = row.get("stop_loss"), row.get("target")
    if stop is not None and (price <= stop if long else price >= stop):
        return True
    return target is not None and (price >= target if long else price <= target)


def missed(trades: dict[str, dict[str, Any]], prices: dict[str, int]) -> list[str]:
    """ACTIVE trades whose stop or target the current price crosses."""
    return sorted(
        t
        for t, row in trades.items()
        if row["state"] == "ACTIVE"
        and row["symbol"] in prices
        and crossed_level(row, prices[row["symbol"]])
    )
