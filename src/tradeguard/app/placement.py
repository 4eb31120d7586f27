"""App layer: placing one exit order (the executor's base, after ExitOutcomes).

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
from tradeguard.app.outcomes import ExitOutcomes
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


class ExitPlacement(ExitOutcomes):
    """Order placement shared by every exit attempt."""

    failpoints: Failpoints
    session: BrokerSession

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
        self.session.seen_down(error, "exit")
        if not waits.alerted:
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
