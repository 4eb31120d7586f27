"""App layer: what follows an exit order whose outcome is unknown (timeout, 5xx: its ledger row
is SUBMITTED_UNKNOWN), composed by the executor.

The order book is searched for the one order that matches it (same key, side and quantity,
placed at or after the intent, claimed by no ledger row of any trade in any state and no open
trade's entry) -> adopted, then resolved like any other. Otherwise the policy decides
(ExecutorPolicy.place_again_after_unknown): by default nothing is placed again: the row is
UNRESOLVED, the trade EXIT_FAILED ("exit unresolved"), alerted critical; an order report or a
reconciliation may still settle it, or a person retries, which gives the unresolved row up
(audited) before the new exit. With the policy on, an order the book does not show on
`absent_confirmations` reads is abandoned and a new attempt placed (audited, at most
`max_attempts`).
"""

from __future__ import annotations

from tradeguard.app.exit_parts import ExitParts
from tradeguard.app.outcomes import ExitOutcomes
from tradeguard.app.resolve import Search
from tradeguard.app.snapshots import audit
from tradeguard.core.exit_order import ExitOrder, ExitOrderState
from tradeguard.core.trade import Trade

_WHY = {
    Search.ABSENT: (
        "the order book shows no such order, but a slow broker can show it late: not placed "
        "again (policy place_again_after_unknown is off)"
    ),
    Search.AMBIGUOUS: "several unclaimed orders in the order book could be it: not guessed",
    Search.UNREADABLE: "the order book could not be read",
}


class UnknownOutcomes:
    """Settles an unknown outcome from the order book under the policy."""

    def __init__(self, parts: ExitParts, outcomes: ExitOutcomes) -> None:
        self.parts = parts
        self.outcomes = outcomes

    def claimed_order_ids(self) -> set[str]:
        """Order ids never to adopt: every ledger row's, every open trade's entry order."""
        claimed = self.parts.ledger.claimed_order_ids()
        claimed.update(t.entry_order_id for t in self.parts.engine.trades() if t.entry_order_id)
        return claimed

    async def settle(self, trade: Trade, order: ExitOrder) -> bool:
        """Adopt the order, or leave the exit unresolved, or (policy) abandon the row: True
        when a new attempt is to be placed."""
        p = self.parts
        found, search = await p.tracker.find_placed(
            p.snapshots.reconcile_snapshot(trade),
            order.quantity,
            order.intent_at,
            self.claimed_order_ids(),
        )
        if found is not None:
            await self.outcomes.adopted(trade, order, found)
            return False
        if search is not Search.ABSENT or not p.policy.place_again_after_unknown:
            await self.outcomes.unresolved(trade, order, f"exit outcome unknown: {_WHY[search]}")
            return False
        if order.attempt >= p.policy.max_attempts:
            await self.outcomes.fail(trade, order, f"not placed after {order.attempt} attempts")
            return False
        now = p.clock.now()
        order.abandon(now, "not in the order book: placed again (place_again_after_unknown)")
        p.touch(order.key)
        await p.commit(
            [
                p.snapshots.exit_record(order, now),
                audit(now, "exit_retry", trade.trade_id, attempt=order.attempt + 1),
            ]
        )
        return True

    async def give_up_unresolved(self, trade: Trade) -> None:
        """A new exit of a trade whose earlier exit stayed unresolved: only a person's retry
        starts one (the trade was EXIT_FAILED). Their decision gives the old row up (audited):
        it no longer counts on the key."""
        p = self.parts
        stale = [
            o for o in p.ledger.of_trade(trade.trade_id) if o.state is ExitOrderState.UNRESOLVED
        ]
        if not stale:
            return
        now = p.clock.now()
        for order in stale:
            order.abandon(now, "given up by a deliberate retry")
            p.touch(order.key)
        await p.commit(
            [
                *(p.snapshots.exit_record(o, now) for o in stale),
                audit(
                    now,
                    "exit_unresolved_given_up",
                    trade.trade_id,
                    exits=[o.exit_id for o in stale],
                ),
            ]
        )
