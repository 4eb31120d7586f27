"""App layer: the read side of closed trades: history filters (validated), history rows with
entry time, holding time and slippage, and the Performance figures (core.performance) of the
same filtered trades. The service facade delegates here; interfaces get JSON-ready views.

Filters come in as the caller typed them (strings or None): `from`/`to` are IST calendar
dates (YYYY-MM-DD, both inclusive) on the day a trade CLOSED; `strategy`, `symbol` and
`reason` match exactly. A bad filter is refused (InvalidRequest) before anything is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from tradeguard.app.errors import InvalidRequest
from tradeguard.app.ports import Store
from tradeguard.app.records import EXTERNAL, HistoryQuery, TradeRecord, reason_of
from tradeguard.app.views import history_view, name_of, strategy_key
from tradeguard.core.model import ExitReason
from tradeguard.core.money import fmt
from tradeguard.core.performance import ClosedTrade, Performance, performance
from tradeguard.core.timeutil import DAY_NS, NS_PER_SECOND, ist_day_start

MAX_LIST = 1000  # rows of one history page
MAX_EXPORT = 50_000  # trades one CSV export or one Performance computation reads
REASONS = frozenset({*(r.value for r in ExitReason), EXTERNAL})
FILTER_KEYS = ("from", "to", "strategy", "symbol", "reason")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.&:-]{0,63}$")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """A validated filter: the query for storage, and the filter as the caller sees it."""

    query: HistoryQuery
    shown: dict[str, str | None]


def _date(name: str, raw: str) -> int:
    """IST day number of a YYYY-MM-DD date, or InvalidRequest."""
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise InvalidRequest(f"{name}: expected a date as YYYY-MM-DD, was {raw!r}") from None


def parse_filter(account: str, raw: Mapping[str, str | None]) -> HistoryFilter:
    """Check the caller's filter (keys of FILTER_KEYS; empty strings count as not given)."""
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise InvalidRequest(f"unknown filter {unknown[0]!r}; known: {', '.join(FILTER_KEYS)}")
    given = {k: v.strip() for k, v in raw.items() if v is not None and v.strip()}
    first = _date("from", given["from"]) if "from" in given else None
    last = _date("to", given["to"]) if "to" in given else None
    if first is not None and last is not None and first > last:
        raise InvalidRequest(f"from ({given['from']}) is after to ({given['to']})")
    strategy, symbol, reason = given.get("strategy"), given.get("symbol"), given.get("reason")
    if strategy is not None and not _NAME.match(strategy):
        raise InvalidRequest(f"strategy: not a strategy name: {strategy!r}")
    if symbol is not None and not _SYMBOL.match(symbol):
        raise InvalidRequest(f"symbol: not a symbol: {symbol!r}")
    if reason is not None and reason not in REASONS:
        raise InvalidRequest(f"reason: expected one of {', '.join(sorted(REASONS))}")
    query = HistoryQuery(
        closed_from=None if first is None else ist_day_start(first),
        closed_until=None if last is None else ist_day_start(last) + DAY_NS,
        strategy_id=None if strategy is None else strategy_key(account, strategy),
        symbol=symbol,
        reason=reason,
    )
    return HistoryFilter(query, {k: given.get(k) for k in FILTER_KEYS})


def trigger_price(record: TradeRecord) -> int | None:
    """The price the exit was decided at: the rule's level for a price rule; the last price
    seen for a portfolio rule (whose trigger is a P&L amount), a time exit or a manual exit.
    None for a trade closed externally (no exit of ours)."""
    reason = record.exit_reason
    if reason is None:
        return None
    price_rule = reason in REASONS and reason != EXTERNAL and not ExitReason(reason).is_portfolio
    if price_rule and record.exit_trigger is not None:
        return record.exit_trigger
    return record.exit_tick_price


def slippage(record: TradeRecord) -> int | None:
    """Per unit, signed as P&L: fill minus trigger for a LONG (a sell), trigger minus fill for
    a SHORT; negative = filled worse than the trigger price."""
    trigger = trigger_price(record)
    if trigger is None or record.exit_price is None:
        return None
    move = record.exit_price - trigger
    return move if record.side == "LONG" else -move


