"""Records with every field set to a non-default value, for round-trip tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from decimal import Decimal
from typing import Any

from tradeguard.app.records import (
    AccountRecord,
    AuditRecord,
    ExitOrderRecord,
    StrategyRecord,
    TradeProgress,
    TradeRecord,
)
from tradeguard.core.codec import config_to_dict
from tradeguard.core.rules import LevelKind
from tradeguard.core.strategy import AmountKind, ExitOrderMode, SizingKind, StrategyRiskConfig

T0 = 1_765_000_000_000_000_000  # epoch ns


def progress(trade_id: str = "t-1", n: int = 1, **changes: Any) -> TradeProgress:
    """Fast fields moved on by `n` ticks of 0.05 from `trade()`'s."""
    record = TradeProgress(
        trade_id=trade_id,
        long=True,
        best_price=1_260_0000 + n * 500,
        stop_loss=1_222_0500 + n * 500,
        stop_reason="TRAILING",
        target=1_271_5500,
        trailing_level=1_244_2500 + n * 500,
        breakeven_level=1_235_0000,
        last_price=1_255_1000 + n * 500,
        updated_at=T0 + 62_000_000_001 + n,
    )
    return replace(record, **changes)


def trade(trade_id: str = "t-1", **changes: Any) -> TradeRecord:
    record = TradeRecord(
        trade_id=trade_id,
        account="acct-1",
        strategy_id="strat-1",
        entry_order_id=f"250101{trade_id}",  # unique per account (migration 0003)
        symbol="NIFTY30DEC2526000CE",
        exchange="NFO",
        product="NRML",
        side="LONG",
        entry_price=1_234_5500,
        quantity=75,
        tick_size="0.05",
        lot_size=75,
        rules={
            "stop_loss": {"type": "POINTS", "value": "12.5"},
            "target": {"type": "PERCENT", "value": "3"},
            "trailing": {
                "type": "PERCENT",
                "value": "1.25",
                "activation": {"type": "POINTS", "value": "5"},
            },
            "square_off": "15:15",
        },
        state="ACTIVE",
        entered_at=T0,
        best_price=1_260_0000,
        stop_loss=1_222_0500,
        stop_reason="TRAILING",
        target=1_271_5500,
        trailing_level=1_244_2500,
        breakeven_level=1_235_0000,
        last_price=1_255_1000,
        exit_reason="STOP_LOSS",
        exit_trigger=1_244_2500,
        exit_tick_price=1_244_0000,
        exit_tick_time=T0 + 61_000_000_000,
        exit_attempt=2,
        exit_intent_at=T0 + 61_000_500_000,
        exit_order_id="25010100000002",
        exit_message="RMS: margin exceeds — rejected",
        exit_price=1_243_9500,
        realized_pnl=-7_897_5000,
        closed_at=T0 + 62_000_000_000,
        updated_at=T0 + 62_000_000_001,
    )
    return replace(record, **changes)


def config() -> StrategyRiskConfig:
    return StrategyRiskConfig(
        enable_sl=True,
        sl_type=LevelKind.POINTS,
        sl_value=Decimal("12.5"),
        enable_target=True,
        target_type=LevelKind.PERCENT,
        target_value=Decimal("3.125"),
        enable_trailing_sl=True,
        trailing_sl_type=LevelKind.PERCENT,
        trailing_sl_value=Decimal("0.75"),
        allocated_funds=Decimal("250000.5"),
        position_size_type=SizingKind.PERCENT_ALLOCATION,
        position_size_value=Decimal("20"),
        max_open_positions=7,
        daily_loss_limit=Decimal("5000"),
        enable_portfolio_sl=True,
        portfolio_sl_type=AmountKind.AMOUNT,
        portfolio_sl_value=Decimal("4000"),
        enable_portfolio_target=True,
        portfolio_target_type=AmountKind.PERCENT,
        portfolio_target_value=Decimal("2.5"),
        enable_portfolio_trailing_sl=True,
        portfolio_trailing_type=AmountKind.AMOUNT,
        portfolio_trailing_value=Decimal("1500"),
        square_off_time=time(15, 10),
        exit_order_mode=ExitOrderMode.SMARTORDER,
    )


def strategy(strategy_id: str = "strat-1", **changes: Any) -> StrategyRecord:
    record = StrategyRecord(
        strategy_id=strategy_id,
        account="acct-1",
        name="Nifty options — momentum",
        config=config_to_dict(config()),
        state="HALTED",
        halt_reason="daily loss limit hit",
        realized_pnl=-5_100_0000,
        baseline=12_0000,
        peak_pnl=2_345_5000,
        trailing_level=845_5000,
        day=20_433,
        updated_at=T0 + 5,
    )
    return replace(record, **changes)


def account(name: str = "acct-1", **changes: Any) -> AccountRecord:
    record = AccountRecord(
        account=name,
        api_key_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        openalgo_key_encrypted="gAAAAABl-encrypted-token==",
        created_at=T0 - 1,
    )
    return replace(record, **changes)


def audit(n: int, subject: str = "trade:t-1", **changes: Any) -> AuditRecord:
    record = AuditRecord(
        at=T0 + n,
        actor="engine",
        action=f"action-{n}",
        subject=subject,
        detail={"n": n, "price": "1244.25", "nested": {"ok": True, "list": [1, 2]}},
    )
    return replace(record, **changes)


def exit_order(exit_id: str = "t-1:x1", **changes: Any) -> ExitOrderRecord:
    """An exit-order ledger row (an intent unless changed)."""
    base = ExitOrderRecord(
        exit_id=exit_id,
        trade_id="t-1",
        account="acct-1",
        symbol="RELIANCE",
        exchange="NSE",
        product="MIS",
        side="SELL",
        quantity=10,
        tag="tg:strat-1:STOP_LOSS:t-1",
        state="INTENT",
        intent_at=T0,
        attempt=1,
        reason="STOP_LOSS",
        updated_at=T0,
    )
    return replace(base, **changes)
