"""App layer: the demo trader. Against the embedded simulator it keeps a few positions open in
a demo strategy, each entered by a real order and guarded through createtrade, so a newcomer
sees stop-loss, target, trailing and breakeven exits within a minute of `make run`.

Each trade gets one of four rule profiles (per-trade overrides of the strategy's defaults):
three are tilted so that one exit is by far the likeliest on a driftless walk (a near stop
and a far target: the stop, 4 times in 5; the other way round: the target; a trailing stop
with no target: the trail), and the fourth keeps the strategy's defaults (breakeven and
all). The next trade takes the profile whose exit has closed the fewest trades so far, so
every kind shows up early rather than whenever chance allows."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

from tradeguard.app.errors import ServiceError
from tradeguard.app.ports import BrokerGateway
from tradeguard.app.service import CreateTrade, TradeService
from tradeguard.core.broker import BrokerError, OrderRequest

log = logging.getLogger(__name__)

DEMO_SETTINGS: dict[str, object] = {
    "enable_sl": True,
    "sl_type": "PERCENT",
    "sl_value": "0.6",
    "enable_target": True,
    "target_type": "PERCENT",
    "target_value": "0.9",
    "enable_trailing_sl": True,
    "trailing_sl_type": "PERCENT",
    "trailing_sl_value": "0.4",
    "trailing_activation_type": "PERCENT",
    "trailing_activation_value": "0.3",
    "enable_breakeven": True,
    "breakeven_trigger_type": "PERCENT",
    "breakeven_trigger_value": "0.25",
    "allocated_funds": "1000000",
    "position_size_type": "FIXED_VALUE",
    "position_size_value": "50000",
    "max_open_positions": 4,
    "daily_loss_limit": "25000",
    "enable_portfolio_sl": True,
    "portfolio_sl_type": "AMOUNT",
    "portfolio_sl_value": "15000",
}


PERCENT = "PERCENT"


def _pct(value: str) -> dict[str, str]:
    return {"type": PERCENT, "value": value}


# name -> (the exit it shows, per-trade rule overrides: None removes a rule)
PROFILES: dict[str, tuple[str, dict[str, object]]] = {
    "stop-loss": (
        "STOP_LOSS",
        {"stop_loss": _pct("0.25"), "target": _pct("1"), "trailing": None, "breakeven": None},
    ),
    "target": (
        "TARGET",
        {"stop_loss": _pct("1"), "target": _pct("0.25"), "trailing": None, "breakeven": None},
    ),
    "trailing": (
        "TRAILING_STOP",
        {
            "stop_loss": _pct("1"),
            "target": None,
            "trailing": {**_pct("0.25"), "activation": _pct("0.15")},
            "breakeven": None,
        },
    ),
    "defaults": ("BREAKEVEN_STOP", {}),
}


class DemoTrader:
    """Opens a demo trade whenever fewer than `max_open` are open (one every `interval` s)."""

    def __init__(
        self,
        service: TradeService,
        broker: BrokerGateway,
        symbols: Sequence[tuple[str, str]],
        *,
        account: str = "default",
        strategy: str = "demo",
        max_open: int = 4,
        interval: float = 2.0,
        seed: int = 1,
    ) -> None:
        self.service = service
        self.broker = broker
        self.symbols = list(symbols)
        self.account = account
        self.strategy = strategy
        self.max_open = max_open
        self.interval = interval
        self.rng = random.Random(seed)
        self.opened = 0
        self.profiles: dict[str, str] = {}  # trade id -> profile name

    async def next_profile(self) -> str:
        """The profile whose exit has closed the fewest demo trades so far; among equals, the
        one fewest open trades already hold, then PROFILES order. A profile whose trade
        wandered off towards its far level does not hold the others back."""
        closed = dict.fromkeys(PROFILES, 0)
        reason_of = {reason: name for name, (reason, _) in PROFILES.items()}
        for row in await self.service.trade_history(self.account, 1000):
            name = reason_of.get(str(row.get("exit_reason")))
            if name is not None and row.get("strategy") == self.strategy:
                closed[name] += 1
        held = dict.fromkeys(PROFILES, 0)
        open_ids = {t["trade_id"] for t in self.service.active_trades(self.account, self.strategy)}
        for trade_id, name in self.profiles.items():
            if trade_id in open_ids:
                held[name] += 1
        return min(PROFILES, key=lambda name: (closed[name], held[name]))

    async def setup(self) -> None:
        existing = {s["strategy"] for s in self.service.list_strategies(self.account)}
        if self.strategy not in existing:
            await self.service.configure_strategy(
                self.account, self.strategy, DEMO_SETTINGS, actor="demo"
            )

    async def run(self) -> None:
        await self.setup()
        while True:
            try:
                await self.open_one_if_room()
            except (BrokerError, ServiceError) as error:
                log.warning("demo: could not open a trade: %s", error)
            await asyncio.sleep(self.interval)

    async def open_one_if_room(self) -> str | None:
        strategy = self.service.get_strategy(self.account, self.strategy)
        if strategy["state"] != "ACTIVE" or strategy["open_positions"] >= self.max_open:
            return None
        held = {t["symbol"] for t in self.service.active_trades(self.account, self.strategy)}
        free = [s for s in self.symbols if s[0] not in held]
        if not free:
            return None
        symbol, exchange = self.rng.choice(free)
        action = self.rng.choice(("BUY", "SELL"))
        placed = await self.broker.place_order(
            OrderRequest(
                symbol=symbol,
                exchange=exchange,
                action=action,
                quantity=self.rng.choice((10, 20, 25)),
                product="MIS",
                strategy=f"tg-demo:{self.strategy}:entry",
            )
        )
        if placed.order_id is None:
            return None
        for _ in range(50):  # a MARKET order fills at once at the simulator
            report = await self.broker.order_status(placed.order_id, self.strategy)
            if report.status.is_final:
                break
            await asyncio.sleep(0.1)
        profile = await self.next_profile()
        view = await self.service.create_trade(
            self.account,
            CreateTrade(
                strategy=self.strategy, order_id=placed.order_id, rules=PROFILES[profile][1]
            ),
            actor="demo",
        )
        self.opened += 1
        self.profiles[str(view["trade_id"])] = profile
        levels = [
            f"{name} {view[key]}"
            for name, key in (("SL", "stop_loss"), ("target", "target"), ("trail", "trailing_stop"))
            if view.get(key) is not None
        ]
        log.info(
            "demo: %s %s %s @ %s guarded, %s profile (%s)",
            view["side"],
            view["quantity"],
            symbol,
            view["entry_price"],
            profile,
            ", ".join(levels) or "no levels yet",
        )
        return str(view["trade_id"])
