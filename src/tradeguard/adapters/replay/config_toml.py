"""Adapters layer: read the replay configuration (TOML) into strategies and trades.

Shape (examples/strategies.toml is a full example)::

    [strategies.momentum]          # StrategyRiskConfig fields, as core.codec.config_from_dict
    enable_sl = true
    sl_type = "PERCENT"
    sl_value = 1
    square_off_time = "11:30"      # IST; a bare TOML time 11:30:00 works too

    [[trades]]
    id = "T1"                      # required: id, strategy, symbol, exchange, side,
    strategy = "momentum"          #   quantity, entry_price
    symbol = "RELIANCE"
    exchange = "NSE"
    side = "LONG"                  # LONG or SHORT
    quantity = 50
    entry_price = 2900.00          # rupees, at most 4 decimals (read exactly, never as a float)
    entered_at = 2025-03-03T09:15:00+05:30   # optional, default: the first tick's time;
                                   #   a TOML datetime, an ISO string (naive = IST) or epoch ms
    tick_size = "0.05"             # optional, default 0.05
    lot_size = 1                   # optional, default 1; quantity must be a multiple
    product = "MIS"                # optional, default MIS
    rules = { trailing = { type = "PERCENT", value = 1 } }   # optional, see below

`rules` uses core.codec.rules_from_dict's shape and is merged over the strategy's default
rules key by key (stop_loss, target, trailing, breakeven, square_off, max_holding_seconds):
a key given replaces that default, `key = false` removes it, keys not given keep it.
Every problem raises ConfigFileError naming the file, the table and the field.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from tradeguard.adapters.replay.timestamps import datetime_to_ns, parse_timestamp
from tradeguard.app.replay import ReplaySetup, ReplayTrade
from tradeguard.core.codec import config_from_dict, merge_rules
from tradeguard.core.model import Instrument, Product, Side
from tradeguard.core.money import MoneyError, to_units
from tradeguard.core.rules import RuleError, TradeRules, validate_rules
from tradeguard.core.strategy import StrategyRiskConfig

_REQUIRED = ("id", "strategy", "symbol", "exchange", "side", "quantity", "entry_price")
_OPTIONAL = ("entered_at", "tick_size", "lot_size", "product", "rules")
E = TypeVar("E", Side, Product)


class ConfigFileError(ValueError):
    """A replay configuration that cannot run; the message names the table and field."""


def load_replay_config(path: str | Path) -> ReplaySetup:
    """Read and validate a replay TOML file. Raises ConfigFileError or OSError."""
    source = str(path)
    with open(path, "rb") as handle:
        try:
            data = tomllib.load(handle, parse_float=Decimal)
        except tomllib.TOMLDecodeError as error:
            raise ConfigFileError(f"{source}: not valid TOML: {error}") from None
    try:
        return parse_replay_config(data)
    except ConfigFileError as error:
        raise ConfigFileError(f"{source}: {error}") from None


def parse_replay_config(data: dict[str, Any]) -> ReplaySetup:
    """Validate an already-parsed TOML document (floats as Decimal)."""
    unknown = set(data) - {"strategies", "trades"}
    if unknown:
        raise ConfigFileError(f"unknown top-level key(s) {', '.join(sorted(unknown))}")
    raw_strategies = data.get("strategies")
    if not isinstance(raw_strategies, dict) or not raw_strategies:
        raise ConfigFileError("needs at least one [strategies.NAME] table")
    strategies: dict[str, StrategyRiskConfig] = {}
    for name, table in raw_strategies.items():
        where = f"[strategies.{name}]"
        if not isinstance(table, dict):
            raise ConfigFileError(f"{where}: expected a table")
        try:
            strategies[name] = config_from_dict(_times_as_text(table))
        except (RuleError, MoneyError) as error:
            raise ConfigFileError(f"{where}: {error}") from None
    raw_trades = data.get("trades")
    if not isinstance(raw_trades, list) or not raw_trades:
        raise ConfigFileError("needs at least one [[trades]] entry")
    trades: list[ReplayTrade] = []
    seen: set[str] = set()
    for number, entry in enumerate(raw_trades, start=1):
        trade = _trade(entry, number, strategies)
        if trade.trade_id in seen:
            raise ConfigFileError(f"[[trades]] #{number}: duplicate id {trade.trade_id!r}")
        seen.add(trade.trade_id)
        trades.append(trade)
    return ReplaySetup(strategies=strategies, trades=tuple(trades))


def _trade(entry: object, number: int, strategies: dict[str, StrategyRiskConfig]) -> ReplayTrade:
    where = f"[[trades]] #{number}"
    if not isinstance(entry, dict):
        raise ConfigFileError(f"{where}: expected a table")
    if isinstance(entry.get("id"), str) and entry["id"]:
        where = f"{where} (id {entry['id']!r})"
    unknown = set(entry) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise ConfigFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    missing = [name for name in _REQUIRED if name not in entry]
    if missing:
        raise ConfigFileError(f"{where}: missing field(s) {', '.join(missing)}")
    trade_id = _text(entry, "id", where)
    strategy_id = _text(entry, "strategy", where)
    if strategy_id not in strategies:
        raise ConfigFileError(f"{where}: strategy: no [strategies.{strategy_id}] table")
    side = _choice(entry, "side", Side, where)
    product = _choice(entry, "product", Product, where) if "product" in entry else Product.MIS
    try:
        instrument = Instrument(
            symbol=_text(entry, "symbol", where),
            exchange=_text(entry, "exchange", where),
            tick_size=Decimal(_number_text(entry.get("tick_size", "0.05"), "tick_size", where)),
            lot_size=_whole(entry.get("lot_size", 1), "lot_size", where),
        )
    except (ValueError, ArithmeticError) as error:
        raise ConfigFileError(f"{where}: tick_size/lot_size: {error}") from None
    quantity = _whole(entry["quantity"], "quantity", where)
    if quantity % instrument.lot_size:
        raise ConfigFileError(
            f"{where}: quantity: {quantity} is not a multiple of lot_size {instrument.lot_size}"
        )
    entry_price = _price(entry["entry_price"], "entry_price", where)
    rules = _rules(entry.get("rules"), strategies[strategy_id], where)
    try:
        validate_rules(rules, side, entry_price, instrument.tick)
    except RuleError as error:
        raise ConfigFileError(f"{where}: rules: {error}") from None
    entered_at = _entered_at(entry["entered_at"], where) if "entered_at" in entry else None
    return ReplayTrade(
        trade_id=trade_id,
        strategy_id=strategy_id,
        instrument=instrument,
        side=side,
        quantity=quantity,
        entry_price=entry_price,
        rules=rules,
        product=product,
        entered_at=entered_at,
    )


def _rules(raw: object, config: StrategyRiskConfig, where: str) -> TradeRules:
    defaults = config.trade_rules()
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        raise ConfigFileError(f"{where}: rules: expected a table")
    # In TOML a rule is removed with `false` (TOML has no null).
    overrides = {k: None if v is False else v for k, v in _times_as_text(raw).items()}
    try:
        return merge_rules(defaults, overrides)
    except (RuleError, MoneyError) as error:
        raise ConfigFileError(f"{where}: rules: {error}") from None


def _times_as_text(table: dict[str, Any]) -> dict[str, Any]:
    """TOML local times (11:30:00) become "11:30", the codec's HH:MM form."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, time) and not value.second and not value.microsecond:
            value = value.strftime("%H:%M")
        out[key] = value
    return out


