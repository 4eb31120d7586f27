"""Interfaces layer: the terminal view of `tradeguard run`: one line per exit, alert and
strategy change, read from the service's event bus."""

from __future__ import annotations

from tradeguard.app.service import TradeService


async def print_events(service: TradeService) -> None:
    async with service.bus.subscribe(kinds=frozenset({"exit", "alert", "strategy"})) as events:
        async for event in events:
            data = event.data
            if event.kind == "exit":
                trigger = f" trigger {data['trigger']}" if data.get("trigger") else ""
                print(
                    f"EXIT  {data['reason']:<18} {data['side']:<5} {data['quantity']:>5} "
                    f"{data['exchange']}:{data['symbol']} at ~{data['price']}{trigger} "
                    f"(trade {data['trade_id']})",
                    flush=True,
                )
            elif event.kind == "alert":
                print(f"ALERT {data['level'].upper():<8} {data['message']}", flush=True)
            else:
                print(
                    f"STRATEGY {data['strategy_id']} -> {data['state']} ({data['reason']})",
                    flush=True,
                )
