"""Core layer: a strategy's risk configuration (every field of the seed's StrategyRiskConfig,
plus tradeguard's additions) and its conversion into per-trade default rules and amounts."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import time
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from tradeguard.core.bounds import MAX_AMOUNT, MAX_HOLDING_SECONDS, MAX_POSITIONS, PLACES, places_ok
from tradeguard.core.money import to_units
from tradeguard.core.rules import (
    BreakevenRule,
    Level,
    LevelKind,
    Offset,
    RuleError,
    TradeRules,
    TrailingRule,
)

ZERO = Decimal(0)


class AmountKind(StrEnum):
    AMOUNT = "AMOUNT"
    PERCENT = "PERCENT"


class SizingKind(StrEnum):
    FIXED_QUANTITY = "FIXED_QUANTITY"
    FIXED_VALUE = "FIXED_VALUE"
    PERCENT_ALLOCATION = "PERCENT_ALLOCATION"


class ExitOrderMode(StrEnum):
    PLACEORDER = "PLACEORDER"
    SMARTORDER = "SMARTORDER"


@dataclass(frozen=True, slots=True)
class StrategyRiskConfig:
    """Risk settings of one strategy. Field names follow the seed design's checklist."""

    # Individual trade defaults (seed)
    enable_sl: bool = False
    sl_type: LevelKind = LevelKind.PERCENT
    sl_value: Decimal = ZERO
    enable_target: bool = False
    target_type: LevelKind = LevelKind.PERCENT
    target_value: Decimal = ZERO
    enable_trailing_sl: bool = False
    trailing_sl_type: LevelKind = LevelKind.PERCENT
    trailing_sl_value: Decimal = ZERO
    # Portfolio settings (seed)
    allocated_funds: Decimal = ZERO
    position_size_type: SizingKind = SizingKind.FIXED_QUANTITY
    position_size_value: Decimal = ZERO
    max_open_positions: int = 5
    daily_loss_limit: Decimal | None = None
    # Portfolio risk controls (seed)
    enable_portfolio_sl: bool = False
    portfolio_sl_type: AmountKind = AmountKind.AMOUNT
    portfolio_sl_value: Decimal = ZERO
    enable_portfolio_target: bool = False
    portfolio_target_type: AmountKind = AmountKind.AMOUNT
    portfolio_target_value: Decimal = ZERO
    enable_portfolio_trailing_sl: bool = False
    portfolio_trailing_type: AmountKind = AmountKind.AMOUNT
    portfolio_trailing_value: Decimal = ZERO
    # tradeguard additions
    trailing_activation_type: LevelKind = LevelKind.POINTS
    trailing_activation_value: Decimal | None = None
    trailing_step_type: LevelKind = LevelKind.POINTS
    trailing_step_value: Decimal | None = None
    enable_breakeven: bool = False
    breakeven_trigger_type: LevelKind = LevelKind.POINTS
    breakeven_trigger_value: Decimal = ZERO
    breakeven_buffer_type: LevelKind = LevelKind.POINTS
    breakeven_buffer_value: Decimal | None = None
    square_off_time: time | None = None
    max_holding_minutes: int | None = None
    portfolio_trailing_activation: Decimal | None = None
    exit_order_mode: ExitOrderMode = ExitOrderMode.PLACEORDER

    def __post_init__(self) -> None:
        self._check_bounds()
        self.trade_rules()  # raises RuleError on an unusable per-trade setting
        if self.allocated_funds < 0:
            raise RuleError("allocated_funds cannot be negative")
        if self.position_size_value < 0:
            raise RuleError("position_size_value cannot be negative")
        if self.position_size_type is SizingKind.PERCENT_ALLOCATION and (
            self.position_size_value > 100
        ):
            raise RuleError("PERCENT_ALLOCATION cannot exceed 100")
        if self.daily_loss_limit is not None and self.daily_loss_limit <= 0:
            raise RuleError("daily_loss_limit must be positive (or unset)")
        for name in ("portfolio_sl", "portfolio_target", "portfolio_trailing"):
            enabled = getattr(
                self,
                f"enable_{name}"
                if name != "portfolio_trailing"
                else "enable_portfolio_trailing_sl",
            )
            if enabled:
                self.portfolio_amount(name)
        if (
            self.portfolio_trailing_activation is not None
            and self.portfolio_trailing_activation <= 0
        ):
            raise RuleError("portfolio_trailing_activation must be positive (or unset)")
        if self.max_holding_minutes is not None and self.max_holding_minutes <= 0:
            raise RuleError("max_holding_minutes must be positive (or unset)")

    def _check_bounds(self) -> None:
        """Every number within core.bounds, so that it fits the database and every view can
        format it: amounts at most MAX_AMOUNT rupees with 4 decimal places, counts bounded."""
        if not 0 <= self.max_open_positions <= MAX_POSITIONS:
            raise RuleError(f"max_open_positions must be 0 to {MAX_POSITIONS}")
        if self.max_holding_minutes is not None and not (
            0 < self.max_holding_minutes <= MAX_HOLDING_SECONDS // 60
        ):
            raise RuleError(
                f"max_holding_minutes must be 1 to {MAX_HOLDING_SECONDS // 60} (or unset)"
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, Decimal):
                continue
            if not value.is_finite() or not 0 <= value <= MAX_AMOUNT:
                raise RuleError(f"{f.name} must be 0 to {MAX_AMOUNT:,} (was {value})")
            if not places_ok(value):
                raise RuleError(f"{f.name} has more than {PLACES} decimal places (was {value})")

    def trade_rules(self) -> TradeRules:
        """The default rules a new trade of this strategy gets (RuleError names the setting)."""
        trailing = None
        if self.enable_trailing_sl:
            trailing = TrailingRule(
                distance=_named("trailing_sl_value", self.trailing_sl_type, self.trailing_sl_value),
                activation=_offset(
                    "trailing_activation_value",
                    self.trailing_activation_type,
                    self.trailing_activation_value,
                ),
                step=_offset(
                    "trailing_step_value", self.trailing_step_type, self.trailing_step_value
                ),
            )
        breakeven = None
        if self.enable_breakeven:
            breakeven = BreakevenRule(
                trigger=_named(
                    "breakeven_trigger_value",
                    self.breakeven_trigger_type,
                    self.breakeven_trigger_value,
                ),
                buffer=_offset(
                    "breakeven_buffer_value",
                    self.breakeven_buffer_type,
                    self.breakeven_buffer_value,
                ),
            )
        return TradeRules(
            stop_loss=(_level("sl_value", self.sl_type, self.sl_value) if self.enable_sl else None),
            target=(
                _level("target_value", self.target_type, self.target_value)
                if self.enable_target
                else None
            ),
            trailing=trailing,
            breakeven=breakeven,
            square_off=self.square_off_time,
            max_holding_seconds=(
                self.max_holding_minutes * 60 if self.max_holding_minutes is not None else None
            ),
        )

    def portfolio_amount(self, name: str) -> int:
        """A portfolio threshold in integer units: `name` is portfolio_sl / _target / _trailing."""
        kind: AmountKind = getattr(self, f"{name}_type")
        value: Decimal = getattr(self, f"{name}_value")
        if value <= 0:
            raise RuleError(f"{name}_value must be positive when enabled")
        return self._amount(kind, value, name)

    def _amount(self, kind: AmountKind, value: Decimal, name: str) -> int:
        if kind is AmountKind.AMOUNT:
            return to_units(value)
        if self.allocated_funds <= 0:
            raise RuleError(f"{name} is a PERCENT of allocated funds, but none are allocated")
        if value >= 100:
            raise RuleError(f"{name} PERCENT must be below 100")
        exact = to_units(self.allocated_funds) * Fraction(value) / 100
        return int(exact)

    def trailing_activation_units(self) -> int | None:
        if self.portfolio_trailing_activation is None:
            return None
        return self._amount(
            self.portfolio_trailing_type, self.portfolio_trailing_activation, "activation"
        )

    def replace(self, **changes: object) -> StrategyRiskConfig:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        unknown = set(changes) - set(values)
        if unknown:
            raise RuleError(f"unknown strategy settings: {', '.join(sorted(unknown))}")
        values.update(changes)
        return StrategyRiskConfig(**values)


def _named(name: str, kind: LevelKind, value: Decimal) -> Offset:
    try:
        return Offset(kind, value)
    except RuleError as error:
        raise RuleError(f"{name}: {error}") from None


def _offset(name: str, kind: LevelKind, value: Decimal | None) -> Offset | None:
    return None if value is None else _named(name, kind, value)


def _level(name: str, kind: LevelKind, value: Decimal) -> Level:
    try:
        return Level(kind, value)
    except RuleError as error:
        raise RuleError(f"{name}: {error}") from None