def _text(entry: dict[str, Any], name: str, where: str) -> str:
    value = entry[name]
    if not isinstance(value, str) or not value.strip():
        raise ConfigFileError(f"{where}: {name}: expected a non-empty string, was {value!r}")
    return value.strip()


def _choice(entry: dict[str, Any], name: str, kind: type[E], where: str) -> E:
    value = entry[name]
    try:
        return kind(str(value).upper())
    except ValueError:
        allowed = " or ".join(member.value for member in kind)
        raise ConfigFileError(f"{where}: {name}: must be {allowed}, was {value!r}") from None


def _whole(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigFileError(f"{where}: {name}: expected a positive whole number, was {value!r}")
    return value


def _number_text(value: object, name: str, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ConfigFileError(f"{where}: {name}: expected a number, was {value!r}")
    return str(value)


def _price(value: object, name: str, where: str) -> int:
    try:
        units = to_units(_number_text(value, name, where))
    except MoneyError as error:
        raise ConfigFileError(f"{where}: {name}: {error}") from None
    if units <= 0:
        raise ConfigFileError(f"{where}: {name}: must be positive, was {value}")
    return units


def _entered_at(value: object, where: str) -> int:
    if isinstance(value, datetime):
        return datetime_to_ns(value)
    if isinstance(value, date):
        raise ConfigFileError(f"{where}: entered_at: needs a time of day, was {value}")
    if isinstance(value, str | int) and not isinstance(value, bool):
        try:
            return parse_timestamp(str(value))
        except ValueError as error:
            raise ConfigFileError(f"{where}: entered_at: {error}") from None
    raise ConfigFileError(f"{where}: entered_at: expected a timestamp, was {value!r}")
