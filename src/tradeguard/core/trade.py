"""Core layer: a monitored trade and its per-trade rule evaluation.

Levels are pure functions of (rules, side, entry, best price): a restart that restores the best
price restores every level exactly. `lo`/`hi` form the trade's quiet band: a price strictly
inside it changes nothing, so the tick path can skip the trade with two comparisons.
"""

from __future__ import annotations

from tradeguard.core.decisions import LevelChange
from tradeguard.core.model import (
    ExitReason,
    Instrument,
    Product,
    Side,
    TradeState,
    check_transition,
)
from tradeguard.core.rules import (
    TradeRules,
    breakeven_price,
    stop_price,
    target_price,
    trailing_price,
    validate_rules,
)
from tradeguard.core.timeutil import NS_PER_SECOND, next_time_of_day

NEG = -(1 << 62)
POS = 1 << 62


class Trade:
    """A position tradeguard protects. Mutable; owned by exactly one engine."""

    __slots__ = (
        "account",
        "best",
        "breakeven",
        "closed_at",
        "deadline",
        "deadline_reason",
        "entered_at",
        "entry_order_id",
        "entry_price",
        "exit_price",
        "exit_reason",
        "exit_trigger",
        "hi",
        "initial_stop",
        "instrument",
        "lo",
        "product",
        "quantity",
        "realized_pnl",
        "rules",
        "side",
        "sign",
        "state",
        "stop",
        "stop_reason",
        "strategy_id",
        "target",
        "trade_id",
        "trailing",
    )

    def __init__(
        self,
        *,
        trade_id: str,
        strategy_id: str,
        instrument: Instrument,
        side: Side,
        quantity: int,
        entry_price: int,
        entered_at: int,
        rules: TradeRules | None = None,
        product: Product = Product.MIS,
        account: str = "default",
        entry_order_id: str | None = None,
        state: TradeState = TradeState.ACTIVE,
        best: int | None = None,
    ) -> None:
        if quantity <= 0:
            raise ValueError(f"trade {trade_id}: quantity must be positive, was {quantity}")
        if entry_price <= 0:
            raise ValueError(f"trade {trade_id}: entry price must be positive")
        self.trade_id = trade_id
        self.strategy_id = strategy_id
        self.account = account
        self.instrument = instrument
        self.side = side
        self.sign = side.sign
        self.product = product
        self.quantity = quantity
        self.entry_price = entry_price
        self.entry_order_id = entry_order_id
        self.entered_at = entered_at
        self.state = state
        self.rules = rules if rules is not None else TradeRules()
        validate_rules(self.rules, side, entry_price, instrument.tick)
        if best is None or side.sign * (best - entry_price) < 0:
            best = entry_price
        self.best = best
        self.exit_reason: ExitReason | None = None
        self.exit_trigger: int | None = None
        self.exit_price: int | None = None
        self.realized_pnl: int | None = None
        self.closed_at: int | None = None
        self.stop: int | None = None
        self.stop_reason: ExitReason | None = None
        self.initial_stop: int | None = None
        self.target: int | None = None
        self.trailing: int | None = None
        self.breakeven: int | None = None
        self.lo = NEG
        self.hi = POS
        self.deadline: int | None = None
        self.deadline_reason: ExitReason | None = None
        self.apply_rules(self.rules)

    # -- levels ---------------------------------------------------------------------------

    def apply_rules(self, rules: TradeRules) -> None:
        """Install (possibly edited) rules and recompute every level and the deadline."""
        tick = self.instrument.tick
        validate_rules(rules, self.side, self.entry_price, tick)
        self.rules = rules
        entry = self.entry_price
        self.initial_stop = (
            stop_price(rules.stop_loss, self.side, entry, tick) if rules.stop_loss else None
        )
        self.target = target_price(rules.target, self.side, entry, tick) if rules.target else None
        deadlines: list[tuple[int, ExitReason]] = []
        if rules.square_off is not None:
            deadlines.append(
                (next_time_of_day(self.entered_at, rules.square_off), ExitReason.SQUARE_OFF)
            )
        if rules.max_holding_seconds is not None:
            at = self.entered_at + rules.max_holding_seconds * NS_PER_SECOND
            deadlines.append((at, ExitReason.MAX_HOLDING))
        self.deadline, self.deadline_reason = min(deadlines) if deadlines else (None, None)
        self._recompute_stop()

    def _recompute_stop(self) -> None:
        rules, side, entry, best, tick = (
            self.rules,
            self.side,
            self.entry_price,
            self.best,
            self.instrument.tick,
        )
        self.trailing = (
            trailing_price(rules.trailing, side, entry, best, tick) if rules.trailing else None
        )
        self.breakeven = (
            breakeven_price(rules.breakeven, side, entry, best, tick) if rules.breakeven else None
        )
        stop, reason = self.initial_stop, ExitReason.STOP_LOSS if self.initial_stop else None
        # Tightest wins; on a tie the earlier entry in this order names the reason.
        for level, why in (
            (self.breakeven, ExitReason.BREAKEVEN_STOP),
            (self.trailing, ExitReason.TRAILING_STOP),
        ):
            if level is not None and (stop is None or self.sign * (level - stop) > 0):
                stop, reason = level, why
        self.stop, self.stop_reason = stop, reason
        self._refresh_band()

    def _refresh_band(self) -> None:
        if self.sign > 0:
            self.lo = self.stop if self.stop is not None else NEG
            self.hi = min(self.target if self.target is not None else POS, self.best + 1)
        else:
            self.hi = self.stop if self.stop is not None else POS
            self.lo = max(self.target if self.target is not None else NEG, self.best - 1)

    @property
    def _moves_with_best(self) -> bool:
        return self.rules.trailing is not None or (
            self.rules.breakeven is not None and self.breakeven is None
        )

    # -- evaluation -----------------------------------------------------------------------

    def on_price(self, ltp: int) -> tuple[ExitReason | None, int | None, bool]:
        """Evaluate one price outside the quiet band.

        Returns (reason, trigger level, levels changed). Updates the best price first, so a
        new high can move the trail before the stop is compared (it can never cross it: the
        trail sits at least one tick behind the best price).
        """
        changed = False
        if self.sign * (ltp - self.best) > 0:
            self.best = ltp
            if self._moves_with_best:
                before = (self.stop, self.trailing, self.breakeven)
                self._recompute_stop()
                changed = before != (self.stop, self.trailing, self.breakeven)
            else:
                self._refresh_band()
        stop, target = self.stop, self.target
        if stop is not None and self.sign * (ltp - stop) <= 0:
            return self.stop_reason, stop, changed
        if target is not None and self.sign * (ltp - target) >= 0:
            return ExitReason.TARGET, target, changed
        return None, None, changed

    def level_change(self) -> LevelChange:
        return LevelChange(
            trade_id=self.trade_id,
            best=self.best,
            stop=self.stop,
            stop_reason=self.stop_reason,
            target=self.target,
            trailing=self.trailing,
            breakeven=self.breakeven,
        )

    # -- lifecycle ------------------------------------------------------------------------

    def transition(self, new: TradeState) -> None:
        check_transition(self.trade_id, self.state, new)
        self.state = new

    def pnl_at(self, price: int) -> int:
        """P&L in units if the open quantity were closed at `price`."""
        return self.sign * (price - self.entry_price) * self.quantity

    def __repr__(self) -> str:
        return (
            f"Trade({self.trade_id} {self.side} {self.quantity} {self.instrument.key} "
            f"@{self.entry_price} {self.state})"
        )
