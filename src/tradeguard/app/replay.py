"""App layer: replay a recorded tick stream through the risk engine and report every exit.

Pure and deterministic: no clock, no I/O. Ticks go into a RiskEngine in file order with
`now` = the tick's exchange time. Trades join at their entry time, and due time exits
(square-off, max holding) fire through `on_clock` at their exact deadline, before the first
tick at or after it. Every exit is treated as filled at once, in full, at the price the
decision carries (see FILL_ASSUMPTION), and the trade is closed with `engine.close_trade`, so a
realized loss can still trigger a portfolio rule. Time exits that fall after the last tick do
not fire: those trades are reported as still open.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

from tradeguard.core.decisions import Decisions, StrategyChange
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import (
    ExitReason,
    Instrument,
    Product,
    Side,
    StrategyState,
    Tick,
)
from tradeguard.core.rules import TradeRules
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

FILL_ASSUMPTION = (
    "Fills are simulated: every exit fills at once, in full, at the price of the tick that "
    "triggered it (portfolio and time exits: the symbol's last price); no slippage or charges."
)


class ReplayError(ValueError):
    """Replay input that cannot run (no ticks, unknown strategy, time going backwards)."""


@dataclass(frozen=True, slots=True)
class ReplayTrade:
    """A trade to guard during the replay. `rules` are final (strategy defaults already merged);
    `entered_at` None means "at the first tick"."""

    trade_id: str
    strategy_id: str
    instrument: Instrument
    side: Side
    quantity: int
    entry_price: int
    rules: TradeRules
    product: Product = Product.MIS
    entered_at: int | None = None


@dataclass(frozen=True, slots=True)
class ReplaySetup:
    """What a replay configuration file describes: strategies (in file order) and trades."""

    strategies: Mapping[str, StrategyRiskConfig]
    trades: Sequence[ReplayTrade]


@dataclass(frozen=True, slots=True)
class ExitRow:
    """One filled exit. `trigger` is a price for trade rules, a P&L amount for portfolio rules
    and None for time exits; `priced` is False when the symbol had no tick yet (filled at entry,
    P&L 0)."""

    at: int
    trade_id: str
    strategy_id: str
    symbol: str
    exchange: str
    side: Side
    quantity: int
    entry_price: int
    reason: ExitReason
    trigger: int | None
    price: int
    pnl: int
    priced: bool = True


@dataclass(frozen=True, slots=True)
class OpenRow:
    """A trade still open when the ticks ran out."""

    trade_id: str
    strategy_id: str
    symbol: str
    side: Side
    quantity: int
    entry_price: int
    last_price: int | None
    unrealized: int | None
    stop: int | None
    target: int | None


@dataclass(frozen=True, slots=True)
class StrategySummary:
    strategy_id: str
    trades: int
    exits: Mapping[ExitReason, int]
    realized: int
    open_trades: int
    unrealized: int
    state: StrategyState
    halt_reason: str | None


@dataclass(frozen=True, slots=True)
class ReplayReport:
    ticks: int
    first_at: int
    last_at: int
    exits: Sequence[ExitRow]
    open_trades: Sequence[OpenRow]
    strategies: Sequence[StrategySummary]
    strategy_changes: Sequence[StrategyChange]
    level_changes: int
    fill_note: str = FILL_ASSUMPTION


@dataclass(slots=True)
class _Run:
    engine: RiskEngine
    exits: list[ExitRow] = field(default_factory=list)
    changes: list[StrategyChange] = field(default_factory=list)
    level_changes: int = 0
    deadlines: list[tuple[int, str]] = field(default_factory=list)

    def enter(self, spec: ReplayTrade, at: int) -> None:
        trade = Trade(
            trade_id=spec.trade_id,
            strategy_id=spec.strategy_id,
            instrument=spec.instrument,
            side=spec.side,
            quantity=spec.quantity,
            entry_price=spec.entry_price,
            entered_at=at,
            rules=spec.rules,
            product=spec.product,
        )
        decisions = self.engine.add_trade(trade, at)
        if trade.deadline is not None:
            heapq.heappush(self.deadlines, (trade.deadline, trade.trade_id))
        self.settle(decisions)

    def settle(self, decisions: Decisions | None) -> None:
        """Fill every exit at its decision price and close it; closing can decide more exits."""
        if not decisions:
            return
        queue = deque([decisions])
        while queue:
            batch = queue.popleft()
            self.level_changes += len(batch.levels)
            self.changes.extend(batch.strategies)
            for decision in batch.exits:
                trade = self.engine.trade(decision.trade_id)
                price = decision.price if decision.price is not None else trade.entry_price
                queue.append(self.engine.close_trade(decision.trade_id, price, decision.at))
                assert trade.realized_pnl is not None
                self.exits.append(
                    ExitRow(
                        at=decision.at,
                        trade_id=decision.trade_id,
                        strategy_id=decision.strategy_id,
                        symbol=decision.symbol,
                        exchange=decision.exchange,
                        side=decision.side,
                        quantity=decision.quantity,
                        entry_price=trade.entry_price,
                        reason=decision.reason,
                        trigger=decision.trigger,
                        price=price,
                        pnl=trade.realized_pnl,
                        priced=decision.price is not None,
                    )
                )


def run_replay(
    strategies: Mapping[str, StrategyRiskConfig],
    trades: Sequence[ReplayTrade],
    ticks: Iterable[Tick],
) -> ReplayReport:
    """Run the engine over `ticks` (sorted by time) and report exits and strategy outcomes."""
    engine = RiskEngine()
    for name, config in strategies.items():
        engine.add_strategy(name, config)
    for spec in trades:
        if spec.strategy_id not in strategies:
            raise ReplayError(f"trade {spec.trade_id}: unknown strategy {spec.strategy_id!r}")
    iterator = iter(ticks)
    first = next(iterator, None)
    if first is None:
        raise ReplayError("no ticks to replay")
    start = first.exchange_ts
    pending = sorted(
        (spec.entered_at if spec.entered_at is not None else start, order, spec)
        for order, spec in enumerate(trades)
    )
    pending.reverse()  # pop() from the end = earliest entry first
    run = _Run(engine)
    count, last = 0, start
    for tick in chain((first,), iterator):
        now = tick.exchange_ts
        if now < last:
            raise ReplayError(f"tick {count + 1}: time goes backwards")
        _advance(run, pending, now)
        run.settle(engine.on_tick(tick, now))
        count, last = count + 1, now
    while pending:  # entered after the last tick: open, never priced
        at, _, spec = pending.pop()
        run.enter(spec, at)
    return ReplayReport(
        ticks=count,
        first_at=start,
        last_at=last,
        exits=tuple(run.exits),
        open_trades=_open_rows(engine),
        strategies=_summaries(engine, strategies, trades, run.exits),
        strategy_changes=tuple(run.changes),
        level_changes=run.level_changes,
    )


def _advance(run: _Run, pending: list[tuple[int, int, ReplayTrade]], now: int) -> None:
    """Process entries and time exits due at or before `now`, in time order (entries first)."""
    heap = run.deadlines
    while True:
        next_entry = pending[-1][0] if pending else None
        next_deadline = heap[0][0] if heap else None
        if (
            next_entry is not None
            and next_entry <= now
            and (next_deadline is None or next_entry <= next_deadline)
        ):
            at, _, spec = pending.pop()
            run.enter(spec, at)
        elif next_deadline is not None and next_deadline <= now:
            at, _ = heapq.heappop(heap)
            run.settle(run.engine.on_clock(at))
        else:
            return


def _open_rows(engine: RiskEngine) -> tuple[OpenRow, ...]:
    rows = []
    for trade in engine.trades():
        last = engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
        rows.append(
            OpenRow(
                trade_id=trade.trade_id,
                strategy_id=trade.strategy_id,
                symbol=trade.instrument.symbol,
                side=trade.side,
                quantity=trade.quantity,
                entry_price=trade.entry_price,
                last_price=last,
                unrealized=trade.pnl_at(last) if last is not None else None,
                stop=trade.stop,
                target=trade.target,
            )
        )
    return tuple(rows)


def _summaries(
    engine: RiskEngine,
    strategies: Mapping[str, StrategyRiskConfig],
    trades: Sequence[ReplayTrade],
    exits: Sequence[ExitRow],
) -> tuple[StrategySummary, ...]:
    out = []
    for name in strategies:
        book = engine.strategy(name)
        mine = [row for row in exits if row.strategy_id == name]
        counts = Counter(row.reason for row in mine)
        unrealized = 0
        for trade in book.trades.values():
            last = engine.last_price(trade.instrument.symbol, trade.instrument.exchange)
            if last is not None:
                unrealized += trade.pnl_at(last)
        out.append(
            StrategySummary(
                strategy_id=name,
                trades=sum(1 for spec in trades if spec.strategy_id == name),
                exits={reason: counts[reason] for reason in ExitReason if counts[reason]},
                realized=sum(row.pnl for row in mine),
                open_trades=book.open_positions,
                unrealized=unrealized,
                state=book.state,
                halt_reason=book.halt_reason,
            )
        )
    return tuple(out)
