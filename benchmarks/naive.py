"""Benchmarks: the naive baseline the engine is compared with.

On every tick it rescans all trades (calling the same core Trade.on_price for the ACTIVE trades
on the tick's symbol) and recomputes every strategy's P&L from scratch over all its trades,
then checks the same portfolio thresholds. Same decisions in spirit, none of the engine's
indexing, quiet bands or incremental P&L.
"""

from __future__ import annotations

from tradeguard.core.model import ExitReason, Tick, TradeState
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade


class NaiveEngine:
    def __init__(self, strategies: dict[str, StrategyRiskConfig], trades: list[Trade]) -> None:
        self.trades = trades
        self.last: dict[str, int] = {}
        self.by_strategy: dict[str, list[Trade]] = {name: [] for name in strategies}
        for trade in trades:
            self.by_strategy[trade.strategy_id].append(trade)
        self.limits = {
            name: (
                config.portfolio_amount("portfolio_sl") if config.enable_portfolio_sl else None,
                config.portfolio_amount("portfolio_target")
                if config.enable_portfolio_target
                else None,
            )
            for name, config in strategies.items()
        }
        self.halted: set[str] = set()

    def on_tick(self, tick: Tick, now: int) -> list[tuple[str, ExitReason]]:
        ltp, symbol = tick.ltp, tick.symbol
        self.last[symbol] = ltp
        exits: list[tuple[str, ExitReason]] = []
        for trade in self.trades:
            if trade.state is TradeState.ACTIVE and trade.instrument.symbol == symbol:
                reason, _, _ = trade.on_price(ltp)
                if reason is not None:
                    trade.transition(TradeState.EXITING)
                    exits.append((trade.trade_id, reason))
        last = self.last
        for name, trades in self.by_strategy.items():
            pnl = 0
            for trade in trades:
                price = last.get(trade.instrument.symbol)
                if price is not None:
                    pnl += trade.pnl_at(price)
            stop, target = self.limits[name]
            if name in self.halted:
                continue
            if stop is not None and pnl <= -stop:
                exits.extend(self._exit_all(name, ExitReason.PORTFOLIO_STOP))
            elif target is not None and pnl >= target:
                exits.extend(self._exit_all(name, ExitReason.PORTFOLIO_TARGET))
        return exits

    def _exit_all(self, name: str, reason: ExitReason) -> list[tuple[str, ExitReason]]:
        self.halted.add(name)
        out = []
        for trade in self.by_strategy[name]:
            if trade.state is TradeState.ACTIVE:
                trade.transition(TradeState.EXITING)
                out.append((trade.trade_id, reason))
        return out
