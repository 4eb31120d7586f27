"""Benchmarks: the seeded synthetic workload: symbols, strategies, trades and a random walk.

1,000 NSE symbols priced 100..3,000 rupees (tick 0.05). 50 strategies; strategy s trades its
own universe: the 20 symbols s*20..s*20+19 plus 0..20 random others (20..40 symbols, with
overlap between strategies), 200 trades each (10,000 in all), 60% LONG, notional 0.5..2 lakh.

Per-trade rules (drawn independently per trade):
  stop-loss  100%: 70% PERCENT 3..6%, 30% POINTS (4% of the entry price)
  target      60%: PERCENT 6..12%
  trailing    40%: half POINTS (4% of entry), half PERCENT 3..6%;
                   half of them with an activation (PERCENT 1..2%), a quarter with a step (0.5%)
  breakeven   25%: trigger PERCENT 2..3%, buffer one tick
  no time exits (a square-off would close everything at one instant, not a tick-path cost)
Portfolio rules (allocated funds 2 crore each): all 50 a portfolio stop of 1,00,000; 25 a
portfolio target of 1,50,000; 15 a portfolio trailing stop of 80,000 once the peak reaches
20,000; 10 a daily loss limit of 1,20,000.

Ticks: each picks a symbol uniformly and moves its price by a Gaussian step of 0.05% of the
price (at least one tick of noise for cheap symbols), kept on the tick grid and positive; one
tick every 22.5 ms from 09:15 IST, so 1,000,000 ticks span the trading day. Generated once into
compact arrays; only the engine calls are timed.
"""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass
from decimal import Decimal

from tradeguard.core.model import Instrument, Side, Tick
from tradeguard.core.rules import (
    BreakevenRule,
    Level,
    LevelKind,
    Offset,
    TradeRules,
    TrailingRule,
)
from tradeguard.core.strategy import AmountKind, StrategyRiskConfig
from tradeguard.core.trade import Trade

SEED = 20250303
N_SYMBOLS = 1_000
N_STRATEGIES = 50
TRADES_PER_STRATEGY = 200
TICK = 500  # 0.05 rupee in units
T0 = 1_740_973_500 * 1_000_000_000  # 2025-03-03 09:15:00 IST
DT = 22_500_000  # ns between ticks


@dataclass(frozen=True, slots=True)
class TradeSpec:
    trade_id: str
    strategy_id: str
    symbol: int
    side: Side
    quantity: int
    entry: int
    rules: TradeRules


@dataclass(slots=True)
class Workload:
    names: list[str]
    instruments: list[Instrument]
    start_prices: list[int]
    strategies: dict[str, StrategyRiskConfig]
    trades: list[TradeSpec]
    tick_symbols: array  # type: ignore[type-arg]
    tick_prices: array  # type: ignore[type-arg]

    def make_trades(self) -> list[Trade]:
        """Fresh core Trades (each engine run needs its own mutable objects)."""
        return [
            Trade(
                trade_id=s.trade_id,
                strategy_id=s.strategy_id,
                instrument=self.instruments[s.symbol],
                side=s.side,
                quantity=s.quantity,
                entry_price=s.entry,
                entered_at=T0,
                rules=s.rules,
            )
            for s in self.trades
        ]

    def ticks(self, start: int, stop: int) -> list[Tick]:
        names, syms, prices = self.names, self.tick_symbols, self.tick_prices
        return [Tick(names[syms[i]], "NSE", prices[i], T0 + i * DT) for i in range(start, stop)]


def _pct(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.1f}")


def _points(price: int, fraction: float) -> Decimal:
    ticks = max(1, round(price * fraction / TICK))
    return Decimal(ticks * TICK).scaleb(-4)


def _rules(rng: random.Random, entry: int) -> TradeRules:
    if rng.random() < 0.7:
        stop = Level(LevelKind.PERCENT, _pct(rng, 3, 6))
    else:
        stop = Level(LevelKind.POINTS, _points(entry, 0.04))
    target = Level(LevelKind.PERCENT, _pct(rng, 6, 12)) if rng.random() < 0.6 else None
    trailing = None
    if rng.random() < 0.4:
        if rng.random() < 0.5:
            distance = Offset(LevelKind.POINTS, _points(entry, 0.04))
        else:
            distance = Offset(LevelKind.PERCENT, _pct(rng, 3, 6))
        activation = Offset(LevelKind.PERCENT, _pct(rng, 1, 2)) if rng.random() < 0.5 else None
        step = Offset(LevelKind.POINTS, _points(entry, 0.005)) if rng.random() < 0.25 else None
        trailing = TrailingRule(distance, activation, step)
    breakeven = None
    if rng.random() < 0.25:
        breakeven = BreakevenRule(
            Offset(LevelKind.PERCENT, _pct(rng, 2, 3)),
            Offset(LevelKind.POINTS, Decimal(TICK).scaleb(-4)),
        )
    return TradeRules(stop_loss=stop, target=target, trailing=trailing, breakeven=breakeven)


def _strategy(index: int) -> StrategyRiskConfig:
    amount = AmountKind.AMOUNT
    return StrategyRiskConfig(
        allocated_funds=Decimal(20_000_000),
        enable_portfolio_sl=True,
        portfolio_sl_type=amount,
        portfolio_sl_value=Decimal(100_000),
        enable_portfolio_target=index % 2 == 0,
        portfolio_target_type=amount,
        portfolio_target_value=Decimal(150_000),
        enable_portfolio_trailing_sl=index % 10 < 3,
        portfolio_trailing_type=amount,
        portfolio_trailing_value=Decimal(80_000),
        portfolio_trailing_activation=Decimal(20_000) if index % 10 < 3 else None,
        daily_loss_limit=Decimal(120_000) if index % 5 == 1 else None,
    )


def build(n_ticks: int, seed: int = SEED) -> Workload:
    rng = random.Random(seed)
    names = [f"SYM{i:04d}" for i in range(N_SYMBOLS)]
    instruments = [Instrument(name, "NSE", Decimal("0.05")) for name in names]
    prices = [rng.randint(100 * 20, 3_000 * 20) * TICK for _ in range(N_SYMBOLS)]
    strategies = {f"strat{s:02d}": _strategy(s) for s in range(N_STRATEGIES)}
    trades = []
    for s, strategy_id in enumerate(strategies):
        universe = list(range(s * 20, s * 20 + 20))
        universe += rng.sample(range(N_SYMBOLS), rng.randint(0, 20))
        for k in range(TRADES_PER_STRATEGY):
            symbol = rng.choice(universe)
            entry = prices[symbol]
            side = Side.LONG if rng.random() < 0.6 else Side.SHORT
            quantity = max(1, round(rng.uniform(50_000, 200_000) * 10_000 / entry))
            trades.append(
                TradeSpec(
                    f"{strategy_id}-{k}",
                    strategy_id,
                    symbol,
                    side,
                    quantity,
                    entry,
                    _rules(rng, entry),
                )
            )
    tick_symbols = array("H", bytes(2 * n_ticks))
    tick_prices = array("q", bytes(8 * n_ticks))
    walk = list(prices)
    randrange, gauss = rng.randrange, rng.gauss
    for i in range(n_ticks):
        symbol = randrange(N_SYMBOLS)
        price = walk[symbol]
        sigma = max(1.0, price * 0.0005 / TICK)
        price = max(TICK, price + round(gauss(0.0, sigma)) * TICK)
        walk[symbol] = price
        tick_symbols[i] = symbol
        tick_prices[i] = price
    return Workload(names, instruments, prices, strategies, trades, tick_symbols, tick_prices)
