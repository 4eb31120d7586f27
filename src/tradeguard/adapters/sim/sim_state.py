"""Adapters layer: the simulator's state on disk, so a restart finds the broker as it was.

A real broker keeps its positions, orders and trades while tradeguard restarts; the embedded
simulator keeps them in a JSON file of its own (`tradeguard run`: `<data dir>/simulator.json`;
`tradeguard sim --state FILE`): the paper broker's order book (every order with its fill
state), trade book, net positions and next order id, and each symbol's last price (the walk
goes on from there). Written atomically (a temporary file, fsync, rename; mode 0600) after
changes, at most every `interval` seconds, and on stop; a kill -9 loses at most the changes
of the last interval. An unreadable file is moved aside (never deleted) and the simulator
starts empty, with a warning that names both files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.paper_book import PaperBook, PaperOrder
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.adapters.sim.paper_rules import Position
from tradeguard.app.tasks import cancel_and_wait
from tradeguard.core.broker import FillReport, OrderRequest, OrderStatus

log = logging.getLogger(__name__)

VERSION = 1


class SimStateError(ValueError):
    """The state file cannot be read as simulator state."""


def capture(broker: PaperBroker, market: SimMarket) -> dict[str, Any]:
    """The broker's books and the market's last prices as JSON-ready data."""
    book = broker.book
    prices = {}
    for symbol, exchange in market.symbols():
        price = market.last_price(symbol, exchange)
        if price is not None:
            prices[f"{exchange}:{symbol}"] = price
    return {
        "version": VERSION,
        "last_order_id": broker.last_order_id,
        "orders": [_order(o) for o in book.orders.values()],
        "trades": [_fill(f) for f in book.trades],
        "positions": [
            {
                "symbol": symbol,
                "exchange": exchange,
                "product": product,
                "quantity": pos.quantity,
                "average": str(pos.average),
                "realized": str(pos.realized),
            }
            for (symbol, exchange, product), pos in book.positions.items()
        ],
        "prices": prices,
    }


def _order(order: PaperOrder) -> dict[str, Any]:
    req = order.request
    return {
        "order_id": order.order_id,
        "request": {
            "symbol": req.symbol,
            "exchange": req.exchange,
            "action": req.action,
            "quantity": req.quantity,
            "product": req.product,
            "strategy": req.strategy,
            "pricetype": req.pricetype,
            "price": req.price,
            "trigger_price": req.trigger_price,
        },
        "status": order.status.value,
        "timestamp": order.timestamp,
        "average_price": order.average_price,
        "filled_quantity": order.filled_quantity,
        "filled_value": order.filled_value,
        "rejection_reason": order.rejection_reason,
        "late": order.late,
    }


def _fill(fill: FillReport) -> dict[str, Any]:
    return {
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "exchange": fill.exchange,
        "action": fill.action,
        "quantity": fill.quantity,
        "product": fill.product,
        "average_price": fill.average_price,
        "timestamp": fill.timestamp,
    }


def parse(data: object) -> tuple[PaperBook, int, dict[tuple[str, str], int]]:
    """(books, last order id, last prices by (symbol, exchange)) from `capture`'s data."""
    try:
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise SimStateError(f"not simulator state of version {VERSION}")
        book = PaperBook()
        for raw in data["orders"]:
            order = PaperOrder(
                order_id=str(raw["order_id"]),
                request=OrderRequest(**raw["request"]),
                status=OrderStatus(raw["status"]),
                timestamp=str(raw["timestamp"]),
                average_price=raw["average_price"],
                filled_quantity=int(raw["filled_quantity"]),
                filled_value=int(raw["filled_value"]),
                rejection_reason=str(raw["rejection_reason"]),
                late=bool(raw["late"]),
            )
            book.orders[order.order_id] = order
            if not order.status.is_final:  # a part-filled MARKET order fills on the next tick
                book.resting[order.order_id] = order
        book.trades.extend(FillReport(**raw) for raw in data["trades"])
        for raw in data["positions"]:
            key = (str(raw["symbol"]), str(raw["exchange"]), str(raw["product"]))
            book.positions[key] = Position(
                int(raw["quantity"]), Fraction(raw["average"]), Fraction(raw["realized"])
            )
        prices: dict[tuple[str, str], int] = {}
        for name, price in data["prices"].items():
            exchange, _, symbol = str(name).partition(":")
            prices[(symbol, exchange)] = int(price)
        return book, int(data["last_order_id"]), prices
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        raise SimStateError(f"{type(error).__name__}: {error}") from None


def read_state(path: Path) -> tuple[PaperBook, int, dict[tuple[str, str], int]] | None:
    """The saved state, or None when there is none yet. An unreadable file is moved aside to
    `<name>.unreadable` (logged as a warning) and None returned."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return parse(json.loads(text))
    except (SimStateError, ValueError) as error:
        aside = path.with_name(path.name + ".unreadable")
        os.replace(path, aside)
        log.warning(
            "simulator state %s unreadable (%s): moved to %s; the simulator starts with no "
            "positions or orders",
            path,
            error,
            aside,
        )
        return None


def write_state(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically with `data` (0600): a reader sees the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)  # mkstemp: mode 0600, a name of its own
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    with contextlib.suppress(OSError):  # the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class StateKeeper:
    """Saves the broker's state to `path` after it changed (at most every `interval` s) while
    running, and once more on `stop`."""

    def __init__(
        self, path: Path, broker: PaperBroker, market: SimMarket, interval: float = 0.2
    ) -> None:
        self.path = path
        self.broker = broker
        self.market = market
        self.interval = interval
        self.saves = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        broker.on_change = self._changed.set

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sim-state")

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            data = capture(self.broker, self.market)  # on the loop: a consistent copy
            try:
                await asyncio.to_thread(write_state, self.path, data)
                self.saves += 1
            except OSError as error:
                log.error("simulator state not saved to %s: %s", self.path, error)
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        try:
            write_state(self.path, capture(self.broker, self.market))
            self.saves += 1
        except OSError as error:
            log.error("simulator state not saved to %s: %s", self.path, error)
