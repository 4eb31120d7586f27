"""App layer: the broker view and "guard this position".

The broker view is the account's positions and orders as OpenAlgo reports them (positionbook,
orderbook through the gateway, so its rate limiter applies) next to the guarded trades. The two
reads are cached for `ttl` seconds; a refresh asked for sooner than `min_interval` after the
last read gets the cached copy (a button pressed ten times costs one read); concurrent callers
share one read. A read that fails returns the last good copy marked stale, or 503 without one.

Matching is by key (symbol, exchange, product), the one net position a broker keeps: the
guarded quantity of a key is the signed open quantity of every open trade on it (any account:
they all trade through the one OpenAlgo login; other accounts' trades are counted, never
named), less what their working exit orders have already filled (the broker's net has it).
A position whose net is larger (same sign) than what is guarded has an unguarded quantity.

`guard` makes a trade of the unguarded quantity: an explicit createtrade (the strategy's
default rules, the position's average price as entry) through the service's one createtrade
path, after a fresh read of the position book, one guard at a time (a second click finds
nothing unguarded and is refused, 409).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tradeguard.app.errors import BrokerUnavailable, Conflict, InvalidRequest
from tradeguard.app.ports import BrokerGateway, Clock
from tradeguard.app.trade_input import CreateTrade, product_of
from tradeguard.app.views import name_of
from tradeguard.core.broker import BrokerError, OrderReport, PositionReport
from tradeguard.core.exit_order import ExitLedger, Key
from tradeguard.core.money import fmt, from_units
from tradeguard.core.timeutil import NS_PER_SECOND
from tradeguard.core.trade import Trade

Creator = Callable[[str, CreateTrade, str], Awaitable[dict[str, Any]]]
MAX_ORDERS = 200  # newest orders shown


@dataclass(frozen=True, slots=True)
class GuardedPart:
    """One open trade's share of a key: its signed quantity still in the broker's net."""

    key: Key
    signed: int
    account: str
    trade_id: str
    strategy: str
    side: str
    quantity: int
    state: str


@dataclass(frozen=True, slots=True)
class PositionMatch:
    """A broker position (or a key only our trades hold) against the trades guarding it."""

    key: Key
    net: int  # the broker's signed net (0: no position)
    average_price: int | None
    ltp: int | None
    guarded: int  # signed, every account's open trades
    parts: tuple[GuardedPart, ...]  # this account's

    @property
    def unguarded(self) -> int:
        """The signed quantity no trade guards: 0 unless the net is larger than the guarded
        quantity on the same side."""
        if self.net == 0 or self.net * self.guarded < 0 or abs(self.net) <= abs(self.guarded):
            return 0
        return self.net - self.guarded

    @property
    def status(self) -> str:
        if self.net == self.guarded:
            return "FLAT" if self.net == 0 else "GUARDED"
        if self.unguarded:
            return "UNGUARDED" if self.guarded == 0 else "PARTLY_GUARDED"
        return "OVER_GUARDED"  # trades hold more than the broker: reconciliation adjusts


def guarded_parts(trades: Iterable[Trade], ledger: ExitLedger) -> list[GuardedPart]:
    """Each open trade's signed quantity still in the net (less its working exit's fills)."""
    parts = []
    for trade in trades:
        latest = ledger.latest(trade.trade_id)
        filled = latest.filled if latest is not None and latest.live else 0
        inst = trade.instrument
        parts.append(
            GuardedPart(
                key=(inst.symbol, inst.exchange, trade.product.value),
                signed=trade.sign * max(trade.quantity - filled, 0),
                account=trade.account,
                trade_id=trade.trade_id,
                strategy=name_of(trade.strategy_id),
                side=trade.side.value,
                quantity=trade.quantity,
                state=trade.state.value,
            )
        )
    return parts


def match_positions(
    positions: Sequence[PositionReport], parts: Sequence[GuardedPart], account: str
) -> list[PositionMatch]:
    """Every broker position with a net, and every key our trades hold, matched by key."""
    rows = {(p.symbol, p.exchange, p.product.upper()): p for p in positions}
    guarded: dict[Key, int] = {}
    mine: dict[Key, list[GuardedPart]] = {}
    for part in parts:
        guarded[part.key] = guarded.get(part.key, 0) + part.signed
        if part.account == account:
            mine.setdefault(part.key, []).append(part)
    keys = [k for k, p in rows.items() if p.quantity] + [k for k in mine if k not in rows]
    keys += [k for k in mine if k in rows and not rows[k].quantity]
    matches = []
    for key in keys:
        row = rows.get(key)
        matches.append(
            PositionMatch(
                key=key,
                net=row.quantity if row else 0,
                average_price=row.average_price if row else None,
                ltp=row.ltp if row else None,
                guarded=guarded.get(key, 0),
                parts=tuple(mine.get(key, ())),
            )
        )
    return matches


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    """One read of the broker's position and order books."""

    positions: tuple[PositionReport, ...]
    orders: tuple[OrderReport, ...]
    read_at: int  # epoch ns


