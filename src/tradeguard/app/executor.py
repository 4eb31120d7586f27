"""App layer: the exit executor. One ExitDecision becomes exactly one exit order.

Per exit: (a) commit the intent (a degraded store queues it: we alert and go on, because a
missed stop costs money); (b) read a fresh position and cap the quantity so the account's net
never crosses zero (a position that cannot be read -> the exit waits, and fails loudly rather
than go out uncapped); (c) place a MARKET `placeorder` of the opposite side (or, per strategy,
a `placesmartorder` with quantity 0 and position_size = live net minus our capped signed
quantity); after any wait (403 session down, 429 back-off) (b) is done again before (c) is
re-sent; (d) commit the order id; (e) resolve: complete -> CLOSED at the real fill price;
rejected -> EXIT_FAILED and an alert; unknown -> resolved from the order book, never resent
blindly.
Smart orders: OpenAlgo computes its order from the LIVE net, so a target is only right when no
other exit of ours on the key is still working (reserved): while one is, the exit goes out as
a capped `placeorder` instead (a fill landing between our read and OpenAlgo's would otherwise
make it exit too much or nothing). "Positions Already Matched" -> the position is read again:
ours gone -> closed externally; else EXIT_FAILED, alerted (never re-sent blindly).

The position read, the cap, the request and placing it under the retry policy (429, 403,
rejections, semi-auto) are in placement.py, what follows a final order report in
outcomes.py. An unknown outcome -> adopt the matching
order, or place again only after the order book showed twice that no such order exists
(attempt + 1, audited, at most `max_attempts`).
Concurrency: every decision runs in its own task; per symbol/exchange/product a lock covers
"read position -> place -> acknowledged" so concurrent exits never over-count the net, and a
smart-order exit holds it until the order is final (OpenAlgo computes against the live net).
Latency: on an exit's first attempt the position read starts alongside the intent commit (they
are independent; the order still waits for both). The prefetched net is used only if nothing
touched that key since it started (a per-key generation, bumped on every placement,
acknowledgement, reservation change and lock release) and the lock was free; else it is read
again under the lock as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from tradeguard.app.failpoints import Failpoints
from tradeguard.app.metrics import ExitMetrics
from tradeguard.app.outcomes import exit_tag, trade_last_price
from tradeguard.app.placement import AGAIN, MATCHED, UNRESOLVED, ExitPlacement, Key, Waits
from tradeguard.app.ports import AlertSink, BrokerGateway, Clock, Store
from tradeguard.app.resolve import ExecutorPolicy, OrderTracker
from tradeguard.app.session import BrokerSession, SessionGateway
from tradeguard.app.snapshots import ExitInfo, Snapshots, audit
from tradeguard.core.broker import (
    OrderReport,
)
from tradeguard.core.decisions import Decisions, ExitDecision
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.model import TradeState
from tradeguard.core.strategy import ExitOrderMode
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)

Prefetch = tuple[int, "asyncio.Task[int | None]"]  # (key generation at start, the net read)


class ExitExecutor(ExitPlacement):
    """Runs exits as tasks; see the module docstring for the rules."""

    def __init__(
        self,
        engine: RiskEngine,
        broker: BrokerGateway,
        store: Store,
        clock: Clock,
        alerts: AlertSink,
        snapshots: Snapshots,
        *,
        policy: ExecutorPolicy | None = None,
        metrics: ExitMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.alerts = alerts
        self.snapshots = snapshots
        self.policy = policy or ExecutorPolicy()
        self.metrics = metrics or ExitMetrics()
        self.session = BrokerSession(
            broker, clock, alerts, store, down_interval=self.policy.session_interval
        )
        self.broker: BrokerGateway = SessionGateway(broker, self.session)  # sees every 403
        self.tracker = OrderTracker(self.broker, clock, self.policy)
        self._inflight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[Key, asyncio.Lock] = {}
        self._reserved: dict[Key, int] = {}  # signed quantity of our exits still working
        self._working: dict[Key, int] = {}  # how many of them (reservations can cancel out)
        self._generation: dict[Key, int] = {}  # bumped whenever an exit on the key changes
        self._waiting: dict[str, str] = {}  # order id -> trade id, left for late updates
        # order id -> (trade id, key, reserved, working) of those still counted as working
        self._held: dict[str, tuple[str, Key, int, int]] = {}
        self.failpoints = Failpoints()
        self._early = Decisions()
        self._dispatch: Callable[[Decisions], None] = self._early.extend
        self._closed: Callable[[Trade], None] = lambda trade: None

    def bind(self, dispatch: Callable[[Decisions], None], closed: Callable[[Trade], None]) -> None:
        """Where follow-up decisions (a close can fire a strategy rule) and closed trades go.
        Decisions made before binding are handed over now."""
        self._dispatch, self._closed = dispatch, closed
        if self._early:
            early, self._early = self._early, Decisions()
            dispatch(early)

    # -- entry points ---------------------------------------------------------------------

    def submit(self, decisions: Iterable[ExitDecision], received_at: int | None = None) -> None:
        """Start every exit at once, each in its own task (portfolio exits run concurrently)."""
        for decision in decisions:
            self._spawn(self.execute(decision, received_at))

    async def execute_all(
        self, decisions: Iterable[ExitDecision], received_at: int | None = None
    ) -> None:
        await asyncio.gather(*(self.execute(d, received_at) for d in decisions))

    def track(self, trade_id: str, order_id: str) -> None:
        """Keep resolving an exit order that is already working (recovery, reconciliation)."""
        self._spawn(self._guarded(trade_id, 0, self._resume(trade_id, order_id)))

    def on_order_update(self, report: OrderReport) -> None:
        """An order update pushed by the feed. Finishes exits whose resolver timed out."""
        self.tracker.push(report)
        trade_id = self._waiting.get(report.order_id)
        if report.status.is_final:
            self._release_order(report.order_id)
        if trade_id is not None and report.status.is_final and trade_id not in self._inflight:
            del self._waiting[report.order_id]
            self._spawn(self._guarded(trade_id, 0, self._finish_late(trade_id, report)))

    def in_flight(self) -> set[str]:
        return set(self._inflight)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 - a grace period
        """Wait up to `timeout` for running exits, then cancel the rest (their intents are
        committed; recovery resolves them)."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            await cancel_all(pending)
        await self.session.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def execute(self, decision: ExitDecision, received_at: int | None = None) -> None:
        await self._guarded(decision.trade_id, decision.quantity, self._run(decision, received_at))

    async def _guarded(self, trade_id: str, quantity: int, work: Coroutine[Any, Any, None]) -> None:
        if trade_id in self._inflight:
            work.close()
            log.warning("exit of %s (%d) already running; duplicate ignored", trade_id, quantity)
            await self._commit(
                [audit(self.clock.now(), "exit_duplicate_ignored", trade_id, quantity=quantity)]
            )
            return
        self._inflight[trade_id] = quantity
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("exit of %s crashed", trade_id)
            self.alerts.alert(
                "critical",
                f"exit of {trade_id} crashed ({error!r}); left EXITING for reconciliation",
                trade_id=trade_id,
            )
        finally:
            self._inflight.pop(trade_id, None)

    # -- the exit -------------------------------------------------------------------------

    async def _run(self, decision: ExitDecision, received_at: int | None) -> None:
        try:
            trade = self.engine.trade(decision.trade_id)
        except EngineError:
            return  # closed meanwhile
        if trade.state is not TradeState.EXITING:
            log.warning("exit of %s skipped: trade is %s", trade.trade_id, trade.state)
            return
        info = self.snapshots.exit_info(trade.trade_id)
        first = True
        while True:
            info.begin(decision, self.clock.now())
            self.failpoints.hit("before_intent")
            prefetch = self._prefetch(_key(trade)) if first else None
            first = False
            try:
                if prefetch is not None:
                    await asyncio.sleep(0)  # the read goes on the wire before the commit starts
                await self._commit_intent(trade, info, decision)
                self.failpoints.hit("after_intent")
                outcome = await self._place(trade, info, decision, received_at, prefetch)
            finally:
                if prefetch is not None:
                    _discard(prefetch[1])
            if outcome != UNRESOLVED:
                return
            order, absent = await self._resolve_unknown(trade, info)
            if order is not None:
                await self._adopted(trade, info, order)
                return
            if not absent:
                await self._leave_unresolved(trade, info)
                return
            if info.attempt >= self.policy.max_attempts:
                await self._fail(trade, info, f"not placed after {info.attempt} attempts")
                return
            await self._commit(
                [audit(self.clock.now(), "exit_retry", trade.trade_id, attempt=info.attempt + 1)]
            )
            received_at = None

    async def _commit_intent(self, trade: Trade, info: ExitInfo, decision: ExitDecision) -> None:
        now = self.clock.now()
        ok = await self._commit(
            [
                self.snapshots.trade_record(trade, now),
                audit(
                    now,
                    "exit_intent",
                    trade.trade_id,
                    reason=decision.reason.value,
                    trigger=decision.trigger,
                    tick_price=decision.price,
                    tick_time=decision.at,
                    quantity=trade.quantity,
                    attempt=info.attempt,
                ),
            ]
        )
        if not ok:
            log.error("exit intent of %s NOT stored (unjournaled); exiting anyway", trade)
            self.alerts.alert(
                "critical",
                f"exit intent of {trade.trade_id} unjournaled (neither the database nor the "
                "journal took it): exit sent anyway, resolved from the broker's books if we "
                "restart",
                trade_id=trade.trade_id,
                unjournaled=True,
            )

    def _prefetch(self, key: Key) -> Prefetch | None:
        """Start reading the net of `key` now, unless an exit on it holds the lock."""
        lock = self._locks.get(key)
        if lock is not None and lock.locked():
            return None
        return self._generation.get(key, 0), asyncio.create_task(self._net(key))

    def _touch(self, key: Key) -> None:
        self._generation[key] = self._generation.get(key, 0) + 1

    async def _place(
        self,
        trade: Trade,
        info: ExitInfo,
        decision: ExitDecision,
        received_at: int | None,
        prefetch: Prefetch | None = None,
    ) -> str:
        """Cap, place and resolve. Returns "done" or UNRESOLVED (unknown outcome)."""
        key = _key(trade)
        smart_mode = (
            self.engine.strategy(trade.strategy_id).config.exit_order_mode
            is ExitOrderMode.SMARTORDER
        )
        lock = self._locks.setdefault(key, asyncio.Lock())
        contended = lock.locked()
        await lock.acquire()
        held = True
        waits = Waits()
        try:
            net: int | None = None
            if (
                prefetch is not None
                and not contended
                and prefetch[0] == self._generation.get(key, 0)
            ):
                net = await prefetch[1]  # nothing touched the key since the read started
            while True:  # again after every wait: the position may have changed meanwhile
                if net is None:
                    net = await self._read_position(trade, info, key, waits)
                    if net is None:
                        return "done"  # unreadable within the bounds: failed, never uncapped
                quantity = await self._cap(trade, net, key)
                if quantity == 0:
                    return "done"
                smart = smart_mode and not self._working.get(key, 0)
                if smart_mode and not smart:
                    log.info("exit of %s as placeorder: another exit on its key works", trade)
                tag = exit_tag(trade.strategy_id, info.reason or "EXIT", trade.trade_id)
                request = self._request(trade, net, quantity, tag, smart)
                order_id = await self._send(trade, info, request, received_at, waits)
                received_at = None
                self._touch(key)
                if order_id != AGAIN:
                    break
                net = None
            if order_id == MATCHED:
                await self._matched(trade, info, key, waits)
                return "done"
            if order_id is None or order_id == UNRESOLVED:
                return UNRESOLVED if order_id == UNRESOLVED else "done"
            acked = self.clock.now()
            info.order_id = order_id
            mode = "smartorder" if smart else "placeorder"
            await self._commit(
                [
                    self.snapshots.trade_record(trade, acked),
                    audit(
                        acked, "exit_sent", trade.trade_id, order_id=order_id, tag=tag, mode=mode
                    ),
                ]
            )
            reserved = 0 if self.tracker.final(order_id) else -trade.sign * quantity
            working = 1 if reserved else 0
            self._reserved[key] = self._reserved.get(key, 0) + reserved
            self._working[key] = self._working.get(key, 0) + working
            self._touch(key)
            if not smart:
                lock.release()
                held = False
            try:
                await self._await_outcome(trade, info, order_id, tag, acked)
            finally:
                self._outcome_done(trade.trade_id, order_id, key, reserved, working)
            return "done"
        finally:
            self._touch(key)
            if held:
                lock.release()

    def _outcome_done(
        self, trade_id: str, order_id: str, key: Key, reserved: int, working: int
    ) -> None:
        """The exit's wait for its order is over. If the resolver gave up, the order may still
        fill: it stays reserved (counted as gone from the position) until its final report,
        or until the trade is closed or failed by another path."""
        if reserved and self._waiting.get(order_id) == trade_id:
            self._held[order_id] = (trade_id, key, reserved, working)
        else:
            self._unreserve(key, reserved, working)

    def _unreserve(self, key: Key, reserved: int, working: int) -> None:
        self._reserved[key] -= reserved
        self._working[key] -= working
        self._touch(key)

    def _release_order(self, order_id: str) -> None:
        """An exit order left working is final: it no longer counts against the position."""
        held = self._held.pop(order_id, None)
        if held is not None:
            _trade_id, key, reserved, working = held
            self._unreserve(key, reserved, working)

    def _release_trade(self, trade_id: str) -> None:
        for order_id in [o for o, held in self._held.items() if held[0] == trade_id]:
            self._release_order(order_id)

    async def commit_closed(self, trade: Trade, action: str, **detail: object) -> None:
        self._release_trade(trade.trade_id)  # however it closed (late fill, reconciliation)
        await super().commit_closed(trade, action, **detail)

    async def _fail(self, trade: Trade, info: ExitInfo, message: str) -> None:
        self._release_trade(trade.trade_id)
        await super()._fail(trade, info, message)


def _key(trade: Trade) -> Key:
    return trade.instrument.symbol, trade.instrument.exchange, trade.product.value


def _discard(task: asyncio.Task[Any]) -> None:
    """Drop a prefetch that was not used (cancel it if still running; its result is moot)."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        with contextlib.suppress(Exception):
            task.exception()  # retrieved: no "never retrieved" warning


async def cancel_all(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel tasks and wait until they are done, cancelling again while needed: on Python
    3.11 a cancellation that races a completing `asyncio.wait_for` is swallowed."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.05)


__all__ = ["ExecutorPolicy", "ExitExecutor", "cancel_all", "exit_tag", "trade_last_price"]
