"""App layer: what one exit sends and how: the fresh position read, the request (`placeorder`,
or a smart order whose target is the live net minus ours), and placing it.

`send` places the order once and classifies the answer under the retry policy
(ExecutorPolicy): 429 and connection errors placed nothing -> exponential back-off, bounded;
403 (the broker session is down, OpenAlgo's daily re-login) -> alert, keep the intent and ping
until the session returns (bounded); after either wait it answers AGAIN: the executor reads the
position again and recomputes the cap (and a smart order's target) before it re-sends, because
the position may have changed meanwhile (closed by hand). A rejection -> EXIT_FAILED with the
broker's message; a success with OpenAlgo's `pending_order_id` (semi-auto mode) -> queued for
approval (semiauto.QueuedExits); another success without an order id -> not placed, alerted,
except a smart order's "Positions Already Matched" (MATCHED: nothing placed, the executor re-reads);
anything else (timeout, 5xx, malformed reply) -> UNRESOLVED: the exit order's ledger row stays
SUBMITTED_UNKNOWN (it may fill) and the executor resolves it from the order book, never by
resending blindly.

`read_position` reads the account's net for the cap under the same waits: a 403 is the session
being down (wait for it, then read), other failures back off; when the position cannot be read
within the bounds the exit FAILS loudly. An exit is never sent uncapped.
The waits are bounded over the whole exit (`Waits`), not per call. `ExitPlacement` is composed
by the executor with the shared parts and the outcome handling; it keeps no state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tradeguard.app.exit_parts import STRATEGY, ExitParts
from tradeguard.app.outcomes import ExitOutcomes
from tradeguard.app.semiauto import QueuedExits
from tradeguard.app.snapshots import audit
from tradeguard.core.broker import (
    BrokerError,
    NotPlaced,
    OrderRequest,
    Queued,
    RejectedError,
    RetryableError,
    SessionDown,
    SmartOrderRequest,
)
from tradeguard.core.exit_order import ExitOrder, Key
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)

UNRESOLVED = "unresolved"  # `send`'s answer when the order's fate is unknown
AGAIN = "again"  # `send`'s answer after a wait: read the position, cap again, then re-send
MATCHED = "matched"  # a smart order placed nothing ("Positions Already Matched")


@dataclass(slots=True)
class Waits:
    """One exit's waits so far (reads and placements together), for the policy's bounds."""

    retries: int = 0  # back-offs: 429, connection errors, an unreadable position
    pings: int = 0  # session pings while the session is down
    alerted: bool = False  # this exit's session-down alert went out


class ExitPlacement:
    """The position read, the request, and sending it under the retry policy."""

    def __init__(self, parts: ExitParts, outcomes: ExitOutcomes, queued: QueuedExits) -> None:
        self.parts = parts
        self.outcomes = outcomes
        self.queued = queued

    async def read_position(
        self, trade: Trade, order: ExitOrder, key: Key, waits: Waits
    ) -> int | None:
        """The account's net on symbol/exchange/product, read fresh; None when it could not
        be read within the bounds (the exit has failed, alerted)."""
        symbol, exchange, product = key
        while True:
            try:
                return await self.parts.broker.open_position(symbol, exchange, product, STRATEGY)
            except SessionDown as error:
                if not await self.wait_session(trade, order, error, waits):
                    return None
            except BrokerError as error:
                log.warning("open position of %s unavailable (%s)", trade, error)
                message = f"position unknown ({error}): exit not sent (never sent uncapped)"
                if not await self.back_off(trade, order, message, waits):
                    return None

    async def net(self, key: Key) -> int | None:
        """One read of the account's net on symbol/exchange/product (openposition: one row,
        not the whole position book, so an exit's cap costs the same with 1 or 1,000
        positions open). None when it failed: `read_position` then reads with waits."""
        symbol, exchange, product = key
        try:
            return await self.parts.broker.open_position(symbol, exchange, product, STRATEGY)
        except BrokerError as error:
            log.warning("open position unavailable (%s)", error)
            return None

    async def send(
        self,
        trade: Trade,
        order: ExitOrder,
        request: OrderRequest | SmartOrderRequest,
        received_at: int | None,
        waits: Waits,
    ) -> str | None:
        """Place the order once: its id, None when finished otherwise, UNRESOLVED, AGAIN
        (waited: re-read and re-cap before re-sending) or MATCHED (smart order, no order)."""
        p = self.parts
        sent = p.clock.now()
        if received_at is not None:
            p.metrics.tick_to_send.record(sent - received_at)
        order.submitted(sent)  # from here until the reply, the order may exist
        try:
            if isinstance(request, SmartOrderRequest):
                result = await p.broker.place_smart_order(request)
            else:
                result = await p.broker.place_order(request)
        except SessionDown as error:  # nothing was placed
            return AGAIN if await self.wait_session(trade, order, error, waits) else None
        except RetryableError as error:  # 429, connection refused: nothing was placed
            message = f"not placed, broker busy: {error}"
            return AGAIN if await self.back_off(trade, order, message, waits) else None
        except RejectedError as error:
            await self.outcomes.fail(trade, order, f"rejected: {error}")  # the human message
            return None
        except Queued as error:  # semi-auto: in OpenAlgo's Action Center (semiauto.py)
            await self.queued.hold(trade, order, error)
            return None
        except NotPlaced as error:
            await self.outcomes.not_placed(trade, order, str(error))
            return None
        except BrokerError as error:  # UnknownOutcome, MalformedReply...: may exist
            log.warning("exit of %s: outcome unknown (%s)", trade, error)
            p.alerts.alert(
                "warning",
                f"exit of {trade.trade_id}: outcome unknown ({error}); resolving from the "
                "order book",
                trade_id=trade.trade_id,
            )
            order.message = f"outcome unknown: {error}"
            now = p.clock.now()
            await p.commit(
                [
                    p.snapshots.exit_record(order, now),
                    audit(now, "exit_unresolved", trade.trade_id, error=str(error)),
                ]
            )
            return UNRESOLVED
        p.metrics.send_to_ack.record(p.clock.now() - sent)
        p.failpoints.hit("after_order")
        if result.order_id is None:
            if isinstance(request, SmartOrderRequest):
                return MATCHED
            await self.outcomes.not_placed(trade, order, result.message or "no order id")
            return None
        return result.order_id

    async def back_off(self, trade: Trade, order: ExitOrder, message: str, waits: Waits) -> bool:
        """Wait before trying again (exponential, bounded). False: out of tries, failed."""
        policy = self.parts.policy
        waits.retries += 1
        if waits.retries > policy.retry_limit:
            await self.outcomes.fail(trade, order, message)
            return False
        delay = min(policy.retry_base * 2 ** (waits.retries - 1), policy.retry_max)
        log.warning("exit of %s: %s; retry in %.2fs", trade, message, delay)
        await self.parts.clock.sleep(delay)
        return True

    async def wait_session(
        self, trade: Trade, order: ExitOrder, error: BrokerError, waits: Waits
    ) -> bool:
        """Ping until the broker session is back (bounded over the exit). True when it is;
        False: the exit failed (alerted)."""
        p = self.parts
        if not waits.alerted:  # the session itself was marked down by the gateway's 403
            waits.alerted = True
            p.alerts.alert(
                "critical",
                f"broker session down (403): exit of {trade.trade_id} waits for the session",
                trade_id=trade.trade_id,
            )
            await p.commit([audit(p.clock.now(), "session_down", trade.trade_id, error=str(error))])
        while waits.pings < p.policy.session_limit:
            waits.pings += 1
            await p.clock.sleep(p.policy.session_interval)
            if await p.session.probe():
                return True
        await self.outcomes.fail(trade, order, f"broker session down: {error}")
        return False


def exit_request(
    trade: Trade, net: int, quantity: int, tag: str, smart: bool
) -> OrderRequest | SmartOrderRequest:
    """The exit order for `quantity` (already capped against `net`). A smart order's target is
    the live net minus our part: OpenAlgo computes its delta from the live net (so nothing
    reserved may be counted), and quantity 0 keeps its 0/0 case a no-op."""
    symbol, exchange = trade.instrument.symbol, trade.instrument.exchange
    action, product = trade.side.exit_action, trade.product.value
    if smart:
        target = net - trade.sign * quantity
        return SmartOrderRequest(symbol, exchange, action, 0, target, product, tag)
    return OrderRequest(symbol, exchange, action, quantity, product, tag)
