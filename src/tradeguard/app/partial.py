"""App layer: a partial exit (exit N of an ACTIVE trade's open quantity).

The trade is split: N becomes a new trade (same strategy, entry, entry time, best price and
rules, so the same levels), which is exited at once through the executor like any manual exit
(its own exit-order ledger row, cap and resolution; its own history row with the P&L of its
fill); the rest stays ACTIVE under the original trade id with its rules unchanged. The split
is done in memory in one step (nothing can fire in between), then the reduced trade, the new
part (as ACTIVE: a crash before its exit intent leaves it guarded) and the audit entries are
written through in one commit, and only then does the part's exit go out. Never a second
exit: the original trade stays ACTIVE and keeps only the rest, the part's exit is one exit of
N, and the executor's cap keeps the account's net from crossing zero whatever else exits on
the key.

N must be 0 < N < open quantity (all of it is exittrade without a quantity) and a multiple of
the instrument's lot size. When neither the database nor the journal takes the commit, the
part is not exited: it stays ACTIVE and guarded as its own trade (503, saying so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from tradeguard.app.entries import new_trade_id
from tradeguard.app.errors import Conflict, InvalidRequest, NotStored
from tradeguard.app.monitor import Monitor
from tradeguard.app.ports import Clock
from tradeguard.app.records import Record
from tradeguard.app.snapshots import audit
from tradeguard.core.decisions import Decisions
from tradeguard.core.model import ExitReason, TradeState
from tradeguard.core.trade import Trade

Commit = Callable[[Sequence[Record], str], Awaitable[None]]


class PartialExits:
    """Splits a trade and exits the part; one partial exit at a time."""

    def __init__(self, monitor: Monitor, clock: Clock, commit_durable: Commit) -> None:
        self.monitor = monitor
        self.clock = clock
        self._commit = commit_durable
        self._lock = asyncio.Lock()

    async def exit_part(self, trade: Trade, quantity: int, actor: str) -> Trade:
        """Exit `quantity` of `trade`; the part's trade (EXITING) is returned."""
        async with self._lock:
            check(trade, quantity)
            engine = self.monitor.engine
            now = self.clock.now()
            remaining = trade.quantity - quantity
            part = Trade(
                trade_id=new_trade_id(),
                strategy_id=trade.strategy_id,
                account=trade.account,
                instrument=trade.instrument,
                side=trade.side,
                quantity=quantity,
                entry_price=trade.entry_price,
                entered_at=trade.entered_at,
                rules=trade.rules,
                product=trade.product,
                best=trade.best,
            )
            # in memory, in one step: the rest keeps the trade, the part is exiting
            decisions = engine.reduce_quantity(trade.trade_id, remaining, None, now)
            decisions.extend(self.monitor.add_split(part, now))
            snapshots = self.monitor.snapshots
            # the part is written ACTIVE: a crash before its exit intent is committed leaves it
            # guarded by its rules (the executor writes it EXITING with the intent)
            stored = [snapshots.trade_record(trade, now), snapshots.trade_record(part, now)]
            if part.state is TradeState.ACTIVE:
                decisions.exits.append(engine.request_exit(part.trade_id, now, ExitReason.MANUAL))
            records: list[Record] = [
                *stored,
                audit(
                    now,
                    "partial_exit",
                    trade.trade_id,
                    actor=actor,
                    quantity=quantity,
                    remaining=remaining,
                    part=part.trade_id,
                ),
                audit(
                    now,
                    "trade_created",
                    part.trade_id,
                    actor=actor,
                    quantity=quantity,
                    split_from=trade.trade_id,
                ),
                audit(now, "exit_requested", part.trade_id, actor=actor, quantity=quantity),
            ]
            try:
                await self._commit(records, f"the partial exit of {trade.trade_id} was not sent")
            except NotStored as error:
                self._keep_guarded(part, decisions, now)
                raise NotStored(
                    f"{error}; its {quantity} stays guarded as trade {part.trade_id}"
                ) from None
            self.monitor.dispatch(decisions)
            return part

    def _keep_guarded(self, part: Trade, decisions: Decisions, now: int) -> None:
        """The commit failed: the part's exit does not go out; it stays ACTIVE, guarded."""
        engine = self.monitor.engine
        decisions.exits = [d for d in decisions.exits if d.trade_id != part.trade_id]
        if part.state is TradeState.EXITING:
            decisions.extend(engine.exit_abandoned(part.trade_id, now))
        self.monitor.dispatch(decisions)


def check(trade: Trade, quantity: int) -> None:
    """Refuse a partial exit that does not fit the trade (InvalidRequest / Conflict)."""
    if trade.state is not TradeState.ACTIVE:
        raise Conflict(
            f"trade {trade.trade_id} is {trade.state.value}; only an ACTIVE trade exits in part"
        )
    if not 0 < quantity < trade.quantity:
        raise InvalidRequest(
            f"a partial exit takes 1 to {trade.quantity - 1} of the open {trade.quantity} "
            "(to exit all of it, leave the quantity out)"
        )
    lot = trade.instrument.lot_size
    if lot > 1 and quantity % lot:
        raise InvalidRequest(f"quantity {quantity} is not a multiple of the lot size {lot}")