class BrokerPositions:
    """The broker view's cached reads, its matching, and the guard action."""

    def __init__(
        self,
        broker: BrokerGateway,
        clock: Clock,
        trades: Callable[[], Iterable[Trade]],
        ledger: Callable[[], ExitLedger],
        *,
        ttl: float = 3.0,
        min_interval: float = 1.0,
    ) -> None:
        self.broker = broker
        self.clock = clock
        self._trades = trades
        self._ledger = ledger
        self.ttl = ttl
        self.min_interval = min_interval
        self.reads = 0  # broker reads made (each is a positionbook and an orderbook call)
        self._snapshot: BrokerSnapshot | None = None
        self._error: str | None = None
        self._reading = asyncio.Lock()
        self._guarding = asyncio.Lock()

    async def snapshot(self, *, refresh: bool = False) -> tuple[BrokerSnapshot, str | None]:
        """The cached books (read again when older than ttl, or on refresh once min_interval
        has passed), and the error of the last read when it failed (the copy is then stale)."""
        async with self._reading:
            now = self.clock.now()
            cached = self._snapshot
            if cached is not None:
                age = (now - cached.read_at) / NS_PER_SECOND
                if age < (self.min_interval if refresh else self.ttl):
                    return cached, self._error
            return await self._read(cached)

    async def _read(self, cached: BrokerSnapshot | None) -> tuple[BrokerSnapshot, str | None]:
        self.reads += 1
        try:
            positions, orders = await asyncio.gather(
                self.broker.position_book(), self.broker.order_book()
            )
        except BrokerError as error:
            self._error = f"could not read the broker's books: {error}"
            if cached is None:
                raise BrokerUnavailable(self._error) from None
            return cached, self._error
        self._error = None
        self._snapshot = BrokerSnapshot(tuple(positions), tuple(orders), self.clock.now())
        return self._snapshot, None

    def matches(self, snapshot: BrokerSnapshot, account: str) -> list[PositionMatch]:
        parts = guarded_parts(self._trades(), self._ledger())
        return match_positions(snapshot.positions, parts, account)

    async def view(self, account: str, *, refresh: bool = False) -> dict[str, Any]:
        snapshot, error = await self.snapshot(refresh=refresh)
        matches = self.matches(snapshot, account)
        now = self.clock.now()
        return {
            "read_at": snapshot.read_at,
            "age_seconds": round((now - snapshot.read_at) / NS_PER_SECOND, 1),
            "stale": error is not None,
            "error": error,
            "positions": [position_view(m) for m in matches],
            "unguarded": sum(1 for m in matches if m.unguarded),
            "orders": [self._order_view(o) for o in reversed(snapshot.orders[-MAX_ORDERS:])],
        }

    def _order_view(self, order: OrderReport) -> dict[str, Any]:
        ledger = self._ledger()
        exit_order = ledger.by_order(order.order_id)
        entry = next((t for t in self._trades() if t.entry_order_id == order.order_id), None)
        return {
            "order_id": order.order_id,
            "symbol": order.symbol,
            "exchange": order.exchange,
            "product": order.product,
            "action": order.action,
            "quantity": order.quantity,
            "filled_quantity": order.filled_quantity,
            "status": order.status.value,
            "average_price": fmt(order.average_price) if order.average_price else None,
            "timestamp": order.timestamp,
            "tradeguard": "exit" if exit_order else "entry" if entry else None,
        }

    async def guard(
        self,
        account: str,
        strategy: str,
        key: Key,
        quantity: int | None,
        actor: str,
        create: Creator,
    ) -> dict[str, Any]:
        """A trade of the position's unguarded quantity (all of it, or `quantity` of it) with
        the strategy's default rules, entered at the position's average price."""
        symbol, exchange, raw_product = key
        product = product_of(raw_product).value
        if quantity is not None and quantity <= 0:
            raise InvalidRequest("quantity must be positive")
        async with self._guarding:
            async with self._reading:
                snapshot, _ = await self._read(None)  # fresh: a failed read raises (503)
            match = next(
                (
                    m
                    for m in self.matches(snapshot, account)
                    if m.key == (symbol, exchange, product)
                ),
                None,
            )
            where = f"{exchange}:{symbol} {product}"
            if match is None or not match.unguarded:
                net = match.net if match else 0
                guarded = match.guarded if match else 0
                raise Conflict(
                    f"nothing unguarded on {where}: the broker's net is {net}, trades guard "
                    f"{guarded}"
                )
            if not match.average_price or match.average_price <= 0:
                raise Conflict(
                    f"the broker reports no average price for {where}: use createtrade with "
                    "the entry price"
                )
            free = abs(match.unguarded)
            if quantity is not None and quantity > free:
                raise Conflict(f"only {free} of {where} is unguarded now, not {quantity}")
            request = CreateTrade(
                strategy=strategy,
                symbol=symbol,
                exchange=exchange,
                action="BUY" if match.unguarded > 0 else "SELL",
                quantity=quantity or free,
                price=from_units(match.average_price),
                product=product,
            )
            return await create(account, request, actor)


def position_view(match: PositionMatch) -> dict[str, Any]:
    symbol, exchange, product = match.key
    mine = sum(p.signed for p in match.parts)
    return {
        "symbol": symbol,
        "exchange": exchange,
        "product": product,
        "quantity": match.net,
        "average_price": fmt(match.average_price) if match.average_price else None,
        "ltp": fmt(match.ltp) if match.ltp else None,
        "guarded": match.guarded,
        "unguarded": match.unguarded,
        "other_accounts": match.guarded - mine,
        "status": match.status,
        "trades": [
            {
                "trade_id": p.trade_id,
                "strategy": p.strategy,
                "side": p.side,
                "quantity": p.quantity,
                "state": p.state,
            }
            for p in match.parts
        ],
    }
