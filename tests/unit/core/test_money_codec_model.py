"""Exact money, the rules/config codec, and the trade state transition table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.core.codec import config_from_dict, config_to_dict, rules_from_dict, rules_to_dict
from tradeguard.core.model import IllegalTransition, TradeState, check_transition
from tradeguard.core.money import MoneyError, fmt, from_units, to_units
from tradeguard.core.rules import RuleError
from tradeguard.core.strategy import StrategyRiskConfig


def test_units_are_exact_and_refuse_excess_precision() -> None:
    assert to_units("0.1") + to_units("0.2") == to_units("0.3")
    assert to_units(Decimal("1234.5678")) == 12_345_678
    assert from_units(to_units("99.8")) == Decimal("99.8")
    assert fmt(to_units("99.8")) == "99.80"
    assert fmt(to_units("0.0025")) == "0.0025"
    for bad in ("1.00001", "abc", "NaN", "inf", True):
        with pytest.raises(MoneyError):
            to_units(bad)  # type: ignore[arg-type]


def test_transition_table() -> None:
    check_transition("t", TradeState.ACTIVE, TradeState.EXITING)
    check_transition("t", TradeState.EXITING, TradeState.CLOSED)
    check_transition("t", TradeState.EXIT_FAILED, TradeState.EXITING)
    for current, new in [
        (TradeState.ACTIVE, TradeState.CLOSED),
        (TradeState.CLOSED, TradeState.ACTIVE),
        (TradeState.CLOSED_EXTERNALLY, TradeState.EXITING),
        (TradeState.ACTIVE, TradeState.EXIT_FAILED),
    ]:
        with pytest.raises(IllegalTransition):
            check_transition("t", current, new)


def test_config_round_trip_and_string_or_number_input() -> None:
    config = config_from_dict(
        {
            "enable_sl": "true",
            "sl_type": "points",
            "sl_value": 5,
            "enable_trailing_sl": True,
            "trailing_sl_value": "1.5",
            "trailing_step_value": "0.5",
            "square_off_time": "15:15",
            "max_open_positions": "3",
            "daily_loss_limit": 2500.5,
            "allocated_funds": "100000",
            "enable_portfolio_sl": True,
            "portfolio_sl_type": "PERCENT",
            "portfolio_sl_value": "2",
        }
    )
    assert config.sl_value == Decimal(5)
    assert config.daily_loss_limit == Decimal("2500.5")
    assert config_from_dict(config_to_dict(config)) == config
    rules = config.trade_rules()
    assert rules_from_dict(rules_to_dict(rules)) == rules


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nonsense": 1}, "unknown strategy setting"),
        ({"enable_sl": "maybe"}, "true/false"),
        ({"sl_type": "FEET"}, "must be one of"),
        ({"max_open_positions": "-1"}, "whole number"),
        ({"enable_sl": True, "sl_value": "0"}, "positive"),
        ({"daily_loss_limit": "lots"}, "not a number"),
        ({"square_off_time": "25:99"}, "HH:MM"),
        (
            {"enable_portfolio_sl": True, "portfolio_sl_type": "PERCENT", "portfolio_sl_value": 2},
            "allocated",
        ),
    ],
)
def test_bad_config_is_refused_with_the_field_named(data: dict, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        config_from_dict(data)


def test_bad_rules_are_refused() -> None:
    with pytest.raises(RuleError, match="unknown field"):
        rules_from_dict({"stop": {"type": "POINTS", "value": 1}})
    with pytest.raises(RuleError, match="type must be one of"):
        rules_from_dict({"stop_loss": {"type": "MILES", "value": 1}})
    with pytest.raises(RuleError, match="whole seconds"):
        rules_from_dict({"max_holding_seconds": "1.5"})
    assert StrategyRiskConfig().trade_rules() == rules_from_dict({})
