"""App layer: the periodic publisher of live trade and strategy views for the dashboard.

Every `interval` (250 ms) it compares each open trade's and strategy's signature (last price,
P&L, state, levels) with the one it last published, and publishes a `trade` event (the trade
view) or a `portfolio` event (the strategy view) for those that changed, so a trade is pushed
at most 1/interval times a second however fast its ticks come. A trade that left the monitor
(closed) is published once more with its stored (history) view. Nothing is built while no
subscriber wants these kinds. Each round also samples the chart history (app.charts), which
is kept whether or not anyone watches.
"""

from __future__ import annotations

import logging

from tradeguard.app.events import Event
from tradeguard.app.service import TradeService

log = logging.getLogger(__name__)

TRADE = "trade"
PORTFOLIO = "portfolio"


class ViewPublisher:
    def __init__(self, service: TradeService, interval: float = 0.25) -> None:
        self.service = service
        self.interval = interval
        self._trades: dict[str, tuple[str, tuple[object, ...]]] = {}
        self._strategies: dict[str, tuple[object, ...]] = {}
        self.published = 0

    async def run(self) -> None:
        while True:
            try:
                await self.publish_changes()
            except Exception:  # a view bug must not end the dashboard's pushes
                log.exception("live view publisher failed; continuing")
            await self.service.clock.sleep(self.interval)

    async def publish_changes(self) -> int:
        """One round; returns how many events it published."""
        bus = self.service.bus
        self.service.charts.sample(self.service.clock.now())  # chart history, at most 1/s
        count = 0
        if bus.wants(TRADE):
            count += await self._trade_changes()
        if bus.wants(PORTFOLIO):
            count += self._strategy_changes()
        self.published += count
        return count

    async def _trade_changes(self) -> int:
        service = self.service
        now = service.clock.now()
        count = 0
        seen: set[str] = set()
        for trade_id, account, signature in service.trade_marks():
            seen.add(trade_id)
            previous = self._trades.get(trade_id)
            if previous is not None and previous[1] == signature:
                continue
            view = service.trade_view_of(trade_id)
            if view is None:
                continue
            self._trades[trade_id] = (account, signature)
            service.bus.publish(Event(TRADE, view, account, now))
            count += 1
        for trade_id in [t for t in self._trades if t not in seen]:
            account, _ = self._trades.pop(trade_id)
            closed = await service.closed_trade_view(trade_id)
            if closed is not None:
                service.bus.publish(Event(TRADE, closed, account, now))
                count += 1
        return count

    def _strategy_changes(self) -> int:
        service = self.service
        now = service.clock.now()
        count = 0
        for strategy_id, account, signature in service.strategy_marks():
            if self._strategies.get(strategy_id) == signature:
                continue
            view = service.strategy_view_of(strategy_id)
            if view is None:
                continue
            self._strategies[strategy_id] = signature
            service.bus.publish(Event(PORTFOLIO, view, account, now))
            count += 1
        return count
