"""App layer: assembles the app objects over the ports and runs the one start path.

`AppRuntime.start()` is the same after a clean stop and after kill -9: recovery (load,
reconcile with the broker) first, then the monitor subscribes and resumes, and every
subscribed symbol's last price is read once from the broker's quotes and taken as a tick: a
stop crossed while tradeguard was down fires at once, without waiting for the market to move,
and last prices / unrealized P&L are known from the start. `stop()` stops
taking ticks, lets running exits finish briefly, flushes every dirty trade and strategy and
closes the feed.

While running, the broker's books are reconciled after every feed reconnect (wire the feed's
reconnect callback to `feed_reconnected`) and every `RuntimeOptions.reconcile_interval`
seconds (None or 0: only after reconnects), so a position closed by hand at the broker becomes
CLOSED_EXTERNALLY without a restart.

Every long-running task (the monitor's flush, clock and reconciliation loops, and what the
composition root adds: the dashboard publisher, the console, the demo trader) runs under one
`Supervisor` (`self.supervisor`): restarted when it dies, shown on /health when it keeps dying.
The executor places through an `AckWatchGateway`: an exit order that OpenAlgo has not answered
after `RuntimeOptions.exit_ack_alert` seconds raises a critical alert (None or 0: no watch).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tradeguard.app.ackwatch import AckWatchGateway
from tradeguard.app.blind import BlindGuard
from tradeguard.app.events import EventBus
from tradeguard.app.executor import ExitExecutor
from tradeguard.app.failpoints import Failpoints
from tradeguard.app.live import BusAlerts, LiveEvents
from tradeguard.app.market_hours import MarketHours
from tradeguard.app.monitor import Monitor
from tradeguard.app.ports import BrokerGateway, Clock, MarketFeed, MarketTimings, Store
from tradeguard.app.recovery import Recovery, RecoveryResult
from tradeguard.app.resolve import ExecutorPolicy
from tradeguard.app.service import TradeService
from tradeguard.app.snapshots import Snapshots
from tradeguard.app.supervisor import SupervisionPolicy, Supervisor
from tradeguard.app.tasks import cancel_and_wait
from tradeguard.core.broker import BrokerError
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Tick
from tradeguard.core.sessions import ALWAYS_OPEN, MarketCalendar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    flush_interval: float = 1.0
    clock_interval: float = 1.0
    stop_grace: float = 2.0
    stale_after: float = 30.0
    reconcile_interval: float | None = 30.0  # seconds between live reconciliations
    policy: ExecutorPolicy | None = None
    supervision: SupervisionPolicy | None = None
    exit_ack_alert: float | None = 5.0  # alert on an exit order unanswered this long (s)
    # exchange sessions: time exits and the stale-feed exit act only while open (None: always);
    # with a market-hours source (AppRuntime's `timings`), the calendar used when it is silent
    calendar: MarketCalendar | None = None
    # how long the start waits (after recovery) for the first market-hours read; a slower
    # one lands later and re-times waiting time exits
    hours_wait: float = 2.0
    stale_policy: str = "exit"  # app.blind: exit (or only alert) when blind in market hours


class AppRuntime:
    """Everything the app runs, wired over the ports given."""

    def __init__(
        self,
        broker: BrokerGateway,
        feed: MarketFeed,
        store: Store,
        clock: Clock,
        options: RuntimeOptions | None = None,
        failpoints: Failpoints | None = None,
        *,
        timings: MarketTimings | None = None,
    ) -> None:
        self.options = options or RuntimeOptions()
        self.clock = clock
        self.store = store
        self.broker = broker
        self.feed = feed
        self.bus = EventBus()
        self.engine = RiskEngine(self.options.calendar or ALWAYS_OPEN)
        self.snapshots = Snapshots(self.engine)
        self.alerts = BusAlerts(self.bus, clock, self.engine)
        self.supervisor = Supervisor(clock, self.alerts, store, self.options.supervision)
        after = self.options.exit_ack_alert
        self.ack_watch = AckWatchGateway(broker, clock, self.alerts, after) if after else None
        self.executor = ExitExecutor(
            self.engine,
            self.ack_watch or broker,
            store,
            clock,
            self.alerts,
            self.snapshots,
            policy=self.options.policy,
        )
        if failpoints is not None:
            self.executor.failpoints = failpoints
        watched = self.executor.broker  # the same gateway, its 403s marking the session down
        self.recovery = Recovery(
            self.engine, store, watched, clock, self.alerts, self.snapshots, self.executor
        )
        self.monitor = Monitor(
            self.engine,
            self.executor,
            store,
            feed,
            clock,
            LiveEvents(self.bus, self.engine, clock),
            self.snapshots,
            flush_interval=self.options.flush_interval,
            clock_interval=self.options.clock_interval,
            reconcile=self.recovery.reconcile_now,
            reconcile_interval=self.options.reconcile_interval,
            supervisor=self.supervisor,
            failpoints=failpoints,
        )
        self.service = TradeService(
            self.monitor,
            watched,
            store,
            clock,
            feed=feed,
            bus=self.bus,
            stale_after=self.options.stale_after,
        )
        self.blind = BlindGuard(
            self.engine,
            feed,
            clock,
            self.alerts,
            self.monitor.dispatch,
            policy=self.options.stale_policy,
            after_s=self.options.stale_after,
        )
        self._blind_task: asyncio.Task[None] | None = None
        # market hours from OpenAlgo's market/timings, the given calendar (else the default
        # one) while it does not answer
        self.hours = (
            MarketHours(
                self.engine,
                timings,
                clock,
                self.alerts,
                fallback=self.options.calendar or MarketCalendar(),
            )
            if timings is not None
            else None
        )
        self._hours_task: asyncio.Task[None] | None = None
        if self.hours is not None:
            self.service.ops.market_hours = self.hours.status
        self.recovered: RecoveryResult | None = None

    async def start(self) -> RecoveryResult:
        if self.hours is not None:  # today's hours, read while the trades are recovered
            self._hours_task = asyncio.create_task(
                self.hours.run(read_first=True), name="tradeguard-hours"
            )
        result = await self.recovery.start()
        if self.hours is not None:  # before the first time exit is checked, if it comes soon
            await self.hours.first_read(self.options.hours_wait)
        self.recovered = result
        self.monitor.executor.queued.watch_all()  # exits still queued in OpenAlgo's Action Center
        await self.monitor.start(result.pending)
        await self._prime_prices(result.symbols)
        self._blind_task = asyncio.create_task(
            self.blind.run(self.options.clock_interval), name="tradeguard-stale-feed"
        )
        log.info(
            "monitoring %d trades on %d symbols",
            len(list(self.engine.trades())),
            len(result.symbols),
        )
        return result

    async def _prime_prices(self, symbols: list[tuple[str, str]]) -> None:
        """One quotes read for the subscribed symbols, taken as ticks (unless a live tick
        came first: it is newer). Without quotes, the first live ticks do the same."""
        if not symbols:
            return
        try:
            prices = await self.broker.quotes(symbols)
        except BrokerError as error:
            log.warning("start-up quotes unavailable (%s); waiting for live ticks", error)
            return
        now = self.clock.now()
        for (symbol, exchange), ltp in prices.items():
            if self.feed.last_tick_at(symbol, exchange) is None:
                self.monitor.on_tick(Tick(symbol, exchange, ltp, now))

    def feed_reconnected(self) -> None:
        """The feed came back after a drop: reconcile orders and positions now."""
        self.monitor.feed_reconnected()

    async def stop(self) -> None:
        await cancel_and_wait(self._blind_task, self._hours_task)
        self._blind_task = self._hours_task = None
        await self.monitor.stop(grace=self.options.stop_grace)
        await self.supervisor.close()
