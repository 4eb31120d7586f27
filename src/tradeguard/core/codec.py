"""Core layer: rules and strategy configuration to and from plain dicts (JSON/TOML shapes).

Numbers are written as strings so no binary float ever touches a price; reading accepts
strings or numbers (as OpenAlgo clients send them) and refuses unknown keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import time
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from tradeguard.core.bounds import plain_decimal, plain_whole
from tradeguard.core.rules import (
    BreakevenRule,
    Level,
    LevelKind,
    Offset,
    RuleError,
    TradeRules,
    TrailingRule,
)
from tradeguard.core.strategy import StrategyRiskConfig


def decimal_of(value: object, name: str) -> Decimal:
    """Parse a string-or-number into Decimal; bools, NaN and junk are refused by name. Text
    must be ASCII decimal (core.bounds): no Unicode digits, underscores or exponents."""
    if isinstance(value, bool) or value is None:
        raise RuleError(f"{name}: expected a number, was {value!r}")
    dec: Decimal | None
    if isinstance(value, str):
        dec = plain_decimal(value)
        if dec is None:
            raise RuleError(f"{name}: not a number: {value!r}")
        return dec
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float | Decimal):
        try:
            dec = Decimal(repr(value)) if isinstance(value, float) else value
        except InvalidOperation:
            raise RuleError(f"{name}: not a number: {value!r}") from None
        if not dec.is_finite():
            raise RuleError(f"{name}: not a finite number: {value!r}")
        return dec
    raise RuleError(f"{name}: expected a number, was {value!r}")


_KINDS = {kind.value: kind for kind in LevelKind}


def _kind(value: object, name: str) -> LevelKind:
    kind = _KINDS.get(value) if isinstance(value, str) else None
    if kind is not None:
        return kind
    try:
        return LevelKind(str(value).upper())
    except ValueError:
        allowed = ", ".join(k.value for k in LevelKind)
        raise RuleError(f"{name}: type must be one of {allowed}, was {value!r}") from None


def _check_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise RuleError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")


def _pair_from(data: object, name: str) -> tuple[LevelKind, Decimal]:
    if not isinstance(data, dict):
        raise RuleError(f"{name}: expected {{type, value}}, was {data!r}")
    _check_keys(data, {"type", "value"}, name)
    if "type" not in data or "value" not in data:
        raise RuleError(f"{name}: needs both type and value")
    return _kind(data["type"], name), decimal_of(data["value"], name)


def _pair_to(kind: LevelKind, value: Decimal) -> dict[str, str]:
    return {"type": kind.value, "value": str(value)}


def parse_time(value: object, name: str) -> time:
    try:
        hour, minute = str(value).split(":")
        return time(int(hour), int(minute))
    except (ValueError, TypeError):
        raise RuleError(f"{name}: expected HH:MM (IST), was {value!r}") from None


def rules_to_dict(rules: TradeRules) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rules.stop_loss:
        out["stop_loss"] = _pair_to(rules.stop_loss.kind, rules.stop_loss.value)
    if rules.target:
        out["target"] = _pair_to(rules.target.kind, rules.target.value)
    if rules.trailing:
        trail: dict[str, Any] = _pair_to(
            rules.trailing.distance.kind, rules.trailing.distance.value
        )
        if rules.trailing.activation:
            trail["activation"] = _pair_to(
                rules.trailing.activation.kind, rules.trailing.activation.value
            )
        if rules.trailing.step:
            trail["step"] = _pair_to(rules.trailing.step.kind, rules.trailing.step.value)
        out["trailing"] = trail
    if rules.breakeven:
        be: dict[str, Any] = {
            "trigger": _pair_to(rules.breakeven.trigger.kind, rules.breakeven.trigger.value)
        }
        if rules.breakeven.buffer:
            be["buffer"] = _pair_to(rules.breakeven.buffer.kind, rules.breakeven.buffer.value)
        out["breakeven"] = be
    if rules.square_off is not None:
        out["square_off"] = rules.square_off.strftime("%H:%M")
    if rules.max_holding_seconds is not None:
        out["max_holding_seconds"] = rules.max_holding_seconds
    return out


def rules_from_dict(data: dict[str, Any]) -> TradeRules:
    """Inverse of rules_to_dict; raises RuleError with the offending field's name."""
    _check_keys(
        data,
        {"stop_loss", "target", "trailing", "breakeven", "square_off", "max_holding_seconds"},
        "rules",
    )
    stop = target = None
    if data.get("stop_loss") is not None:
        stop = Level(*_pair_from(data["stop_loss"], "stop_loss"))
    if data.get("target") is not None:
        target = Level(*_pair_from(data["target"], "target"))
    trailing = None
    if data.get("trailing") is not None:
        raw = data["trailing"]
        if not isinstance(raw, dict):
            raise RuleError("trailing: expected an object")
        _check_keys(raw, {"type", "value", "activation", "step"}, "trailing")
        distance = Offset(*_pair_from({k: raw.get(k) for k in ("type", "value")}, "trailing"))
        activation = (
            Offset(*_pair_from(raw["activation"], "trailing.activation"))
            if raw.get("activation") is not None
            else None
        )
        step = (
            Offset(*_pair_from(raw["step"], "trailing.step"))
            if raw.get("step") is not None
            else None
        )
        trailing = TrailingRule(distance, activation, step)
    breakeven = None
    if data.get("breakeven") is not None:
        raw = data["breakeven"]
        if not isinstance(raw, dict):
            raise RuleError("breakeven: expected an object")
        _check_keys(raw, {"trigger", "buffer"}, "breakeven")
        trigger = Offset(*_pair_from(raw.get("trigger"), "breakeven.trigger"))
        buffer = (
            Offset(*_pair_from(raw["buffer"], "breakeven.buffer"))
            if raw.get("buffer") is not None
            else None
        )
        breakeven = BreakevenRule(trigger, buffer)
    square_off = None
    if data.get("square_off") is not None:
        square_off = parse_time(data["square_off"], "square_off")
    max_hold = data.get("max_holding_seconds")
    if max_hold is not None:
        if isinstance(max_hold, str):
            max_hold = plain_whole(max_hold)
        if isinstance(max_hold, bool) or not isinstance(max_hold, int) or max_hold <= 0:
            raise RuleError(
                f"max_holding_seconds: expected whole seconds, was {data['max_holding_seconds']!r}"
            )
    return TradeRules(stop, target, trailing, breakeven, square_off, max_hold)


