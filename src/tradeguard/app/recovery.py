"""App layer: the one start path (after a clean stop and after kill -9 alike), and reconciliation.

`Recovery.start()`: load strategies, open trades and the exit-order ledger (the rows that are
not final, and the order id of every row ever written: claimed, never adopted by another
trade) from the store, rebuild them in the engine
(today's realized P&L, baseline, peak and state; a figure from an earlier IST day starts a new
day; each trade's best price, so trailing levels are never looser than the flushed ones; a trade
rebuilt exactly as stored is not marked for the next flush), read
the broker's position book and order book, run `core.reconcile`, apply every correction with
an audit entry, log one summary line, and return the symbols to subscribe. Corrections land in
the ledger too: an adopted order is bound to the intent's row, a reopened exit's row is
settled (its report, or abandoned), an ambiguous intent becomes UNRESOLVED (the trade
EXIT_FAILED, shown as "exit unresolved", alerted critical).

`Recovery.reconcile_now()` is the same reconciliation while running: the monitor runs it after
every feed reconnect (order updates are not replayed) and every `reconcile_interval` seconds
(a position closed by hand -> CLOSED_EXTERNALLY). One runs at a time. It never races an exit:
a trade whose exit the executor is handling (when the books were asked for or when they
arrived) counts as "pending" (its exit explains a missing position), as does a trade that moved
(state or quantity) while the books were being read or that is newer than the read (the books
cannot show it yet); and each correction is applied only if its trade is still open, unmoved and
not in the executor's hands at that moment.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field

from tradeguard.app.executor import ExitExecutor
from tradeguard.app.outcomes import external_note, external_price
from tradeguard.app.ports import AlertSink, BrokerGateway, Clock, Store
from tradeguard.app.records import LoadedState, StrategyRecord, TradeRecord
from tradeguard.app.snapshots import (
    Snapshots,
    audit,
    commit_logged,
    config_from_record,
    exit_from_record,
    exit_from_trade_record,
    trade_from_record,
)
from tradeguard.core.broker import BrokerError, OrderReport, OrderStatus, PositionReport
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.exit_order import ExitOrder
from tradeguard.core.model import StrategyState, TradeState
from tradeguard.core.reconcile import Correction, CorrectionKind, reconcile
from tradeguard.core.timeutil import ist_day
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)

_ORDER_KINDS = frozenset(
    {
        CorrectionKind.CLOSE,
        CorrectionKind.REOPEN,
        CorrectionKind.ADOPT,
        CorrectionKind.KEEP_TRACKING,
        CorrectionKind.UNRESOLVED,
    }
)
_LABELS = {
    CorrectionKind.CLOSE: "exit filled while down",
    CorrectionKind.REOPEN: "reopened",
    CorrectionKind.ADOPT: "exit order adopted",
    CorrectionKind.KEEP_TRACKING: "exit still working",
    CorrectionKind.UNRESOLVED: "exit unresolved",
    CorrectionKind.CLOSED_EXTERNALLY: "closed externally",
    CorrectionKind.ADJUST_QUANTITY: "quantity adjusted",
}


class RecoveryError(RuntimeError):
    """The broker's books could not be read: reconciliation did not run."""


@dataclass(slots=True)
class RecoveryResult:
    symbols: list[tuple[str, str]]
    corrections: list[Correction]
    summary: str
    pending: Decisions = field(default_factory=Decisions)
    reconciled: bool = True


