"""Core layer: a monitored trade and its per-trade rule evaluation.

Levels are pure functions of (rules, side, entry, best price): a restart that restores the best
price restores every level exactly. `lo`/`hi` form the trade's quiet band: a price strictly
inside it changes nothing, so the tick path can skip the trade with two comparisons. The band
is bounded by the stop, the target and the *wake* price (levels.py): the first price at which a
best-dependent level (trailing, breakeven) can move. A trade whose levels cannot move (no trail,
breakeven absent or armed) is therefore not evaluated on a new best price. Its best price stays
exact lazily: while watched, a trade is attached to its symbol's `PriceRun` (the highest and
lowest price since the run was last reset) and `best` folds the run in whenever it is read.
"""

from __future__ import annotations

from tradeguard.core.decisions import LevelChange
from tradeguard.core.levels import LevelPlan
from tradeguard.core.model import (
    ExitReason,
    Instrument,
    Product,
    Side,
    TradeState,
    check_transition,
)
from tradeguard.core.rules import TradeRules, stop_price, target_price, validate_offsets
from tradeguard.core.timeutil import NS_PER_SECOND, next_time_of_day

NEG = -(1 << 62)
POS = 1 << 62


class PriceRun:
    """The highest and lowest price of one symbol since the run was last reset.

    The engine resets a run only after folding it into every trade attached to it, and attaches
    a trade only right after a reset, so a run never holds a price from before a trade joined.
    """

    __slots__ = ("run_hi", "run_lo")

    def __init__(self) -> None:
        self.run_hi = NEG
        self.run_lo = POS

    def reset(self) -> None:
        self.run_hi = NEG
        self.run_lo = POS


