"""App layer: what one exit sends and how (the executor's base, after ExitOutcomes): the fresh
position read, the cap that keeps the account's net from crossing zero (`_cap`: nothing of
ours left -> closed externally; less -> exit what is there, flagged for review), the request
(`placeorder`, or a smart order whose target is the live net minus ours), and placing it.

`_send` places the order once and classifies the answer under the retry policy
(ExecutorPolicy): 429 and connection errors placed nothing -> exponential back-off, bounded;
403 (the broker session is down, OpenAlgo's daily re-login) -> alert, keep the intent and ping
until the session returns (bounded); after either wait it answers AGAIN: the executor reads the
position again and recomputes the cap (and a smart order's target) before it re-sends, because
the position may have changed meanwhile (closed by hand). A rejection -> EXIT_FAILED with the
broker's message; a success without an order id -> not placed, alerted (semi-auto mode), except
a smart order's "Positions Already Matched" (MATCHED: nothing placed, the executor re-reads);
anything else (timeout, 5xx, malformed reply) -> unresolved, resolved from the order book by
the executor, never resent blindly.

`_read_position` reads the account's net for the cap under the same waits: a 403 is the session
being down (wait for it, then read), other failures back off; when the position cannot be read
within the bounds the exit FAILS loudly. An exit is never sent uncapped.
The waits are bounded over the whole exit (`Waits`), not per call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tradeguard.app.failpoints import Failpoints
from tradeguard.app.outcomes import ExitOutcomes, trade_last_price
from tradeguard.app.session import BrokerSession
from tradeguard.app.snapshots import ExitInfo, audit
from tradeguard.core.broker import (
    BrokerError,
    NotPlaced,
    OrderRequest,
    RejectedError,
    RetryableError,
    SessionDown,
    SmartOrderRequest,
)
from tradeguard.core.trade import Trade

log = logging.getLogger(__name__)

UNRESOLVED = "unresolved"  # `_send`'s answer when the order's fate is unknown
AGAIN = "again"  # `_send`'s answer after a wait: read the position, cap again, then re-send
MATCHED = "matched"  # a smart order placed nothing ("Positions Already Matched")
STRATEGY = "tradeguard"  # the `strategy` field of position reads (required, ignored)


@dataclass(slots=True)
class Waits:
    """One exit's waits so far (reads and placements together), for the policy's bounds."""

    retries: int = 0  # back-offs: 429, connection errors, an unreadable position
    pings: int = 0  # session pings while the session is down
    alerted: bool = False  # this exit's session-down alert went out


Key = tuple[str, str, str]  # symbol, exchange, product: one net position at the broker


class ExitPlacement(ExitOutcomes):
    """Order placement shared by every exit attempt: the position read, the cap, the request,
    sending it under the retry policy."""

    failpoints: Failpoints
    session: BrokerSession
    _reserved: dict[Key, int]  # signed quantity of our exits still working, per key

    @property
    def session_down(self) -> bool:
        """The broker session is down (a 403 seen, no successful ping or placement since)."""
        return self.session.down

    async def _read_position(
        self, trade: Trade, info: ExitInfo, key: tuple[str, str, str], waits: Waits
    ) -> int | None:
        """The account's net on symbol/exchange/product, read fresh; None when it could not
        be read within the bounds (the exit has failed, alerted)."""
        symbol, exchange, product = key
        while True:
            try:
                return await self.broker.open_position(symbol, exchange, product, STRATEGY)
            except SessionDown as error:
                if not await self._wait_session(trade, info, error, waits):
                    return None
            except BrokerError as error:
                log.warning("open position of %s unavailable (%s)", trade, error)
                message = f"position unknown ({error}): exit not sent (never sent uncapped)"
                if not await self._back_off(trade, info, message, waits):
                    return None

    async def _send(
        self,
        trade: Trade,
        info: ExitInfo,
        request: OrderRequest | SmartOrderRequest,
        received_at: int | None,
        waits: Waits,
    ) -> str | None:
        """Place the order once: its id, None when finished otherwise, UNRESOLVED, AGAIN
        (waited: re-read and re-cap before re-sending) or MATCHED (smart order, no order)."""
        sent = self.clock.now()
        if received_at is not None:
            self.metrics.tick_to_send.record(sent - received_at)
        try:
            if isinstance(request, SmartOrderRequest):
                result = await self.broker.place_smart_order(request)
            else:
                result = await self.broker.place_order(request)
        except SessionDown as error:  # nothing was placed
            return AGAIN if await self._wait_session(trade, info, error, waits) else None
        except RetryableError as error:  # 429, connection refused: nothing was placed
            message = f"not placed, broker busy: {error}"
            return AGAIN if await self._back_off(trade, info, message, waits) else None
        except RejectedError as error:
            await self._fail(trade, info, f"rejected: {error}")  # the human message
            return None
        except NotPlaced as error:
            await self._not_placed(trade, info, str(error))
            return None
        except BrokerError as error:  # UnknownOutcome, MalformedReply...: may exist
            log.warning("exit of %s: outcome unknown (%s)", trade, error)
            self.alerts.alert(
                "warning",
                f"exit of {trade.trade_id}: outcome unknown ({error}); resolving from the "
                "order book",
                trade_id=trade.trade_id,
            )
            await self._commit(
                [audit(self.clock.now(), "exit_unresolved", trade.trade_id, error=str(error))]
            )
            return UNRESOLVED
        self.metrics.send_to_ack.record(self.clock.now() - sent)
        self.failpoints.hit("after_order")
        if result.order_id is None:
            if isinstance(request, SmartOrderRequest):
                return MATCHED
            await self._not_placed(trade, info, result.message or "no order id")
            return None
        return result.order_id

    async def _back_off(self, trade: Trade, info: ExitInfo, message: str, waits: Waits) -> bool:
        """Wait before trying again (exponential, bounded). False: out of tries, failed."""
        waits.retries += 1
        if waits.retries > self.policy.retry_limit:
            await self._fail(trade, info, message)
            return False
        delay = min(self.policy.retry_base * 2 ** (waits.retries - 1), self.policy.retry_max)
        log.warning("exit of %s: %s; retry in %.2fs", trade, message, delay)
        await self.clock.sleep(delay)
        return True

    async def _wait_session(
        self, trade: Trade, info: ExitInfo, error: BrokerError, waits: Waits
    ) -> bool:
        """Ping until the broker session is back (bounded over the exit). True when it is;
        False: the exit failed (alerted)."""
        if not waits.alerted:  # the session itself was marked down by the gateway's 403
            waits.alerted = True
            self.alerts.alert(
                "critical",
                f"broker session down (403): exit of {trade.trade_id} waits for the session",
                trade_id=trade.trade_id,
            )
            await self._commit(
                [audit(self.clock.now(), "session_down", trade.trade_id, error=str(error))]
            )
        while waits.pings < self.policy.session_limit:
            waits.pings += 1
            await self.clock.sleep(self.policy.session_interval)
            if await self.session.probe():
                return True
        await self._fail(trade, info, f"broker session down: {error}")
        return False

    def _request(
        self, trade: Trade, net: int, quantity: int, tag: str, smart: bool
    ) -> OrderRequest | SmartOrderRequest:
        """The exit order for `quantity` (already capped against `net`). A smart order's
        target is the live net minus our part: OpenAlgo computes its delta from the live net
        (so nothing reserved may be counted), and quantity 0 keeps its 0/0 case a no-op."""
        symbol, exchange = trade.instrument.symbol, trade.instrument.exchange
        action, product = trade.side.exit_action, trade.product.value
        if smart:
            target = net - trade.sign * quantity
            return SmartOrderRequest(symbol, exchange, action, 0, target, product, tag)
        return OrderRequest(symbol, exchange, action, quantity, product, tag)

    async def _matched(self, trade: Trade, info: ExitInfo, key: Key, waits: Waits) -> None:
        """A smart exit placed nothing: read the position again. Ours gone -> closed
        externally (by `_cap`); still there -> EXIT_FAILED, alerted (not re-sent blindly)."""
        net = await self._read_position(trade, info, key, waits)
        if net is None or await self._cap(trade, net, key) == 0:
            return
        await self._not_placed(
            trade,
            info,
            f"smart order placed nothing (Positions Already Matched) though the net {net} "
            f"still holds {trade.trade_id}'s {trade.quantity}",
        )

    async def _net(self, key: Key) -> int | None:
        """One read of the account's net on symbol/exchange/product (openposition: one row,
        not the whole position book, so an exit's cap costs the same with 1 or 1,000
        positions open). None when it failed: `_read_position` then reads with waits."""
        symbol, exchange, product = key
        try:
            return await self.broker.open_position(symbol, exchange, product, STRATEGY)
        except BrokerError as error:
            log.warning("open position unavailable (%s)", error)
            return None

    async def _cap(self, trade: Trade, net: int, key: Key) -> int:
        """Our quantity, capped so the net never crosses zero; 0 when nothing of ours is left.
        Exits of ours already sent on this key (not yet filled) count as gone."""
        now = self.clock.now()
        available = max(0, trade.sign * (net + self._reserved.get(key, 0)))
        quantity = min(trade.quantity, available)
        if quantity == trade.quantity:
            return quantity
        message = (
            f"broker net {net} on {trade.instrument.key} {trade.product} holds only {quantity} "
            f"of {trade.trade_id}'s {trade.side} {trade.quantity}; exiting what is there"
        )
        self.alerts.alert("warning", message, trade_id=trade.trade_id, review=True)
        if quantity == 0:
            price = trade_last_price(self.engine, trade)
            decisions = self.engine.close_trade(trade.trade_id, price, now, external=True)
            self.snapshots.exits[trade.trade_id].message = message
            await self.commit_closed(trade, "closed_externally", message=message, review=True)
            self._dispatch(decisions)
            return 0
        self._dispatch(self.engine.reduce_quantity(trade.trade_id, quantity, None, now))
        self.snapshots.exits[trade.trade_id].message = message
        await self._commit(
            [
                self.snapshots.trade_record(trade, now),
                audit(now, "position_mismatch", trade.trade_id, message=message, review=True),
            ]
        )
        return quantity
