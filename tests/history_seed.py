"""Closed trades with known figures, committed straight to the real store, for the history
filter, CSV export and Performance tests (API and browser). Every number below is worked out
by hand in the comments; the tests assert those numbers."""

from __future__ import annotations

from datetime import date
from typing import Any

from tradeguard.app.records import TradeRecord
from tradeguard.core.timeutil import ist_day_start

R = 10_000  # units per rupee
MINUTE = 60 * 1_000_000_000
HOUR = 60 * MINUTE


def ist(day: date, hour: int, minute: int = 0, second: int = 0) -> int:
    """Epoch ns of a wall-clock time in IST."""
    start = ist_day_start((day - date(1970, 1, 1)).days)
    return start + hour * HOUR + minute * MINUTE + second * 1_000_000_000


D1, D2, D3 = date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)


def closed(
    trade_id: str,
    account: str,
    strategy: str,
    symbol: str,
    side: str,
    quantity: int,
    entry: int,
    exit_price: int,
    entered_at: int,
    closed_at: int,
    **extra: Any,
) -> TradeRecord:
    signed = quantity if side == "LONG" else -quantity
    return TradeRecord(
        trade_id=trade_id,
        account=account,
        strategy_id=f"{account}:{strategy}",
        entry_order_id=f"E{trade_id}",
        symbol=symbol,
        exchange="NSE",
        product="MIS",
        side=side,
        entry_price=entry,
        quantity=quantity,
        tick_size="0.05",
        lot_size=1,
        rules={},
        state=extra.pop("state", "CLOSED"),
        entered_at=entered_at,
        best_price=entry,
        stop_loss=None,
        stop_reason=None,
        target=None,
        trailing_level=None,
        breakeven_level=None,
        last_price=exit_price,
        exit_price=exit_price,
        realized_pnl=(exit_price - entry) * signed,
        closed_at=closed_at,
        updated_at=closed_at,
        **extra,
    )


def seed(account: str = "alice", other: str = "bob") -> list[TradeRecord]:
    """Four closed trades of `account` (and one of `other`, which must never show):

    H1 s1 SBIN LONG 10 @800, STOP_LOSS trigger 790, fill 789: slippage -1.00/unit, -10.00;
       P&L (789-800)*10 = -110.00; 1 Dec 09:30:00 -> 10:45:30 IST, held 1:15:30 (4530 s)
    H2 s1 INFY SHORT 5 @1500, TARGET trigger 1450, fill 1449.50: slippage +0.50, +2.50;
       P&L (1500-1449.50)*5 = +252.50; closed 2 Dec 14:00 IST
    H3 s2 SBIN LONG 4 @800, PORTFOLIO_STOP (trigger is a P&L amount; last price 780.00),
       fill 779.90: slippage -0.10, -0.40; P&L (779.90-800)*4 = -80.40; closed 3 Dec 11:00
    H4 s2 TCS LONG 2 @3000, closed externally at 3000: P&L 0; closed 3 Dec 15:00
    """
    return [
        closed(
            "H1",
            account,
            "s1",
            "SBIN",
            "LONG",
            10,
            800 * R,
            789 * R,
            ist(D1, 9, 30),
            ist(D1, 10, 45, 30),
            exit_reason="STOP_LOSS",
            exit_trigger=790 * R,
            exit_tick_price=789_5000,
            exit_message='RMS said "filled", partly',
        ),
        closed(
            "H2",
            account,
            "s1",
            "INFY",
            "SHORT",
            5,
            1500 * R,
            1449_5000,
            ist(D2, 9, 15),
            ist(D2, 14),
            exit_reason="TARGET",
            exit_trigger=1450 * R,
            exit_tick_price=1450 * R,
        ),
        closed(
            "H3",
            account,
            "s2",
            "SBIN",
            "LONG",
            4,
            800 * R,
            779_9000,
            ist(D3, 9, 20),
            ist(D3, 11),
            exit_reason="PORTFOLIO_STOP",
            exit_trigger=-5000 * R,
            exit_tick_price=780 * R,
            exit_message="=cmd|' /C calc'!A0",
        ),
        closed(
            "H4",
            account,
            "s2",
            "TCS",
            "LONG",
            2,
            3000 * R,
            3000 * R,
            ist(D3, 10),
            ist(D3, 15),
            state="CLOSED_EXTERNALLY",
        ),
        closed(
            "B1",
            other,
            "s1",
            "SBIN",
            "LONG",
            1,
            800 * R,
            900 * R,
            ist(D2, 10),
            ist(D2, 11),
            exit_reason="TARGET",
            exit_trigger=900 * R,
        ),
    ]
