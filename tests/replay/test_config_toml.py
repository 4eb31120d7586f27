"""Replay TOML loader: strategies via the core codec, trades, rule merging, clear errors."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.adapters.replay.config_toml import ConfigFileError, load_replay_config
from tradeguard.core.model import Product, Side
from tradeguard.core.rules import Level, LevelKind

STRATEGY = """
[strategies.s1]
enable_sl = true
sl_type = "PERCENT"
sl_value = 1
enable_target = true
target_type = "POINTS"
target_value = 10.5
square_off_time = 15:15:00
"""

TRADE = """
[[trades]]
id = "A"
strategy = "s1"
symbol = "SBIN"
exchange = "NSE"
side = "long"
quantity = 10
entry_price = 800.05
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_strategies_and_trades_with_defaults(tmp_path: Path) -> None:
    setup = load_replay_config(write(tmp_path, STRATEGY + TRADE))
    config = setup.strategies["s1"]
    assert config.square_off_time == time(15, 15)
    (trade,) = setup.trades
    assert (trade.trade_id, trade.strategy_id, trade.side) == ("A", "s1", Side.LONG)
    assert trade.entry_price == 8_000_500
    assert trade.instrument.tick == 500
    assert trade.instrument.lot_size == 1
    assert trade.product is Product.MIS
    assert trade.entered_at is None
    assert trade.rules == config.trade_rules()


def test_trade_rules_merge_over_the_strategy_defaults(tmp_path: Path) -> None:
    text = (
        STRATEGY
        + TRADE
        + (
            'rules = { target = false, stop_loss = { type = "PRICE", value = "790" },'
            " max_holding_seconds = 600 }\n"
            'entered_at = "2025-03-03 10:00:00"\ntick_size = "0.01"\n'
            'lot_size = 5\nproduct = "cnc"\n'
        )
    )
    (trade,) = load_replay_config(write(tmp_path, text)).trades
    assert trade.rules.target is None
    assert trade.rules.stop_loss == Level(LevelKind.PRICE, Decimal("790"))
    assert trade.rules.square_off == time(15, 15)  # kept from the strategy
    assert trade.rules.max_holding_seconds == 600
    assert trade.entered_at == (1_740_973_500 + 45 * 60) * 1_000_000_000
    assert trade.instrument.tick == 100
    assert trade.product is Product.CNC


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (STRATEGY + TRADE + "[extra]\n", ["unknown top-level key(s) extra"]),
        (TRADE, ["[strategies.NAME]"]),
        (STRATEGY, ["[[trades]]"]),
        (STRATEGY + "sl_valu = 2\n" + TRADE, ["[strategies.s1]", "sl_valu"]),
        (STRATEGY.replace('"PERCENT"', '"PCT"') + TRADE, ["[strategies.s1]", "sl_type"]),
        (STRATEGY + TRADE.replace('side = "long"', 'side = "BUY"'), ["#1 (id 'A')", "side"]),
        (STRATEGY + TRADE.replace('strategy = "s1"', 'strategy = "s2"'), ["strategies.s2"]),
        (STRATEGY + TRADE.replace("quantity = 10\n", ""), ["missing field(s) quantity"]),
        (STRATEGY + TRADE + "colour = 1\n", ["unknown field(s) colour"]),
        (STRATEGY + TRADE.replace("800.05", "800.00001"), ["entry_price", "4 decimal"]),
        (STRATEGY + TRADE.replace("800.05", "-1"), ["entry_price", "positive"]),
        (STRATEGY + TRADE.replace("quantity = 10", "quantity = 0"), ["quantity"]),
        (STRATEGY + TRADE + "lot_size = 3\n", ["quantity", "multiple of lot_size 3"]),
        (STRATEGY + TRADE + 'entered_at = "soon"\n', ["entered_at"]),
        (
            STRATEGY + TRADE + 'rules = { stop_loss = { type = "PRICE", value = 900 } }\n',
            ["(id 'A')", "rules", "stop-loss"],
        ),
        (STRATEGY + TRADE + "rules = { trailing = { type = 1 } }\n", ["rules", "trailing"]),
        (STRATEGY + TRADE + TRADE, ["#2", "duplicate id 'A'"]),
        (STRATEGY + TRADE + "side = 'x'\n", ["not valid TOML", "line"]),
    ],
)
def test_bad_config_names_table_and_field(tmp_path: Path, text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_replay_config(write(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "cfg.toml") + ": ")
    for fragment in fragments:
        assert fragment in message
