"""App layer: placing one exit order (the executor's base, after ExitOutcomes).

`_send` places the order and classifies the answer under the retry policy (ExecutorPolicy):
429 and connection errors placed nothing -> exponential back-off, bounded; 403 (the broker
session is down, OpenAlgo's daily re-login) -> alert, keep the intent and ping until the session
returns (bounded), then place; a rejection -> EXIT_FAILED with the broker's message; a success
without an order id (semi-auto mode) -> not placed, alerted; anything else (timeout, 5xx,
malformed reply) -> unresolved, resolved from the order book by the executor, never resent
blindly.
"""

from __future__ import annotations

import logging

from tradeguard.app.failpoints import Failpoints
from tradeguard.app.outcomes import ExitOutcomes
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


class ExitPlacement(ExitOutcomes):
    """Order placement shared by every exit attempt."""

    failpoints: Failpoints
    session_down: bool

    async def _send(
        self,
        trade: Trade,
        info: ExitInfo,
        request: OrderRequest | SmartOrderRequest,
        received_at: int | None,
    ) -> str | None:
        """Place the order: its id, None when finished otherwise, or UNRESOLVED."""
        retries = session_checks = 0
        while True:
            sent = self.clock.now()
            if received_at is not None:
                self.metrics.tick_to_send.record(sent - received_at)
                received_at = None
            try:
                if isinstance(request, SmartOrderRequest):
                    result = await self.broker.place_smart_order(request)
                else:
                    result = await self.broker.place_order(request)
            except SessionDown as error:
                self.session_down = True
                if not await self._wait_session(trade, error, session_checks == 0):
                    await self._fail(trade, info, f"broker session down: {error}")
                    return None
                session_checks += 1
                continue
            except RetryableError as error:  # 429, connection refused: nothing was placed
                retries += 1
                if retries > self.policy.retry_limit:
                    await self._fail(trade, info, f"not placed, broker busy: {error}")
                    return None
                delay = min(self.policy.retry_base * 2 ** (retries - 1), self.policy.retry_max)
                log.warning("exit of %s not placed (%s); retry in %.2fs", trade, error, delay)
                await self.clock.sleep(delay)
                continue
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
            self.session_down = False
            self.failpoints.hit("after_order")
            if result.order_id is None:
                await self._not_placed(trade, info, result.message or "no order id")
                return None
            return result.order_id

    async def _wait_session(self, trade: Trade, error: BrokerError, first: bool) -> bool:
        """Ping until the broker session is back (bounded). True when it is."""
        if first:
            self.alerts.alert(
                "critical",
                f"broker session down (403): exit of {trade.trade_id} waits for the session",
                trade_id=trade.trade_id,
            )
            await self._commit(
                [audit(self.clock.now(), "session_down", trade.trade_id, error=str(error))]
            )
        for _ in range(self.policy.session_limit):
            await self.clock.sleep(self.policy.session_interval)
            try:
                await self.broker.ping()
            except BrokerError:
                continue
            self.session_down = False
            return True
        return False
