"""Adapters layer: the embedded simulator: market, paper broker, OpenAlgo REST and WebSocket
servers on loopback ports, started and stopped as one unit.

`tradeguard sim` serves it on its own; `tradeguard run` with no OpenAlgo configured starts it
in-process, and the same OpenAlgo adapters that talk to a real OpenAlgo talk to it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from tradeguard.adapters.asgi_server import AsgiServer
from tradeguard.adapters.sim.faults import RateLimits
from tradeguard.adapters.sim.market import SimMarket, WalkConfig
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.adapters.sim.rest_server import SimApi, create_app
from tradeguard.adapters.sim.ws_server import SimWsServer
from tradeguard.core.money import to_units

log = logging.getLogger(__name__)

DEMO_SYMBOLS: tuple[tuple[str, str, str], ...] = (
    ("RELIANCE", "NSE", "2900"),
    ("INFY", "NSE", "1500"),
    ("SBIN", "NSE", "800"),
    ("TCS", "NSE", "4100"),
    ("HDFCBANK", "NSE", "1650"),
    ("ITC", "NSE", "450"),
)


@dataclass(slots=True)
class SimulatorOptions:
    host: str = "127.0.0.1"
    rest_port: int = 0
    ws_port: int = 0
    apikey: str = field(default_factory=lambda: secrets.token_hex(32))
    seed: int = 0
    symbols: tuple[tuple[str, str, str], ...] = DEMO_SYMBOLS
    volatility_bps: Decimal = Decimal("8")  # per step, as basis points of price
    ticks_per_second: float = 4.0
    walk: bool = True
    rate_limits: RateLimits = field(default_factory=RateLimits)


class EmbeddedSimulator:
    """Start with `async with EmbeddedSimulator(options) as sim:`; then sim.rest_url/ws_url."""

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        self.market = SimMarket(seed=self.options.seed)
        for symbol, exchange, price in self.options.symbols:
            start = to_units(price)
            if self.options.walk:
                self.market.add_symbol(
                    symbol,
                    exchange,
                    WalkConfig(
                        start_price=start,
                        volatility=float(self.options.volatility_bps) / 10_000,
                        tick_size=500,
                        tick_rate=self.options.ticks_per_second,
                    ),
                )
            else:
                self.market.set_price(symbol, exchange, start)
        self.broker = PaperBroker(self.market)
        self.api = SimApi(
            self.broker, self.market, apikey=self.options.apikey, limits=self.options.rate_limits
        )
        self.ws = SimWsServer(
            self.market,
            self.broker,
            api_key=self.options.apikey,
            host=self.options.host,
            port=self.options.ws_port,
        )
        self._rest = AsgiServer(
            create_app(self.api), self.options.host, self.options.rest_port, ws="none"
        )
        self._walk: asyncio.Task[None] | None = None

    @property
    def apikey(self) -> str:
        return self.options.apikey

    @property
    def rest_url(self) -> str:
        return self._rest.url

    @property
    def ws_url(self) -> str:
        return self.ws.url

    async def start(self) -> None:
        await self._rest.start()
        await self.ws.start()
        if self.options.walk:
            self._walk = self.market.start()
        log.info("simulator: REST %s, WebSocket %s", self.rest_url, self.ws_url)

    async def stop(self) -> None:
        if self._walk is not None:
            await self.market.stop()
            self._walk = None
        await self.ws.stop()
        await self._rest.stop()

    async def __aenter__(self) -> EmbeddedSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
