"""App layer: what the exit path's collaborators share (ExitOutcomes, ExitPlacement, ExitCaps
and the ExitExecutor that composes them): the engine, the broker as the session sees it, the
store, the clock, alerts, the snapshots with the exit-order ledger, the policy, metrics, the
order tracker, and where follow-up decisions and closed trades go. A plain holder: no logic
beyond committing records and small helpers every part needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tradeguard.app.failpoints import Failpoints
from tradeguard.app.metrics import ExitMetrics
from tradeguard.app.ports import AlertSink, BrokerGateway, Clock, Store
from tradeguard.app.records import Record
from tradeguard.app.resolve import ExecutorPolicy, OrderTracker
from tradeguard.app.session import BrokerSession
from tradeguard.app.snapshots import Snapshots, commit_logged
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import RiskEngine
from tradeguard.core.exit_order import ExitLedger, ExitOrder, Key
from tradeguard.core.trade import Trade

STRATEGY = "tradeguard"  # the `strategy` field of position reads and status polls


def _no_decisions(decisions: Decisions) -> None:
    del decisions


def _no_close(trade: Trade) -> None:
    del trade


def _no_sent(trade: Trade, order: ExitOrder) -> None:
    del trade, order


@dataclass(slots=True)
class ExitParts:
    engine: RiskEngine
    broker: BrokerGateway  # the session gateway: every 403 marks the session down
    store: Store
    clock: Clock
    alerts: AlertSink
    snapshots: Snapshots
    policy: ExecutorPolicy
    metrics: ExitMetrics
    tracker: OrderTracker
    session: BrokerSession
    failpoints: Failpoints = field(default_factory=Failpoints)
    dispatch: Callable[[Decisions], None] = _no_decisions
    closed: Callable[[Trade], None] = _no_close
    sent: Callable[[Trade, ExitOrder], None] = _no_sent  # the broker took an exit order
    touch: Callable[[Key], None] = field(default=lambda key: None)

    @property
    def ledger(self) -> ExitLedger:
        return self.snapshots.ledger

    async def commit(self, records: Sequence[Record]) -> bool:
        return await commit_logged(self.store, records)

    async def commit_exit(self, trade: Trade, order: ExitOrder, *more: Record) -> bool:
        """The trade's row and its exit order's row (and `more`), in one transaction."""
        now = self.clock.now()
        return await self.commit(
            [self.snapshots.trade_record(trade, now), self.snapshots.exit_record(order, now), *more]
        )


def trade_key(trade: Trade) -> Key:
    return trade.instrument.symbol, trade.instrument.exchange, trade.product.value