class Trade:
    """A position tradeguard protects. Mutable; owned by exactly one engine."""

    __slots__ = (
        "_best",
        "account",
        "best_moved",
        "breakeven",
        "closed_at",
        "deadline",
        "deadline_reason",
        "due",
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
        "plan",
        "product",
        "quantity",
        "realized_pnl",
        "rules",
        "run",
        "side",
        "sign",
        "state",
        "stop",
        "stop_reason",
        "strategy_id",
        "target",
        "trade_id",
        "trailing",
        "wake",
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
        self.rules = rules if rules is not None else TradeRules()  # validated by apply_rules
        if best is None or side.sign * (best - entry_price) < 0:
            best = entry_price
        self._best = best
        self.run: PriceRun | None = None
        self.best_moved = False  # folded from the run since the engine last looked (dirty)
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
        self.wake = POS
        self.deadline: int | None = None  # when the time exit is checked next (may be deferred)
        self.deadline_reason: ExitReason | None = None
        self.due: int | None = None  # when the rules make the time exit due
        self.apply_rules(self.rules)

    @property
    def best(self) -> int:
        """The best price since entry (highest for LONG, lowest for SHORT), always exact."""
        self.fold()
        return self._best

    @best.setter
    def best(self, value: int) -> None:
        self._best = value

    def fold(self) -> None:
        """Fold the attached symbol run into the best price (sets `best_moved` if it moved)."""
        run = self.run
        if run is not None:
            seen = run.run_hi if self.sign > 0 else run.run_lo
            if self.sign * (seen - self._best) > 0:
                self._best = seen
                self.best_moved = True

    # -- levels ---------------------------------------------------------------------------

    def apply_rules(self, rules: TradeRules) -> None:
        """Install (possibly edited) rules and recompute every level and the deadline."""
        tick = self.instrument.tick
        entry = self.entry_price
        # Each of these raises RuleError on a setting that cannot work; nothing is assigned
        # until all of them passed (an edit that fails changes nothing). A stop must be on the
        # losing side of the best price since entry, so a stop beyond the entry locks profit.
        initial_stop = (
            stop_price(rules.stop_loss, self.side, entry, tick, self.best)
            if rules.stop_loss
            else None
        )
        target = target_price(rules.target, self.side, entry, tick) if rules.target else None
        validate_offsets(rules, entry, tick)
        plan = LevelPlan(rules, self.side, entry, tick)
        self.rules = rules
        self.plan = plan
        self.initial_stop = initial_stop
        self.target = target
        deadlines: list[tuple[int, ExitReason]] = []
        if rules.square_off is not None:
            deadlines.append(
                (next_time_of_day(self.entered_at, rules.square_off), ExitReason.SQUARE_OFF)
            )
        if rules.max_holding_seconds is not None:
            at = self.entered_at + rules.max_holding_seconds * NS_PER_SECOND
            deadlines.append((at, ExitReason.MAX_HOLDING))
        self.deadline, self.deadline_reason = min(deadlines) if deadlines else (None, None)
        self.due = self.deadline
        self._recompute_stop()

    def _recompute_stop(self) -> None:
        # `self.best` folds the symbol run in: an edit sees the exact best price.
        self.trailing, self.breakeven, self.wake = self.plan.levels(self.best)
        self._combine()
        self._refresh_band()

    def _combine(self) -> None:
        """The effective stop: the tightest component; on a tie the earlier one names it."""
        stop, reason = self.initial_stop, ExitReason.STOP_LOSS if self.initial_stop else None
        sign = self.sign
        breakeven, trailing = self.breakeven, self.trailing
        if breakeven is not None and (stop is None or sign * (breakeven - stop) > 0):
            stop, reason = breakeven, ExitReason.BREAKEVEN_STOP
        if trailing is not None and (stop is None or sign * (trailing - stop) > 0):
            stop, reason = trailing, ExitReason.TRAILING_STOP
        self.stop, self.stop_reason = stop, reason

    def _refresh_band(self) -> None:
        stop, target = self.stop, self.target
        if self.sign > 0:
            self.lo = stop if stop is not None else NEG
            wake = self.entry_price + self.wake
            self.hi = target if target is not None and target < wake else min(wake, POS)
        else:
            self.hi = stop if stop is not None else POS
            wake = self.entry_price - self.wake
            self.lo = target if target is not None and target > wake else max(wake, NEG)

    def _move_levels(self) -> bool:
        """The best price reached the wake move: recompute trailing/breakeven (identical to
        the Fraction reference in rules.py, see levels.py). Returns whether a level changed."""
        trailing, breakeven, self.wake = self.plan.levels(self._best)
        changed = trailing != self.trailing or breakeven != self.breakeven
        if changed:
            self.trailing, self.breakeven = trailing, breakeven
            self._combine()
        self._refresh_band()
        return changed

    # -- evaluation -----------------------------------------------------------------------

    def on_price(self, ltp: int) -> tuple[ExitReason | None, int | None, bool]:
        """Evaluate one price outside the quiet band.

        Returns (reason, trigger level, levels changed). Updates the best price first, so a
        new high can move the trail before the stop is compared (it can never cross it: the
        trail sits at least one tick behind the best price).
        """
        sign = self.sign
        best = self._best
        run = self.run
        if run is not None:  # inline fold: prices seen on the symbol while not evaluated
            seen = run.run_hi if sign > 0 else run.run_lo
            if sign * (seen - best) > 0:
                best = seen
        if sign * (ltp - best) > 0:
            best = ltp
        self._best = best
        changed = sign * (best - self.entry_price) >= self.wake and self._move_levels()
        stop = self.stop
        if stop is not None and sign * (ltp - stop) <= 0:
            return self.stop_reason, stop, changed
        target = self.target
        if target is not None and sign * (ltp - target) >= 0:
            return ExitReason.TARGET, target, changed
        return None, None, changed

    def level_change(self) -> LevelChange:
        # Positional (trade_id, best, stop, stop_reason, target, trailing, breakeven): cheaper.
        return LevelChange(
            self.trade_id,
            self.best,
            self.stop,
            self.stop_reason,
            self.target,
            self.trailing,
            self.breakeven,
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
