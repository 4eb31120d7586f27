"""App layer: the stale-feed policy. A symbol with an open trade is *blind* when tradeguard
has had no price for it (streamed or polled) for longer than `after_s` seconds of its
exchange's session; its trades' rules cannot fire then.

Policy `exit` (the default): every ACTIVE trade on a blind symbol is exited at market (reason
STALE_FEED) through the same path as every other exit, and an alert says why. Policy `alert`:
only the alert (once per blind spell); the trades stay open, unguarded. Outside the session
nothing is blind (no prices are expected), and blindness counts from the session's start, so
the night's silence never counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tradeguard.app.ports import AlertSink, Clock, MarketFeed
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import EngineError, RiskEngine
from tradeguard.core.model import ExitReason, TradeState
from tradeguard.core.timeutil import NS_PER_SECOND

log = logging.getLogger(__name__)

POLICIES = ("alert", "exit")
Key = tuple[str, str]


class BlindGuard:
    """Checks every second for blind symbols and applies the policy."""

    def __init__(
        self,
        engine: RiskEngine,
        feed: MarketFeed,
        clock: Clock,
        alerts: AlertSink,
        dispatch: Callable[[Decisions], None],
        *,
        policy: str = "exit",
        after_s: float = 30.0,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"stale policy must be one of {', '.join(POLICIES)}, was {policy!r}")
        self.engine = engine
        self.feed = feed
        self.clock = clock
        self.alerts = alerts
        self.dispatch = dispatch
        self.policy = policy
        self.after_ns = int(after_s * NS_PER_SECOND)
        self.started = clock.now()
        self._alerted: set[Key] = set()
        self.exits = 0

    def blind(self, now: int) -> list[tuple[Key, int]]:
        """(symbol key, blind nanoseconds) of every blind symbol with an open trade. Blindness
        counts from the latest of: the symbol's last price, its first open trade's entry, this
        process's start (prices are primed and subscribed at start-up) and the session's start."""
        calendar = self.engine.calendar
        entered: dict[Key, int] = {}
        for trade in self.engine.trades():
            key = (trade.instrument.symbol, trade.instrument.exchange)
            entered[key] = min(entered.get(key, trade.entered_at), trade.entered_at)
        self._alerted &= set(entered)
        found = []
        for key, since in entered.items():
            start = calendar.session_start(key[1], now)
            if start is None:
                continue  # the exchange is closed: no price is expected
            seen = self.feed.last_tick_at(*key) or 0
            age = now - max(seen, since, self.started, start)
            if age > self.after_ns:
                found.append((key, age))
            else:
                self._alerted.discard(key)  # a price came: a later silence is a new spell
        return found

    def check(self) -> None:
        """Apply the policy to every blind symbol (alerts go to each trade's own account)."""
        now = self.clock.now()
        for key, age in self.blind(now):
            trades = [
                t
                for t in self.engine.trades()
                if t.state is TradeState.ACTIVE
                and (t.instrument.symbol, t.instrument.exchange) == key
            ]
            where = f"no price for {key[1]}:{key[0]} for {age // NS_PER_SECOND} s in market hours"
            if self.policy == "exit":
                exits = []
                for trade in trades:
                    try:
                        exits.append(
                            self.engine.request_exit(trade.trade_id, now, ExitReason.STALE_FEED)
                        )
                    except EngineError:
                        continue
                    self.alerts.alert(
                        "critical",
                        f"{where}: exiting trade {trade.trade_id} (stale_policy=exit)",
                        trade_id=trade.trade_id,
                    )
                if exits:
                    self.exits += len(exits)
                    self.dispatch(Decisions(exits=exits))
            elif key not in self._alerted:
                self._alerted.add(key)
                for trade in trades:
                    self.alerts.alert(
                        "critical",
                        f"{where}: trade {trade.trade_id} is NOT guarded (stale_policy=alert)",
                        trade_id=trade.trade_id,
                    )

    async def run(self, interval: float = 1.0) -> None:
        while True:
            await self.clock.sleep(interval)
            try:
                self.check()
            except Exception:  # the guard must keep running; the error is logged
                log.exception("stale-feed check failed")
