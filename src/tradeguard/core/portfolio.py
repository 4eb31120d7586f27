"""Core layer: one strategy's book: incremental P&L and the portfolio rules on it.

`pnl` is the strategy's day P&L: realized P&L of trades closed today plus unrealized P&L of its
open trades at their last prices. The engine adds each symbol's change as ticks arrive; nothing
here ever rescans trades. Portfolio stop, target and trailing measure `pnl - baseline` (the
baseline moves only when a halted strategy is resumed by hand); the daily loss limit measures
`pnl` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeguard.core.model import ExitReason, StrategyState
from tradeguard.core.money import to_units
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import NEG, POS

if TYPE_CHECKING:
    from tradeguard.core.trade import Trade


class StrategyBook:
    """Live state of one strategy inside the engine."""

    __slots__ = (
        "activation",
        "baseline",
        "config",
        "daily_limit",
        "exposure",
        "halt_reason",
        "hi",
        "lo",
        "peak",
        "pnl",
        "realized",
        "sl_amount",
        "state",
        "strategy_id",
        "target_amount",
        "trades",
        "trail_amount",
        "trailing_level",
    )

    def __init__(
        self,
        strategy_id: str,
        config: StrategyRiskConfig,
        *,
        state: StrategyState = StrategyState.ACTIVE,
        realized: int = 0,
        baseline: int = 0,
        peak: int | None = None,
        halt_reason: str | None = None,
    ) -> None:
        self.strategy_id = strategy_id
        self.state = state
        self.halt_reason = halt_reason
        self.realized = realized
        self.pnl = realized
        self.baseline = baseline
        self.peak = peak if peak is not None else realized - baseline
        self.trailing_level: int | None = None
        self.trades: dict[str, Trade] = {}
        self.exposure = 0
        self.lo = NEG
        self.hi = POS
        self.configure(config)

    def configure(self, config: StrategyRiskConfig) -> None:
        self.config = config
        self.sl_amount = (
            config.portfolio_amount("portfolio_sl") if config.enable_portfolio_sl else None
        )
        self.target_amount = (
            config.portfolio_amount("portfolio_target") if config.enable_portfolio_target else None
        )
        self.trail_amount = (
            config.portfolio_amount("portfolio_trailing")
            if config.enable_portfolio_trailing_sl
            else None
        )
        self.activation = config.trailing_activation_units()
        self.daily_limit = (
            to_units(config.daily_loss_limit) if config.daily_loss_limit is not None else None
        )
        self._update_trailing()
        self.refresh_band()

    # -- P&L rules ------------------------------------------------------------------------

    @property
    def rule_pnl(self) -> int:
        return self.pnl - self.baseline

    @property
    def watching(self) -> bool:
        """Portfolio rules run while ACTIVE or PAUSED (a pause only blocks new trades); a
        HALTED strategy's rules have fired. Trade rules run in every state (core.engine)."""
        return self.state is not StrategyState.HALTED

    def _update_trailing(self) -> None:
        if self.trail_amount is None:
            self.trailing_level = None
            return
        if self.activation is not None and self.peak < self.activation:
            self.trailing_level = None
            return
        self.trailing_level = self.peak - self.trail_amount

    def refresh_band(self) -> None:
        """Recompute the quiet band: a day P&L strictly inside (lo, hi) changes nothing."""
        if not self.watching:
            self.lo, self.hi = NEG, POS
            return
        base = self.baseline
        lo, hi = NEG, POS
        if self.daily_limit is not None:
            lo = max(lo, -self.daily_limit)
        if self.sl_amount is not None:
            lo = max(lo, base - self.sl_amount)
        if self.trailing_level is not None:
            lo = max(lo, base + self.trailing_level)
        if self.target_amount is not None:
            hi = min(hi, base + self.target_amount)
        if self.trail_amount is not None:
            hi = min(hi, base + self.peak + 1)
        self.lo, self.hi = lo, hi

    def evaluate(self) -> tuple[ExitReason | None, int | None, bool]:
        """Check the rules on the current P&L (called only outside the quiet band).

        Returns (reason, trigger amount, levels changed). Precedence when several hold at
        once: daily loss limit, portfolio stop, portfolio trailing, portfolio target.
        """
        changed = False
        rule_pnl = self.pnl - self.baseline
        if self.trail_amount is not None and rule_pnl > self.peak:
            self.peak = rule_pnl
            before = self.trailing_level
            self._update_trailing()
            changed = True if before != self.trailing_level else changed
        self.refresh_band()
        if self.daily_limit is not None and self.pnl <= -self.daily_limit:
            return ExitReason.DAILY_LOSS_LIMIT, -self.daily_limit, changed
        if self.sl_amount is not None and rule_pnl <= -self.sl_amount:
            return ExitReason.PORTFOLIO_STOP, -self.sl_amount, changed
        if self.trailing_level is not None and rule_pnl <= self.trailing_level:
            return ExitReason.PORTFOLIO_TRAILING, self.trailing_level, changed
        if self.target_amount is not None and rule_pnl >= self.target_amount:
            return ExitReason.PORTFOLIO_TARGET, self.target_amount, changed
        return None, None, changed

    # -- state ----------------------------------------------------------------------------

    def halt(self, reason: str) -> None:
        self.state = StrategyState.HALTED
        self.halt_reason = reason
        self.refresh_band()

    def rebase(self) -> None:
        """Start the portfolio rules afresh from the current P&L (manual resume, new day)."""
        self.baseline = self.pnl
        self.peak = 0
        self._update_trailing()
        self.refresh_band()

    def new_day(self) -> None:
        """Realized P&L belongs to the day it was made in; the rules start from the open book."""
        self.pnl -= self.realized
        self.realized = 0
        self.baseline = 0
        self.peak = self.pnl
        if self.state is StrategyState.HALTED:
            self.state = StrategyState.ACTIVE
            self.halt_reason = None
        self._update_trailing()
        self.refresh_band()

    @property
    def open_positions(self) -> int:
        """Trades still held (ACTIVE, EXITING or EXIT_FAILED): `trades` keeps only those."""
        return len(self.trades)