def history_row(record: TradeRecord) -> dict[str, Any]:
    """history_view plus holding time (s), trigger price and slippage (per unit and in ₹)."""
    per_unit = slippage(record)
    held = None
    if record.closed_at is not None:
        held = max(0, record.closed_at - record.entered_at) // NS_PER_SECOND
    return {
        **history_view(record),
        "exit_reason_label": reason_of(record),
        "holding_seconds": held,
        "trigger_price": None if trigger_price(record) is None else fmt(trigger_price(record)),
        "slippage": None if per_unit is None else fmt(per_unit),
        "slippage_amount": None if per_unit is None else fmt(per_unit * record.quantity),
    }


def _fixed(value: Fraction | None, places: int = 2) -> str | None:
    """An exact fraction rounded half to even to `places` decimals, as a string."""
    if value is None:
        return None
    scaled = round(value * 10**places)
    sign, digits = ("-" if scaled < 0 else ""), str(abs(scaled)).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def _rupees(units: Fraction | int | None) -> str | None:
    """Units (1/10,000 ₹) as rupees rounded to the paisa (half to even)."""
    return None if units is None else _fixed(Fraction(units) / 10_000)


def performance_view(figures: Performance, shown: dict[str, str | None]) -> dict[str, Any]:
    return {
        "filters": shown,
        "trades": figures.trades,
        "wins": figures.wins,
        "losses": figures.losses,
        "flat": figures.flat,
        "win_rate": _fixed(None if figures.win_rate is None else figures.win_rate * 100),
        "total_pnl": fmt(figures.total_pnl),
        "gross_profit": fmt(figures.gross_profit),
        "gross_loss": fmt(figures.gross_loss),
        "average_win": _rupees(figures.average_win),
        "average_loss": _rupees(figures.average_loss),
        "profit_factor": _fixed(figures.profit_factor),
        "best": None if figures.best is None else fmt(figures.best),
        "worst": None if figures.worst is None else fmt(figures.worst),
        "max_drawdown": fmt(figures.max_drawdown),
        "by_reason": [
            {"reason": g.key, "trades": g.trades, "wins": g.wins, "losses": g.losses}
            | {"pnl": fmt(g.pnl)}
            for g in figures.by_reason
        ],
        "by_strategy": [
            {"strategy": g.key, "trades": g.trades, "wins": g.wins, "losses": g.losses}
            | {"pnl": fmt(g.pnl)}
            for g in figures.by_strategy
        ],
        "daily": [
            {"date": d.day.isoformat(), "trades": d.trades, "pnl": fmt(d.pnl)}
            for d in figures.daily
        ],
        "equity": [
            {"at": p.at, "trade_id": p.trade_id, "equity": fmt(p.equity)} for p in figures.equity
        ],
    }


class TradeHistory:
    """Closed trades of an account, filtered, as rows, export rows and performance."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def rows(
        self, account: str, limit: int = 100, filters: Mapping[str, str | None] | None = None
    ) -> list[dict[str, Any]]:
        """One page of history (newest close first)."""
        if not 1 <= limit <= MAX_LIST:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIST}")
        wanted = parse_filter(account, filters or {})
        records = await self.store.history(account, limit, wanted.query)
        return [history_row(r) for r in records]

    async def _all(self, account: str, wanted: HistoryFilter) -> list[TradeRecord]:
        records = await self.store.history(account, MAX_EXPORT + 1, wanted.query)
        if len(records) > MAX_EXPORT:
            raise InvalidRequest(
                f"more than {MAX_EXPORT} closed trades match; narrow the dates or filters"
            )
        return records

    async def export(
        self, account: str, filters: Mapping[str, str | None] | None = None
    ) -> list[dict[str, Any]]:
        """Every matching trade (at most MAX_EXPORT, else refused), newest close first."""
        records = await self._all(account, parse_filter(account, filters or {}))
        return [history_row(r) for r in records]

    async def performance(
        self, account: str, filters: Mapping[str, str | None] | None = None
    ) -> dict[str, Any]:
        """The Performance view's figures for every matching closed trade."""
        wanted = parse_filter(account, filters or {})
        records = await self._all(account, wanted)
        closed = [
            ClosedTrade(
                r.trade_id,
                name_of(r.strategy_id),
                reason_of(r),
                r.realized_pnl or 0,
                r.closed_at or 0,
            )
            for r in records
        ]
        return performance_view(performance(closed), wanted.shown)
