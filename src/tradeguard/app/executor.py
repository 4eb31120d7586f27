"""App layer: the exit executor. One ExitDecision becomes exit orders in the exit-order ledger
(core.exit_order), exactly one at a time per trade.

Per exit: (a) a new ledger row (INTENT) is committed with the trade's EXITING snapshot and the
`exit_intent` audit entry (a degraded store queues it: we alert and go on, because a missed stop
costs money); (b) read a fresh position and cap the quantity from the ledger so the account's
net never crosses zero (caps.py: net minus the unfilled remainder of our other working exits on
the key; a shortfall is checked against their order status before anything is concluded; a
position that cannot be read -> the exit fails loudly rather than go out uncapped); (c) place
a MARKET `placeorder` of the opposite side (or, per strategy, a `placesmartorder` with quantity
0 and position_size = live net minus our capped signed quantity); after any wait (403 session
down, 429 back-off) (b) is done again before (c) is re-sent; (d) commit the order id (row
WORKING); (e) resolve: every report goes into the row; complete -> CLOSED at the real fill
price; rejected -> EXIT_FAILED and an alert; not final in time -> the row stays working (it
still counts on its key) and a late order update finishes it.
Unknown outcome (timeout, 5xx: the row is SUBMITTED_UNKNOWN) -> unknown.py: adopt the one
matching unclaimed order, else by default leave it UNRESOLVED (never placed again blindly).
Smart orders: OpenAlgo computes its order from the LIVE net, so a target is only right when no
other exit of ours on the key may still fill: while one may, the exit goes out as a capped
`placeorder` instead. "Positions Already Matched" -> the position is read again: ours gone ->
closed externally; else EXIT_FAILED, alerted (never re-sent blindly).

The executor is a small orchestrator: it owns the tasks, the per-trade once-only guard, and
the per-key locks; the parts it composes do the rest (exit_parts.ExitParts: what they share;
placement.ExitPlacement: read, request, send under the retry policy; caps.ExitCaps: the cap;
outcomes.ExitOutcomes: what a report means; unknown.UnknownOutcomes: an unknown outcome;
semiauto.QueuedExits: an exit queued in OpenAlgo's Action Center, which blocks any other).
Concurrency: every decision runs in its own task; per symbol/exchange/product a lock covers
"read position -> place -> acknowledged" so concurrent exits never over-count the net, and a
smart-order exit holds it until the order is final (OpenAlgo computes against the live net).
Latency: on an exit's first attempt the position read starts alongside the intent commit (they
are independent; the order still waits for both). The prefetched net is used only if nothing
touched that key since it started (a per-key generation, bumped on every placement,
acknowledgement, ledger change on the key and lock release) and the lock was free; else it is
read again under the lock as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from tradeguard.app.caps import ExitCaps
from tradeguard.app.exit_parts import ExitParts, trade_key
from tradeguard.app.failpoints import Failpoints
from tradeguard.app.metrics import ExitMetrics
from tradeguard.app.outcomes import ExitOutcomes, exit_tag, trade_last_price
from tradeguard.app.placement import AGAIN, MATCHED, UNRESOLVED, ExitPlacement, Waits, exit_request
from tradeguard.app.ports import AlertSink, BrokerGateway, Clock, Store
from tradeguard.app.resolve import ExecutorPolicy, OrderTracker
from tradeguard.app.semiauto import QueuedExits
from tradeguard.app.session import BrokerSession, SessionGateway
from tradeguard.app.snapshots import Snapshots, audit
from tradeguard.app.unknown import UnknownOutcomes
from tradeguard.core.broker import OrderReport
from tradeguard.core.decisions import Decisions, ExitDecision
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.exit_order import ExitOrder, Key
from tradeguard.core.model import TradeState
from tradeguard.core.strategy import ExitOrderMode
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)

Prefetch = tuple[int, "asyncio.Task[int | None]"]  # (key generation at start, the net read)


class ExitExecutor:
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
        policy = policy or ExecutorPolicy()
        session = BrokerSession(broker, clock, alerts, store, down_interval=policy.session_interval)
        gateway: BrokerGateway = SessionGateway(broker, session)  # sees every 403
        self._early = Decisions()
        self.parts = ExitParts(
            engine=engine,
            broker=gateway,
            store=store,
            clock=clock,
            alerts=alerts,
            snapshots=snapshots,
            policy=policy,
            metrics=metrics or ExitMetrics(),
            tracker=OrderTracker(gateway, clock, policy),
            session=session,
            dispatch=self._early.extend,
            touch=self._touch,
        )
        self.outcomes = ExitOutcomes(self.parts)
        self.queued = QueuedExits(
            self.parts, self.outcomes, lambda: self.unknown.claimed_order_ids(), self._guarded
        )
        self.placement = ExitPlacement(self.parts, self.outcomes, self.queued)
        self.caps = ExitCaps(self.parts, self.outcomes, self.placement)
        self.unknown = UnknownOutcomes(self.parts, self.outcomes)
        self._inflight: dict[str, int] = {}  # trade id -> quantity: the once-only guard
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[Key, asyncio.Lock] = {}
        self._generation: dict[Key, int] = {}  # bumped whenever an exit on the key changes

    # -- what others read -----------------------------------------------------------------

    @property
    def broker(self) -> BrokerGateway:
        return self.parts.broker

    @property
    def session(self) -> BrokerSession:
        return self.parts.session

    @property
    def session_down(self) -> bool:
        """The broker session is down (a 403 seen, no successful ping or placement since)."""
        return self.parts.session.down

    @property
    def metrics(self) -> ExitMetrics:
        return self.parts.metrics

    @property
    def policy(self) -> ExecutorPolicy:
        return self.parts.policy

    @property
    def tracker(self) -> OrderTracker:
        return self.parts.tracker

    @property
    def failpoints(self) -> Failpoints:
        return self.parts.failpoints

    @failpoints.setter
    def failpoints(self, value: Failpoints) -> None:
        self.parts.failpoints = value

    def bind(
        self,
        dispatch: Callable[[Decisions], None],
        closed: Callable[[Trade], None],
        sent: Callable[[Trade, ExitOrder], None] | None = None,
    ) -> None:
        """Where follow-up decisions (a close can fire a strategy rule), closed trades and
        exit orders the broker took go. Decisions made before binding are handed over now."""
        self.parts.dispatch, self.parts.closed = dispatch, closed
        if sent is not None:
            self.parts.sent = sent
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
        self._spawn(self._guarded(trade_id, 0, self.outcomes.resume(trade_id, order_id)))

    def on_order_update(self, report: OrderReport) -> None:
        """An order update pushed by the feed: into the tracker and the ledger row of the
        order (if it is one of ours). A final one finishes an exit nobody waits for any more."""
        p = self.parts
        p.tracker.push(report)
        order = p.ledger.by_order(report.order_id)
        if order is None:
            return
        self.outcomes.note_report(order, report)
        trade_id = order.trade_id
        if not report.status.is_final or trade_id in self._inflight:
            return
        try:
            trade = p.engine.trade(trade_id)
        except EngineError:
            return
        if trade.state is TradeState.EXITING and p.ledger.latest(trade_id) is order:
            self._spawn(self._guarded(trade_id, 0, self.outcomes.finish_late(trade_id, report)))

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
        await self.queued.close()
        await self.parts.session.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def execute(self, decision: ExitDecision, received_at: int | None = None) -> None:
        await self._guarded(decision.trade_id, decision.quantity, self._run(decision, received_at))

    async def _guarded(self, trade_id: str, quantity: int, work: Coroutine[Any, Any, None]) -> None:
        p = self.parts
        if trade_id in self._inflight:
            work.close()
            log.warning("exit of %s (%d) already running; duplicate ignored", trade_id, quantity)
            await p.commit(
                [audit(p.clock.now(), "exit_duplicate_ignored", trade_id, quantity=quantity)]
            )
            return
        self._inflight[trade_id] = quantity
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("exit of %s crashed", trade_id)
            p.alerts.alert(
                "critical",
                f"exit of {trade_id} crashed ({error!r}); left EXITING for reconciliation",
                trade_id=trade_id,
            )
        finally:
            self._inflight.pop(trade_id, None)

    # -- the exit -------------------------------------------------------------------------

    async def _run(self, decision: ExitDecision, received_at: int | None) -> None:
        p = self.parts
        try:
            trade = p.engine.trade(decision.trade_id)
        except EngineError:
            return  # closed meanwhile
        if trade.state is not TradeState.EXITING:
            log.warning("exit of %s skipped: trade is %s", trade.trade_id, trade.state)
            return
        queued = self.queued.blocking(trade.trade_id)
        if queued is not None:  # it may still be approved: never a second exit (semiauto.py)
            await self.queued.refuse(trade, queued)
            return
        await self.unknown.give_up_unresolved(trade)
        first = True
        while True:
            order = self._intent(trade, decision)
            p.failpoints.hit("before_intent")
            prefetch = self._prefetch(order.key) if first else None
            first = False
            try:
                if prefetch is not None:
                    await asyncio.sleep(0)  # the read goes on the wire before the commit starts
                await self._commit_intent(trade, order)
                p.failpoints.hit("after_intent")
                outcome = await self._place(trade, order, received_at, prefetch)
            finally:
                if prefetch is not None:
                    _discard(prefetch[1])
            if outcome != UNRESOLVED or not await self.unknown.settle(trade, order):
                return
            received_at = None

    def _intent(self, trade: Trade, decision: ExitDecision) -> ExitOrder:
        """A new ledger row for the trade's next exit order (not yet committed)."""
        p = self.parts
        ledger = p.ledger
        last = ledger.latest(trade.trade_id)
        reason = decision.reason.value
        order = ExitOrder(
            exit_id=ledger.next_id(trade.trade_id),
            trade_id=trade.trade_id,
            account=trade.account,
            key=trade_key(trade),
            side=trade.side.exit_action,
            quantity=trade.quantity,
            tag=exit_tag(trade.strategy_id, reason, trade.trade_id),
            intent_at=p.clock.now(),
            attempt=(last.attempt if last is not None else 0) + 1,
            reason=reason,
            trigger=decision.trigger,
            tick_price=decision.price,
            tick_time=decision.at,
        )
        p.snapshots.note(trade.trade_id, None)
        return ledger.add(order)

    def claimed_order_ids(self) -> set[str]:
        """Order ids never to adopt (see UnknownOutcomes)."""
        return self.unknown.claimed_order_ids()

    async def _commit_intent(self, trade: Trade, order: ExitOrder) -> None:
        p = self.parts
        now = p.clock.now()
        ok = await p.commit(
            [
                p.snapshots.trade_record(trade, now),
                p.snapshots.exit_record(order, now),
                audit(
                    now,
                    "exit_intent",
                    trade.trade_id,
                    reason=order.reason,
                    trigger=order.trigger,
                    tick_price=order.tick_price,
                    tick_time=order.tick_time,
                    quantity=trade.quantity,
                    attempt=order.attempt,
                    exit_id=order.exit_id,
                ),
            ]
        )
        if not ok:
            log.error("exit intent of %s NOT stored (unjournaled); exiting anyway", trade)
            p.alerts.alert(
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
        return self._generation.get(key, 0), asyncio.create_task(self.placement.net(key))

    def _touch(self, key: Key) -> None:
        self._generation[key] = self._generation.get(key, 0) + 1

    async def _place(
        self,
        trade: Trade,
        order: ExitOrder,
        received_at: int | None,
        prefetch: Prefetch | None = None,
    ) -> str:
        """Cap, place and resolve. Returns "done" or UNRESOLVED (unknown outcome)."""
        p = self.parts
        key = order.key
        smart_mode = (
            p.engine.strategy(trade.strategy_id).config.exit_order_mode is ExitOrderMode.SMARTORDER
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
                    net = await self.placement.read_position(trade, order, key, waits)
                    if net is None:
                        return "done"  # unreadable within the bounds: failed, never uncapped
                quantity, net = await self.caps.cap(trade, order, net, key, waits)
                if quantity == 0:
                    return "done"
                others = any(o is not order for o in p.ledger.live_on_key(key))
                smart = smart_mode and not others
                if smart_mode and not smart:
                    log.info("exit of %s as placeorder: another exit on its key works", trade)
                request = exit_request(trade, net, quantity, order.tag, smart)
                order_id = await self.placement.send(trade, order, request, received_at, waits)
                received_at = None
                self._touch(key)
                if order_id != AGAIN:
                    break
                net = None
            if order_id == MATCHED:
                await self.caps.matched(trade, order, key, waits)
                return "done"
            if order_id is None or order_id == UNRESOLVED:
                return UNRESOLVED if order_id == UNRESOLVED else "done"
            acked = await self._acknowledged(trade, order, order_id, smart)
            if not smart:
                lock.release()
                held = False
            await self.outcomes.await_outcome(trade, order, acked)
            return "done"
        finally:
            self._touch(key)
            if held:
                lock.release()

    async def _acknowledged(
        self, trade: Trade, order: ExitOrder, order_id: str, smart: bool
    ) -> int:
        """The broker took the order: its id into the ledger row, committed (WORKING)."""
        p = self.parts
        acked = p.clock.now()
        p.ledger.bind(order, order_id)
        order.acknowledged(order_id, acked)
        known = p.tracker.final(order_id)  # its update may have come before the reply
        if known is not None:
            self.outcomes.note_report(order, known)
        mode = "smartorder" if smart else "placeorder"
        await p.commit_exit(
            trade,
            order,
            audit(acked, "exit_sent", trade.trade_id, order_id=order_id, tag=order.tag, mode=mode),
        )
        p.sent(trade, order)
        self._touch(order.key)
        return acked


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
