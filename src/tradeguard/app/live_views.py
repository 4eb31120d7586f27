"""App layer: live trade and strategy views kept per object, rebuilt only when it changed.

Building a trade's view (a dozen money fields formatted, its rules, its exit order) and
encoding it as JSON costs tens of microseconds; `activetrades`, every new dashboard's snapshot
and the dashboard publisher used to pay that for every trade on every call, so 1,000 open
trades made each `activetrades` reply cost ~20 ms of the one event loop.

A `ViewCache` keeps, per object, its view, the view's JSON text and the object's *signature*:
a tuple of everything the view is made from (for a trade: the trade object itself, the last
price of its symbol, state, quantity, best price, every level, rules, and its latest exit
order with that order's fields). A signature is cheap to compute and to compare; the view is
rebuilt and re-encoded only when it differs, and its `version` (unique across the cache) then
goes up, which is how the publisher knows what to push. A cache made with `first_version`
also writes the version into each view (`"version"`): the trade views do, so the dashboard
keeps the newer of two views of a trade that arrive out of order (a slow `GET /ui/api/trades`
reply after a stream update). The service starts it at its start time in microseconds, so
versions keep growing across a restart too (one rebuild per microsecond would be needed to
catch up with the clock). Every change a view can show (a tick,
a level move, a rule update, an exit, a strategy change) changes the signature, so there is
nothing to invalidate by hand (tests/unit/app/test_live_views.py checks the cached views
against fresh ones after random operation sequences).

The views and texts handed out are shared: read them, never change them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection
from typing import Any, Generic, TypeVar

from tradeguard.core.exit_order import ExitOrder
from tradeguard.core.portfolio import StrategyBook
from tradeguard.core.trade import Trade

T = TypeVar("T")
Signature = tuple[object, ...]


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode(view: Any) -> str:
    """JSON text as the API's JSON responses write it (compact, UTF-8 kept)."""
    return _ENCODER.encode(view)


def join(texts: Collection[str]) -> str:
    """A JSON array of already encoded values."""
    return "[" + ",".join(texts) + "]"


def exit_signature(order: ExitOrder | None) -> Signature | None:
    """Every field of an exit order that its view (app.views.exit_view) shows."""
    if order is None:
        return None
    return (
        order,
        order.state,
        order.pending_id,
        order.order_id,
        order.quantity,
        order.filled,
        order.attempt,
        order.message,
    )


def trade_signature(trade: Trade, last: int | None, order: ExitOrder | None) -> Signature:
    """Everything a live trade view (app.views.trade_view) is made from."""
    return (
        trade,
        last,
        trade.state,
        trade.quantity,
        trade.best,
        trade.stop,
        trade.stop_reason,
        trade.initial_stop,
        trade.target,
        trade.trailing,
        trade.breakeven,
        trade.exit_reason,
        trade.rules,
        trade.entry_price,
        trade.entry_order_id,
        trade.entered_at,
        trade.strategy_id,
        trade.account,
        exit_signature(order),
    )


_RULES_AT = 12  # where trade_signature holds the trade's rules


def same_rules(previous: CachedView | None, trade: Trade) -> dict[str, Any] | None:
    """The rules part of the trade's previous view when its rules are still the same object
    (rules are immutable: an update replaces them), so a rebuild need not redo it."""
    if previous is not None and previous.signature[_RULES_AT] is trade.rules:
        rules: dict[str, Any] = previous.view["rules"]
        return rules
    return None


def strategy_signature(book: StrategyBook) -> Signature:
    """Everything a strategy view (app.views.strategy_view) is made from."""
    return (
        book,
        book.state,
        book.halt_reason,
        book.pnl,
        book.realized,
        book.open_positions,
        book.exposure,
        book.baseline,
        book.daily_limit,
        book.sl_amount,
        book.target_amount,
        book.trailing_level,
        book.peak,
        book.config,
    )


class CachedView:
    """One object's view, its JSON text, the signature it was built from and its version."""

    __slots__ = ("signature", "text", "version", "view")

    def __init__(self, signature: Signature, view: dict[str, Any], text: str, version: int):
        self.signature = signature
        self.view = view
        self.text = text
        self.version = version


class ViewCache(Generic[T]):
    """Views of objects of one kind, by key, each rebuilt only when its signature changed."""

    def __init__(
        self,
        signature: Callable[[T], Signature],
        build: Callable[[T, CachedView | None], dict[str, Any]],
        *,
        first_version: int | None = None,
    ) -> None:
        """`build(obj, previous)` makes a view; `previous` (the outdated entry, or None) may
        lend it parts that did not change. With `first_version`, versions start there and
        each view carries its version as `"version"`."""
        self._signature = signature
        self._build = build
        self._entries: dict[str, CachedView] = {}
        self._in_view = first_version is not None
        self._versions = itertools.count(1 if first_version is None else first_version)
        self.builds = 0  # views built so far (a figure for tests and benchmarks)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, obj: T) -> CachedView:
        """`obj`'s current view: the cached one when its signature is unchanged."""
        signature = self._signature(obj)
        entry = self._entries.get(key)
        if entry is not None and entry.signature == signature:
            return entry
        view = self._build(obj, entry)
        version = next(self._versions)
        if self._in_view:
            view["version"] = version
        entry = CachedView(signature, view, encode(view), version)
        self._entries[key] = entry
        self.builds += 1
        return entry

    def retain(self, keys: Collection[str]) -> None:
        """Forget the views of every key not in `keys` (objects that are gone)."""
        for key in [k for k in self._entries if k not in keys]:
            del self._entries[key]
