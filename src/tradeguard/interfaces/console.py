"""Interfaces layer: the terminal view of `tradeguard run`: one line per event, read from the
service's event bus.

- `EXIT` when the broker took an exit order (never for a decision that sent nothing),
- `CLOSED` when that order filled (fill price, realized P&L),
- `CLOSED EXTERNALLY` when a trade's position was gone at the broker (no exit order of ours),
- `ALERT` for every alert, `STRATEGY` for a strategy's state change.

Each line starts with the local time, like the log lines around it (bootstrap.terminal, which
also keeps the log from repeating what is printed here).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, TextIO

from tradeguard.app.events import Event

KINDS = frozenset({"exit_sent", "closed", "alert", "strategy"})


def _clock(at: int) -> str:
    if at <= 0:
        return datetime.now(UTC).astimezone().strftime("%H:%M:%S")
    return datetime.fromtimestamp(at / 1e9, UTC).astimezone().strftime("%H:%M:%S")


def _position(data: dict[str, Any]) -> str:
    return f"{data['side']:<5} {data['quantity']:>5} {data['exchange']}:{data['symbol']}"


def render(event: Event) -> str | None:
    """The terminal line of `event` (without its time), or None for kinds not shown."""
    data = event.data
    if event.kind == "exit_sent":
        trigger = f" trigger {data['trigger']}" if data.get("trigger") else ""
        price = f" at ~{data['price']}" if data.get("price") else ""
        return (
            f"EXIT    {data['reason'] or 'EXIT':<18} {_position(data)}{price}{trigger}: "
            f"{data['action']} order {data['order_id']} sent (trade {data['trade_id']})"
        )
    if event.kind == "closed":
        if data["external"]:
            return (
                f"CLOSED EXTERNALLY          {_position(data)}: the position is gone at the "
                f"broker, no exit order sent; booked at {data['exit_price']}, P&L "
                f"{data['realized_pnl']} (trade {data['trade_id']})"
            )
        return (
            f"CLOSED  {data['reason'] or '':<18} {_position(data)} filled at "
            f"{data['exit_price']}, P&L {data['realized_pnl']} (trade {data['trade_id']})"
        )
    if event.kind == "alert":
        return f"ALERT   {str(data['level']).upper():<8} {data['message']}"
    if event.kind == "strategy":
        return f"STRATEGY {data['strategy_id']} -> {data['state']} ({data['reason']})"
    if event.kind == "gap":
        return f"(the terminal fell behind: {data['missed']} events not shown)"
    return None


async def print_events(events: AsyncIterator[Event], out: TextIO | None = None) -> None:
    """Print every event of `events` (a bus subscription to KINDS) that has a line."""
    stream = out if out is not None else sys.stdout
    async for event in events:
        line = render(event)
        if line is not None:
            print(f"{_clock(event.at)} {line}", file=stream, flush=True)
