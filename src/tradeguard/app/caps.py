"""App layer: the cap of one exit, from the broker's net and the exit-order ledger.

What an exit may still sell (buy) on a symbol/exchange/product = the broker's net minus the
unfilled remainder of our other exits on that key that may still fill (`ExitLedger.reserved`):
a fill already in the position book is not counted again, because a fill reported for an
order leaves its remainder. The account's net never crosses zero.

Before the cap concludes that part of a trade is gone (a cut quantity, CLOSED_EXTERNALLY), it
makes sure the shortfall is not our own fills racing their reports: a broker's position book
can show a fill before its order report does (brokers without push are polled every few
seconds), and the order-update stream can be down. So, when the cap comes out short while other
exits of ours on the key may still fill, it re-reads each one's status (order_status), waits
(bounded by the resolve timeout) for those still working to be final, puts every report into
the ledger, reads the net again and caps again. If one of them is still not final (or has no
order id to ask about: an unresolved outcome), the shortfall cannot be told from an outside
change: the exit FAILS loudly instead (EXIT_FAILED, alerted; the trade stays guarded for a
person), never closing the trade as external on a read that races our own fills.
"""

from __future__ import annotations

import asyncio
import logging

from tradeguard.app.exit_parts import ExitParts
from tradeguard.app.outcomes import ExitOutcomes, external_note, external_price
from tradeguard.app.placement import ExitPlacement, Waits
from tradeguard.app.snapshots import audit
from tradeguard.core.exit_order import ExitOrder, Key
from tradeguard.core.model import TradeState
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)


class ExitCaps:
    """The cap of an exit, and what follows when ours is not all there."""

    def __init__(self, parts: ExitParts, outcomes: ExitOutcomes, placement: ExitPlacement) -> None:
        self.parts = parts
        self.outcomes = outcomes
        self.placement = placement

    def available(self, trade: Trade, net: int, key: Key, order: ExitOrder) -> int:
        """What the trade may exit now: its quantity, capped by the net minus the remainder
        of our other exits on the key."""
        others = self.parts.ledger.reserved(key) - order.signed_remaining
        return min(trade.quantity, max(0, trade.sign * (net + others)))

    async def cap(
        self, trade: Trade, order: ExitOrder, net: int, key: Key, waits: Waits
    ) -> tuple[int, int]:
        """(the quantity to send, the net it was capped against). 0: nothing is sent (the
        trade was closed externally, or the exit failed, alerted)."""
        quantity = self.available(trade, net, key, order)
        if quantity < trade.quantity:
            others = [o for o in self.parts.ledger.live_on_key(key) if o is not order]
            if others:
                settled = await self._settle(trade, order, others, key, waits)
                if settled is None:
                    return 0, net  # the position became unreadable: failed, alerted
                net = settled
                quantity = self.available(trade, net, key, order)
                still = [o for o in others if o.remaining]
                if quantity < trade.quantity and still:
                    await self._undecidable(trade, order, net, still)
                    return 0, net
        if quantity == trade.quantity:
            return quantity, net
        await self._short(trade, order, net, quantity)
        return quantity, net

    async def _settle(
        self, trade: Trade, order: ExitOrder, others: list[ExitOrder], key: Key, waits: Waits
    ) -> int | None:
        """Learn what our other exits on the key did (status now, then their final reports
        within the resolve timeout), then read the net again."""
        p = self.parts
        asked = [o for o in others if o.order_id is not None]
        reports = await asyncio.gather(
            *(p.tracker.refresh(o.order_id, o.tag) for o in asked if o.order_id)
        )
        for other, report in zip(asked, reports, strict=True):
            if report is not None and report.order_id == other.order_id:
                self.outcomes.note_report(other, report)
        working = [o for o in asked if o.remaining and o.order_id]
        if working:
            log.info(
                "exit of %s waits for %d working exit(s) on its key before capping",
                trade.trade_id,
                len(working),
            )
            finals = await asyncio.gather(
                *(p.tracker.wait_final(o.order_id, o.tag) for o in working if o.order_id)
            )
            for other, final in zip(working, finals, strict=True):
                if final is not None:
                    self.outcomes.note_report(other, final)
        return await self.placement.read_position(trade, order, key, waits)

    async def _undecidable(
        self, trade: Trade, order: ExitOrder, net: int, still: list[ExitOrder]
    ) -> None:
        ids = ", ".join(o.order_id or f"{o.exit_id} (outcome unknown)" for o in still)
        message = (
            f"broker net {net} is short of {trade.trade_id}'s {trade.side} {trade.quantity}, "
            f"but our exit order(s) {ids} on the same position may still fill: cannot tell "
            "their fills from an outside change, so nothing is closed as external; exit not sent"
        )
        self.parts.alerts.alert("critical", message, trade_id=trade.trade_id, review=True)
        await self.outcomes.fail(trade, order, message)

    async def _short(self, trade: Trade, order: ExitOrder, net: int, quantity: int) -> None:
        """Only `quantity` of ours is there: exit that (0: closed externally), flagged."""
        p = self.parts
        now = p.clock.now()
        held = f"holds only {quantity}" if quantity else "holds none"
        outcome = "exiting what is there" if quantity else "closed externally, no exit order sent"
        message = (
            f"broker net {net} on {trade.instrument.key} {trade.product} {held} "
            f"of {trade.trade_id}'s {trade.side} {trade.quantity}; {outcome}"
        )
        p.alerts.alert("warning", message, trade_id=trade.trade_id, review=True)
        p.snapshots.note(trade.trade_id, message)
        if quantity == 0:
            order.abandon(now, message)
            price, source = await external_price(p.engine, p.broker, trade)
            p.snapshots.note(trade.trade_id, f"{message}; {external_note(price, source)}")
            decisions = p.engine.close_trade(trade.trade_id, price, now, external=True)
            await self.outcomes.commit_closed(
                trade, "closed_externally", order=order, message=message, review=True
            )
            p.dispatch(decisions)
            return
        p.dispatch(p.engine.reduce_quantity(trade.trade_id, quantity, None, now))
        order.resize(quantity)
        await p.commit_exit(
            trade,
            order,
            audit(now, "position_mismatch", trade.trade_id, message=message, review=True),
        )

    async def matched(self, trade: Trade, order: ExitOrder, key: Key, waits: Waits) -> None:
        """A smart exit placed nothing: read the position again. Ours gone -> closed
        externally (by the cap); still there -> EXIT_FAILED, alerted (not re-sent blindly)."""
        net = await self.placement.read_position(trade, order, key, waits)
        if net is None or trade.state is not TradeState.EXITING:
            return
        quantity, net = await self.cap(trade, order, net, key, waits)
        if quantity == 0:
            return
        await self.outcomes.not_placed(
            trade,
            order,
            f"smart order placed nothing (Positions Already Matched) though the net {net} "
            f"still holds {trade.trade_id}'s {trade.quantity}",
        )
