"""App layer: the periodic publisher of live trade and strategy views for the dashboard.

Every `interval` (250 ms) it reads each open trade's and strategy's cached view
(app.live_views: rebuilt, and encoded as JSON, only when the object changed) and publishes,
per account, ONE `views` event carrying those whose version changed since it last published
them: a trade is pushed at most 1/interval times a second however fast its ticks come, and
a round with 1,000 changed trades is one event, not 1,000 (which would overflow a dashboard's
event queue and push out its exits). A trade that left the monitor (closed) is published once
more with its stored (history) view. Nothing is built while no subscriber wants these views.
Each round also samples the chart history (app.charts), kept whether or not anyone watches.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from tradeguard.app.events import Event, ViewUpdate
from tradeguard.app.live_views import encode
from tradeguard.app.service import TradeService
from tradeguard.app.views import owner_of

log = logging.getLogger(__name__)

TRADE = "trade"
PORTFOLIO = "portfolio"
VIEWS = "views"


class ViewPublisher:
    def __init__(self, service: TradeService, interval: float = 0.25) -> None:
        self.service = service
        self.interval = interval
        self._trades: dict[str, tuple[str, int]] = {}  # trade id -> (account, version sent)
        self._strategies: dict[str, int] = {}  # strategy id -> version sent
        self.published = 0  # view updates published so far

    async def run(self) -> None:
        while True:
            try:
                await self.publish_changes()
            except Exception:  # a view bug must not end the dashboard's pushes
                log.exception("live view publisher failed; continuing")
            await self.service.clock.sleep(self.interval)

    async def publish_changes(self) -> int:
        """One round; returns how many view updates it published."""
        self.service.charts.sample(self.service.clock.now())  # chart history, at most 1/s
        if not self.service.bus.wants(VIEWS):
            return 0
        updates: dict[str, list[ViewUpdate]] = defaultdict(list)
        await self._trade_changes(updates)
        self._strategy_changes(updates)
        now = self.service.clock.now()
        count = 0
        for account, changed in updates.items():
            self.service.bus.publish(Event(VIEWS, {}, account, now, tuple(changed)))
            count += len(changed)
        self.published += count
        return count

    async def _trade_changes(self, updates: dict[str, list[ViewUpdate]]) -> None:
        service = self.service
        seen: set[str] = set()
        for trade, entry in service.live_trades():
            trade_id = trade.trade_id
            seen.add(trade_id)
            previous = self._trades.get(trade_id)
            if previous is not None and previous[1] == entry.version:
                continue
            self._trades[trade_id] = (trade.account, entry.version)
            updates[trade.account].append(ViewUpdate(TRADE, trade_id, entry.view, entry.text))
        for trade_id in [t for t in self._trades if t not in seen]:
            account, _ = self._trades.pop(trade_id)
            closed = await service.closed_trade_view(trade_id)
            if closed is not None:
                updates[account].append(ViewUpdate(TRADE, trade_id, closed, encode(closed)))

    def _strategy_changes(self, updates: dict[str, list[ViewUpdate]]) -> None:
        for book, entry in self.service.live_strategies():
            strategy_id = book.strategy_id
            if self._strategies.get(strategy_id) == entry.version:
                continue
            self._strategies[strategy_id] = entry.version
            updates[owner_of(strategy_id)].append(
                ViewUpdate(PORTFOLIO, strategy_id, entry.view, entry.text)
            )
