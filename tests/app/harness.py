"""Tests: the whole app layer wired to the real PaperBroker + SimMarket and a SQLite SqlStore."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tests.app.clock import ManualClock
from tests.app.fakes import Alerts, Events, FakeFeed, FaultyBroker, RecordingStore, Timeline
from tests.helpers import PATIENT_STORE, eventually
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.app.executor import ExitExecutor, cancel_all
from tradeguard.app.monitor import Monitor
from tradeguard.app.recovery import Recovery, RecoveryResult
from tradeguard.app.resolve import ExecutorPolicy
from tradeguard.app.snapshots import Snapshots
from tradeguard.core.broker import OrderRequest
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Instrument, Product, Side, Tick
from tradeguard.core.money import to_units
from tradeguard.core.rules import TradeRules
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

# 2026-03-02 10:00:00 IST
START_NS = 1_772_425_800 * 1_000_000_000
EX = "NSE"


class World:
    """What survives a restart: the broker, the market, the clock and the database file."""

    def __init__(self, tmp_path: Path, *, autojump: bool = False) -> None:
        self.clock = ManualClock(START_NS, autojump=autojump)
        self.market = SimMarket(clock_ms=self.clock.now_ms)
        self.paper = PaperBroker(self.market, clock_ms=self.clock.now_ms)
        self.db_url = f"sqlite:///{tmp_path / 'tradeguard.db'}"
        self.timeline = Timeline()

    def set_price(self, symbol: str, rupees: str) -> int:
        units = to_units(rupees)
        self.market.set_price(symbol, EX, units)
        return units

    def external(self, symbol: str, action: str, quantity: int) -> str:
        """Someone else trades on the account (manual order, another tool)."""
        return self.paper.submit(OrderRequest(symbol, EX, action, quantity, "MIS", "manual"))


class Harness:
    """One run of tradeguard's app layer (one process lifetime)."""

    def __init__(self, world: World, store: SqlStore, *, policy: ExecutorPolicy | None = None):
        self.world = world
        self.clock = world.clock
        self.store = RecordingStore(store, world.timeline)
        self.broker = FaultyBroker(world.paper, world.timeline)
        self.alerts = Alerts()
        self.events = Events()
        self.feed = FakeFeed()
        self.engine = RiskEngine()
        self.snapshots = Snapshots(self.engine)
        self.executor = ExitExecutor(
            self.engine,
            self.broker,
            self.store,
            self.clock,
            self.alerts,
            self.snapshots,
            policy=policy or ExecutorPolicy(),
        )
        self.recovery = Recovery(
            self.engine,
            self.store,
            self.broker,
            self.clock,
            self.alerts,
            self.snapshots,
            self.executor,
        )
        self.monitor = Monitor(
            self.engine,
            self.executor,
            self.store,
            self.feed,
            self.clock,
            self.events,
            self.snapshots,
            reconcile=self.recovery.reconcile_now,
        )
        world.paper.add_order_listener(self.monitor.on_order_update)

    @classmethod
    async def open(cls, world: World, **kwargs: object) -> Harness:
        store = await SqlStore.open(world.db_url, **PATIENT_STORE)
        return cls(world, store, **kwargs)  # type: ignore[arg-type]

    async def start(self) -> RecoveryResult:
        result = await self.recovery.start()
        await self.monitor.start(result.pending)
        return result

    async def add_strategy(self, strategy_id: str = "s1", **config: object) -> None:
        cfg = StrategyRiskConfig().replace(**config)
        book = self.engine.add_strategy(strategy_id, cfg)
        await self.store.commit([self.snapshots.strategy_record(book, self.clock.now())])

    async def enter(
        self,
        trade_id: str,
        symbol: str,
        side: Side,
        quantity: int,
        rules: TradeRules | None = None,
        *,
        strategy: str = "s1",
        tick: str = "0.05",
    ) -> Trade:
        action = "BUY" if side is Side.LONG else "SELL"
        order_id = self.world.paper.submit(OrderRequest(symbol, EX, action, quantity, "MIS", "x"))
        fill = (await self.world.paper.order_status(order_id, "x")).average_price
        assert fill is not None
        trade = Trade(
            trade_id=trade_id,
            strategy_id=strategy,
            instrument=Instrument(symbol, EX, Decimal(tick)),
            side=side,
            quantity=quantity,
            entry_price=fill,
            entered_at=self.clock.now(),
            rules=rules,
            product=Product.MIS,
            entry_order_id=order_id,
        )
        await self.monitor.add_trade(trade)
        return trade

    def tick(self, symbol: str, rupees: str) -> None:
        units = self.world.set_price(symbol, rupees)
        self.feed.tick(Tick(symbol, EX, units, self.clock.now()))

    async def settle(self) -> None:
        """Wait until no exit task is running (never sleeps for time to pass)."""

        def idle() -> bool:
            if self.executor.busy:
                self.clock.advance(0.25)  # time passes only while exits wait for it
                return False
            return True

        await eventually(idle, timeout=10, message="exits settle")

    async def settle_until(self, condition: Callable[[], bool]) -> None:
        await eventually(condition, timeout=10, message="condition")

    def exits(self) -> list[OrderRequest]:
        return [r for r in self.broker.placed if isinstance(r, OrderRequest)]

    async def stop(self) -> None:
        await self.monitor.stop()
        await self.store.close()

    async def crash(self) -> None:
        """kill -9: no flush, no drain. Running tasks just vanish."""
        self.monitor.running = False
        self.world.paper.remove_order_listener(self.monitor.on_order_update)
        tasks = [*self.monitor._loops, *self.monitor._side_tasks, *self.executor._tasks]
        await cancel_all(tasks)
        await self.store.close()
