"""Core layer: trading performance from closed trades (pure; the Performance view's figures).

Input is a sequence of ClosedTrade values in any order; output a Performance value computed
with exact integers (money in core.money units) and Fractions (rates and averages). Trades
are taken in close order (closed_at, then trade_id), so the same trades always give the same
figures. Days are IST calendar days (core.timeutil).

Definitions (docs/dashboard.md repeats them for traders):
- a win has P&L > 0, a loss P&L < 0, a flat trade exactly 0; win rate = wins / trades;
- average win = gross profit / wins; average loss = gross loss / losses (a negative amount);
- the equity curve is the running sum of realized P&L after each close, starting from 0;
- max drawdown is the largest fall of that curve from an earlier peak (0 counts as a peak).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from tradeguard.core.timeutil import ist_day

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """What performance needs of a closed trade: realized P&L (units) and when it closed."""

    trade_id: str
    strategy: str
    reason: str
    pnl: int
    closed_at: int  # epoch ns


@dataclass(frozen=True, slots=True)
class Group:
    """The trades sharing one key (an exit reason or a strategy) and what they made."""

    key: str
    trades: int
    wins: int
    losses: int
    pnl: int


@dataclass(frozen=True, slots=True)
class DayPnl:
    """Realized P&L of the trades closed on one IST calendar day."""

    day: date
    trades: int
    pnl: int


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The running realized P&L right after `trade_id` closed at `at`."""

    at: int
    trade_id: str
    equity: int


@dataclass(frozen=True, slots=True)
class Performance:
    trades: int
    wins: int
    losses: int
    flat: int
    total_pnl: int
    gross_profit: int  # sum of the wins (>= 0)
    gross_loss: int  # sum of the losses (<= 0)
    best: int | None
    worst: int | None
    max_drawdown: int  # >= 0
    by_reason: tuple[Group, ...]  # by P&L, lowest first, then key
    by_strategy: tuple[Group, ...]  # by key
    daily: tuple[DayPnl, ...]  # oldest first; days without a close are left out
    equity: tuple[EquityPoint, ...]  # in close order

    @property
    def win_rate(self) -> Fraction | None:
        """wins / trades (None with no trades)."""
        return Fraction(self.wins, self.trades) if self.trades else None

    @property
    def average_win(self) -> Fraction | None:
        return Fraction(self.gross_profit, self.wins) if self.wins else None

    @property
    def average_loss(self) -> Fraction | None:
        return Fraction(self.gross_loss, self.losses) if self.losses else None

    @property
    def profit_factor(self) -> Fraction | None:
        """gross profit / |gross loss| (None without a loss)."""
        return Fraction(self.gross_profit, -self.gross_loss) if self.gross_loss else None


def ist_date(at_ns: int) -> date:
    """The IST calendar date containing `at_ns`."""
    return _EPOCH + timedelta(days=ist_day(at_ns))


class _Tally:
    __slots__ = ("losses", "pnl", "trades", "wins")

    def __init__(self) -> None:
        self.trades = self.wins = self.losses = self.pnl = 0

    def add(self, pnl: int) -> None:
        self.trades += 1
        self.pnl += pnl
        self.wins += pnl > 0
        self.losses += pnl < 0


def _groups(tallies: dict[str, _Tally]) -> list[Group]:
    return [Group(k, t.trades, t.wins, t.losses, t.pnl) for k, t in tallies.items()]


def performance(trades: list[ClosedTrade] | tuple[ClosedTrade, ...]) -> Performance:
    """Every figure of the Performance view for `trades` (see the module docstring)."""
    ordered = sorted(trades, key=lambda t: (t.closed_at, t.trade_id))
    total = _Tally()
    gross_profit = gross_loss = 0
    reasons: dict[str, _Tally] = {}
    strategies: dict[str, _Tally] = {}
    days: dict[date, _Tally] = {}
    equity: list[EquityPoint] = []
    running = peak = drawdown = 0
    for trade in ordered:
        total.add(trade.pnl)
        if trade.pnl > 0:
            gross_profit += trade.pnl
        else:
            gross_loss += trade.pnl
        reasons.setdefault(trade.reason, _Tally()).add(trade.pnl)
        strategies.setdefault(trade.strategy, _Tally()).add(trade.pnl)
        days.setdefault(ist_date(trade.closed_at), _Tally()).add(trade.pnl)
        running += trade.pnl
        peak = max(peak, running)
        drawdown = max(drawdown, peak - running)
        equity.append(EquityPoint(trade.closed_at, trade.trade_id, running))
    pnls = [t.pnl for t in ordered]
    return Performance(
        trades=total.trades,
        wins=total.wins,
        losses=total.losses,
        flat=total.trades - total.wins - total.losses,
        total_pnl=total.pnl,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        best=max(pnls) if pnls else None,
        worst=min(pnls) if pnls else None,
        max_drawdown=drawdown,
        by_reason=tuple(sorted(_groups(reasons), key=lambda g: (g.pnl, g.key))),
        by_strategy=tuple(sorted(_groups(strategies), key=lambda g: g.key)),
        daily=tuple(DayPnl(d, t.trades, t.pnl) for d, t in sorted(days.items())),
        equity=tuple(equity),
    )