def merge_rules(base: TradeRules, overrides: Mapping[str, Any]) -> TradeRules:
    """`base` with `overrides` applied key by key, in rules_to_dict's shape; a key whose value
    is None removes that rule. Raises RuleError naming the offending field."""
    merged = rules_to_dict(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return rules_from_dict(merged)


def config_to_dict(config: StrategyRiskConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, time):
            value = value.strftime("%H:%M")
        out[f.name] = value
    return out


def config_from_dict(
    data: dict[str, Any], base: StrategyRiskConfig | None = None
) -> StrategyRiskConfig:
    """Build a config from a (partial) dict over `base`; every value is type-checked."""
    base = base or StrategyRiskConfig()
    known = {f.name: f for f in fields(base)}
    changes: dict[str, object] = {}
    for name, raw in data.items():
        if name not in known:
            raise RuleError(f"unknown strategy setting {name!r}")
        current = getattr(base, name)
        changes[name] = _coerce(name, raw, current, str(known[name].type))
    return base.replace(**changes)


def _coerce(name: str, raw: object, current: object, annotation: str) -> object:
    if raw is None:
        if "None" in annotation:
            return None
        raise RuleError(f"{name} cannot be empty")
    if isinstance(current, bool) or annotation == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise RuleError(f"{name}: expected true/false, was {raw!r}")
    if isinstance(current, Enum):
        enum_type = type(current)
        try:
            return enum_type(str(raw).upper())
        except ValueError:
            allowed = ", ".join(str(m.value) for m in enum_type)
            raise RuleError(f"{name}: must be one of {allowed}, was {raw!r}") from None
    if "time" in annotation:
        return parse_time(raw, name)
    if "int" in annotation and "Decimal" not in annotation:
        return _whole_of(raw, name)
    return decimal_of(raw, name)


def _whole_of(raw: object, name: str) -> int:
    whole = plain_whole(raw) if isinstance(raw, str) else raw
    if isinstance(whole, bool) or not isinstance(whole, int) or whole < 0:
        raise RuleError(f"{name}: expected a whole number, was {raw!r}")
    return whole