class Recovery:
    def __init__(
        self,
        engine: RiskEngine,
        store: Store,
        broker: BrokerGateway,
        clock: Clock,
        alerts: AlertSink,
        snapshots: Snapshots,
        executor: ExitExecutor,
        *,
        book_reads: int = 3,
        book_interval: float = 1.0,
    ) -> None:
        self.engine = engine
        self.store = store
        self.broker = broker
        self.clock = clock
        self.alerts = alerts
        self.snapshots = snapshots
        self.executor = executor
        self.book_reads = book_reads
        self.book_interval = book_interval
        self._lock = asyncio.Lock()  # one reconciliation at a time

    async def start(self) -> RecoveryResult:
        # The broker's books are read while the database loads (nothing trades meanwhile:
        # monitoring has not started), so a restart pays for the slower of the two, not both.
        books = asyncio.ensure_future(self._books())
        try:
            state = await self.store.load()
            now = self.clock.now()
            pending = self._rebuild(state, now)
        except BaseException:
            books.cancel()  # never left running unawaited
            raise
        busy = {d.trade_id for d in pending.exits}
        try:
            corrections = await self._reconcile(
                busy, orders_only=False, decisions=pending, books=books
            )
            reconciled = True
        except RecoveryError as error:
            corrections, reconciled = [], False
            self.alerts.alert("critical", f"recovery could not reconcile: {error}")
        summary = _summary("recovery", len(state.trades), corrections, reconciled)
        log.debug(summary)  # the caller shows it (`tradeguard run` prints it)
        await self._commit_audit(now, "recovery", summary=summary)
        return RecoveryResult(self.engine.symbols(), corrections, summary, pending, reconciled)

    async def reconcile_now(self, *, orders_only: bool = False) -> list[Correction]:
        """Reconcile while running (orders and positions; `orders_only` leaves positions
        alone). Follow-up exits go to the executor. Raises RecoveryError when the books cannot
        be read. Returns the corrections applied."""
        async with self._lock:
            decisions = Decisions()
            corrections = await self._reconcile(
                self.executor.in_flight(), orders_only=orders_only, decisions=decisions
            )
            if corrections:
                log.info(_summary("reconcile", len(corrections), corrections, True))
            if decisions:
                self.executor.submit(decisions.exits)
            return corrections

    # -- rebuilding -----------------------------------------------------------------------

    def _rebuild(self, state: LoadedState, now: int) -> Decisions:
        """Strategies, then every open trade, into the engine; returns what they decided."""
        for record in state.strategies:
            self._restore_strategy(record, now)
        ledger = self.snapshots.ledger
        ledger.claim(state.claimed_order_ids)
        open_ids = {t.trade_id for t in state.trades}
        for exit_record in state.exit_orders:
            # A row left open by a trade that is closed counts on no key: only its id stays.
            if exit_record.trade_id in open_ids and ledger.get(exit_record.exit_id) is None:
                ledger.add(exit_from_record(exit_record))
        pending = Decisions()
        as_stored: list[str] = []
        for trade_record in state.trades:
            trade = trade_from_record(trade_record)
            if ledger.latest(trade.trade_id) is None:  # a row from before the ledger
                legacy = exit_from_trade_record(trade_record)
                if legacy is not None and not (
                    legacy.order_id and ledger.by_order(legacy.order_id)
                ):
                    ledger.add(legacy)
            self.snapshots.mark_stored(trade)
            pending.extend(self.engine.add_trade(trade, now, evaluate_strategy=False))
            if _as_stored(trade, trade_record):
                as_stored.append(trade.trade_id)
        for strategy in self.engine.strategies():  # once each, with all its trades in
            pending.extend(self.engine.reevaluate_strategy(strategy.strategy_id, now))
        # A restored trade identical to its row need not be written again: with 10,000 trades
        # that first flush is one 10,000-row transaction every exit intent would queue behind.
        self.engine.dirty_trades.difference_update(as_stored)
        return pending

    def _restore_strategy(self, record: StrategyRecord, now: int) -> None:
        config = config_from_record(record)
        state = StrategyState(record.state)
        if record.day < ist_day(now):  # realized P&L of an earlier day: a new day begins
            if state is StrategyState.HALTED:
                state = StrategyState.ACTIVE
            self.engine.add_strategy(record.strategy_id, config, state=state)
        else:
            self.engine.add_strategy(
                record.strategy_id,
                config,
                state=state,
                realized=record.realized_pnl,
                baseline=record.baseline,
                peak=record.peak_pnl,
                halt_reason=record.halt_reason,
            )

    # -- reconciliation -------------------------------------------------------------------

    async def _reconcile(
        self,
        busy: set[str],
        *,
        orders_only: bool,
        decisions: Decisions,
        books: Awaitable[tuple[list[PositionReport], list[OrderReport]]] | None = None,
    ) -> list[Correction]:
        asked = {t.trade_id: _shape(t) for t in self.engine.trades()}
        positions, orders = await (books if books is not None else self._books())
        # Exits started, fills applied or trades created while the books were on the way are
        # not (reliably) in them: those trades count as busy, never as gone at the broker.
        busy = busy | self.executor.in_flight()
        trades = list(self.engine.trades())
        seen = {t.trade_id: _shape(t) for t in trades}
        snapshots = [
            self.snapshots.reconcile_snapshot(
                t,
                in_flight=t.trade_id in busy or asked.get(t.trade_id) != seen[t.trade_id],
            )
            for t in trades
        ]
        now = self.clock.now()
        claimed = self.executor.claimed_order_ids()
        corrections = reconcile(snapshots, positions, orders, now, claimed)
        if orders_only:
            corrections = [c for c in corrections if c.kind in _ORDER_KINDS]
        applied: list[Correction] = []
        for correction in corrections:
            moved = self._moved(correction.trade_id, seen)
            if moved:
                log.info("reconcile: %s skipped (%s)", correction.summary, moved)
                continue
            applied.append(correction)
            try:
                await self._apply(correction, orders, decisions, positions)
            except (EngineError, BrokerError) as error:
                if self._open(correction.trade_id) is None:
                    log.info("reconcile: %s overtaken (trade closed meanwhile)", correction.summary)
                    continue
                log.exception("correction %s failed", correction.summary)
                self.alerts.alert("error", f"could not apply: {correction.summary} ({error})")
            trade = self._open(correction.trade_id)
            if trade is not None:  # our own change (REOPEN, ADJUST) is not a move by others
                seen[trade.trade_id] = _shape(trade)
        return applied

    def _open(self, trade_id: str) -> Trade | None:
        try:
            return self.engine.trade(trade_id)
        except EngineError:
            return None

    def _moved(self, trade_id: str, seen: dict[str, tuple[TradeState, int]]) -> str | None:
        """Why a correction decided on `seen` must not be applied now (None: apply it)."""
        trade = self._open(trade_id)
        if trade is None:
            return "closed meanwhile"
        if trade_id in self.executor.in_flight():
            return "its exit is running"
        if _shape(trade) != seen.get(trade_id):
            return f"now {trade.state} {trade.quantity}"
        return None

    async def _books(self) -> tuple[list[PositionReport], list[OrderReport]]:
        last: Exception | None = None
        for attempt in range(self.book_reads):
            if attempt:
                await self.clock.sleep(self.book_interval)
            try:
                positions, orders = await asyncio.gather(
                    self.broker.position_book(), self.broker.order_book()
                )
                return positions, orders
            except BrokerError as error:
                last = error
                log.warning("broker books unavailable (%s)", error)
        raise RecoveryError(f"position/order book unavailable: {last}")

    async def _apply(
        self,
        correction: Correction,
        orders: list[OrderReport],
        decisions: Decisions,
        positions: list[PositionReport],
    ) -> None:
        trade = self.engine.trade(correction.trade_id)
        now = self.clock.now()
        kind = correction.kind
        order = self.snapshots.ledger.latest(trade.trade_id)
        outcomes = self.executor.outcomes
        # a close is told by the trade's `closed` event (the terminal prints it): not twice
        closing = kind in (CorrectionKind.CLOSE, CorrectionKind.CLOSED_EXTERNALLY)
        log.log(logging.DEBUG if closing else logging.INFO, "reconcile: %s", correction.summary)
        if kind is CorrectionKind.ADOPT:
            assert correction.order_id is not None
            assert order is not None
            self.snapshots.ledger.bind(order, correction.order_id)
            order.acknowledged(correction.order_id, now)
        elif kind is CorrectionKind.CLOSE:
            await self._close(trade.trade_id, correction, orders, decisions)
            return
        elif kind is CorrectionKind.KEEP_TRACKING:
            assert correction.order_id is not None
            self.executor.track(trade.trade_id, correction.order_id)
        elif kind is CorrectionKind.UNRESOLVED:
            assert order is not None
            await outcomes.unresolved(trade, order, correction.summary)
            return
        elif kind is CorrectionKind.REOPEN:
            if correction.quantity:  # partly filled before it was cancelled
                keep = trade.quantity - correction.quantity
                decisions.extend(self.engine.reduce_quantity(trade.trade_id, keep, None, now))
            if order is not None:
                self._settle_reopened(order, correction, orders, now)
            self.snapshots.note(trade.trade_id, correction.summary)
            decisions.extend(self.engine.exit_abandoned(trade.trade_id, now))
        elif kind is CorrectionKind.ADJUST_QUANTITY:
            assert correction.quantity is not None
            self.snapshots.note(trade.trade_id, correction.summary)
            decisions.extend(
                self.engine.reduce_quantity(trade.trade_id, correction.quantity, None, now)
            )
        elif kind is CorrectionKind.CLOSED_EXTERNALLY:
            shape = {trade.trade_id: _shape(trade)}
            price, source = await external_price(self.engine, self.broker, trade, positions)
            if self._moved(trade.trade_id, shape):
                return  # it moved while the quote was asked for: the next reconcile decides
            note = external_note(price, source)
            self.snapshots.note(trade.trade_id, f"{correction.summary}; {note}")
            decisions.extend(self.engine.close_trade(trade.trade_id, price, now, external=True))
            await outcomes.commit_closed(
                trade,
                "reconcile_closed_externally",
                summary=correction.summary,
                price_source=source,
                review=source == "entry",
            )
            if source == "entry":
                self.alerts.alert(
                    "warning",
                    f"{trade.trade_id} closed outside tradeguard: {note}",
                    trade_id=trade.trade_id,
                )
            return
        await self._commit_trade(trade.trade_id, correction, now, order)

    def _settle_reopened(
        self, order: ExitOrder, correction: Correction, orders: list[OrderReport], now: int
    ) -> None:
        """The exit order of a reopened trade is over: its final report, or never placed."""
        if order.is_final:
            return
        report = next((o for o in orders if o.order_id == order.order_id), None)
        if report is not None and report.status.is_final:
            order.apply_report(report, now)
        if order.live:
            order.abandon(now, correction.summary)

    async def _close(
        self,
        trade_id: str,
        correction: Correction,
        orders: list[OrderReport],
        decisions: Decisions,
    ) -> None:
        trade = self.engine.trade(trade_id)
        report = next((o for o in orders if o.order_id == correction.order_id), None)
        if trade.state is TradeState.ACTIVE or report is None:
            return
        ledger = self.snapshots.ledger
        order = ledger.by_order(report.order_id) or ledger.latest(trade_id)
        if order is None or order.order_id not in (None, report.order_id):
            log.error("reconcile: no ledger row for exit order %s of %s", report.order_id, trade_id)
            return
        filled = correction.quantity or trade.quantity
        if filled < trade.quantity:
            decisions.extend(self.engine.reduce_quantity(trade_id, filled, None, self.clock.now()))
        report = OrderReport(
            report.order_id,
            report.symbol,
            report.exchange,
            report.action,
            trade.quantity,
            report.product,
            OrderStatus.COMPLETE,
            average_price=correction.price,
            filled_quantity=trade.quantity,
            timestamp=report.timestamp,
        )
        await self.executor.outcomes.apply_final(trade, order, report)

    async def _commit_trade(
        self, trade_id: str, correction: Correction, now: int, order: ExitOrder | None
    ) -> None:
        trade = self.engine.trade(trade_id)
        rows = [] if order is None else [self.snapshots.exit_record(order, now)]
        await self.store.commit(
            [
                self.snapshots.trade_record(trade, now),
                *rows,
                audit(
                    now,
                    f"reconcile_{correction.kind.value.lower()}",
                    trade_id,
                    summary=correction.summary,
                    order_id=correction.order_id,
                    quantity=correction.quantity,
                ),
            ]
        )

    async def _commit_audit(self, now: int, action: str, **detail: object) -> None:
        await commit_logged(self.store, [audit(now, action, "tradeguard", **detail)])


def _shape(trade: Trade) -> tuple[TradeState, int]:
    """What a reconciliation decision about a trade depends on (besides the books)."""
    return trade.state, trade.quantity


def _as_stored(trade: Trade, record: TradeRecord) -> bool:
    """True when the rebuilt trade's persisted fields equal its stored row."""
    stop_reason = trade.stop_reason.value if trade.stop_reason else None
    return (
        trade.state.value,
        trade.quantity,
        trade.best,
        trade.stop,
        stop_reason,
        trade.target,
        trade.trailing,
        trade.breakeven,
    ) == (
        record.state,
        record.quantity,
        record.best_price,
        record.stop_loss,
        record.stop_reason,
        record.target,
        record.trailing_level,
        record.breakeven_level,
    )


def _summary(what: str, trades: int, corrections: list[Correction], reconciled: bool) -> str:
    counts = Counter(c.kind for c in corrections)
    parts = [f"{what}: {trades} trades"]
    parts += [f"{counts[kind]} {label}" for kind, label in _LABELS.items() if counts[kind]]
    if not reconciled:
        parts.append("NOT reconciled (broker books unavailable)")
    elif len(parts) == 1:
        parts.append("all in line with the broker")
    return ", ".join(parts)
