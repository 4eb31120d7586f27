"""Adapters layer: the embedded simulator: market, paper broker, OpenAlgo REST and WebSocket
servers on loopback ports, started and stopped as one unit.

`tradeguard sim` serves it on its own; `tradeguard run` with no OpenAlgo configured starts it
in-process, and the same OpenAlgo adapters that talk to a real OpenAlgo talk to it.

Prices come from a seeded random walk, from admin calls only (`walk=False`), or from a tick
CSV replayed in time (`replay`). `SimulatorOptions.faults` (the `tradeguard sim` fault flags)
are switched on by `apply_start_faults` through the same code as the admin endpoints, and
`SimulatorOptions.timing` (a `/sim/admin/timing` body: `tradeguard sim --broker-timing` and the
timing flags) sets the broker's timing; `timer` replaces the event loop's clock for it (tests
pass a ManualTimer and move time by hand). `SimulatorOptions.state`: a file that keeps the
broker's books and last prices across restarts (sim_state).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.adapters.asgi_server import AsgiServer
from tradeguard.adapters.sim.faults import FaultSpecError, RateLimits, StartFaults
from tradeguard.adapters.sim.market import MAX_STEP_RETURN, ReplayRow, SimMarket, WalkConfig
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.adapters.sim.rest_admin import SimAdmin
from tradeguard.adapters.sim.rest_app import create_app
from tradeguard.adapters.sim.rest_server import SimApi
from tradeguard.adapters.sim.sim_state import StateKeeper, read_state
from tradeguard.adapters.sim.timing import (
    BrokerClock,
    SimTimer,
    TimingConfig,
    TimingSpecError,
    timing_config,
)
from tradeguard.adapters.sim.ws_server import SimWsServer
from tradeguard.app.tasks import cancel_and_wait
from tradeguard.core.money import to_units

log = logging.getLogger(__name__)

MAX_STEP_BPS = Decimal(round(MAX_STEP_RETURN * 10_000))
"""The largest |drift_bps| and volatility_bps of a walk step (1000 bp = 10 % of the price)."""

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
    # The random walk, per step (one tick of a symbol), in basis points of the price: each
    # step's return is drift_bps + volatility_bps * N(0, 1) (1 bp = 0.01 %). Per second that
    # is a mean of drift_bps * ticks_per_second and a spread of volatility_bps * sqrt(rate).
    drift_bps: Decimal = Decimal("0")  # may be negative (a falling market); |drift| <= 1000
    volatility_bps: Decimal = Decimal("8")  # standard deviation of a step, 0..1000
    ticks_per_second: float = 4.0  # steps per second per symbol
    walk: bool = True
    rate_limits: RateLimits = field(default_factory=RateLimits)
    replay: Path | None = None  # a tick CSV replayed instead of the random walk
    replay_speed: float = 1.0  # 2 = twice as fast; 0 = as fast as possible
    faults: StartFaults = field(default_factory=StartFaults)
    ws_max_outbox: int = 4096  # messages queued per WebSocket client before it is cut off
    timing: dict[str, Any] = field(default_factory=dict)  # a /sim/admin/timing body
    timer: SimTimer | None = None  # the broker timing's clock (default: the event loop's)
    state: Path | None = None  # keep the books in this file across restarts (sim_state)


class SimulatorSetupError(ValueError):
    """The options cannot make a simulator (unreadable replay file, invalid fault)."""


def walk_settings(options: SimulatorOptions) -> Callable[[int], WalkConfig]:
    """A maker of each symbol's WalkConfig (from its start price) for `options`, after
    checking them: SimulatorSetupError for a drift, volatility or tick rate out of range."""
    drift = _bps(options.drift_bps, "drift_bps", low=-MAX_STEP_BPS)
    volatility = _bps(options.volatility_bps, "volatility_bps", low=Decimal(0))
    rate = options.ticks_per_second
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < math.inf:
        raise SimulatorSetupError(f"ticks_per_second must be a positive number, was {rate!r}")

    def make(start: int) -> WalkConfig:
        return WalkConfig(
            start_price=start,
            drift=float(drift) / 10_000,
            volatility=float(volatility) / 10_000,
            tick_size=500,
            tick_rate=float(rate),
        )

    return make


def _bps(value: object, name: str, *, low: Decimal) -> Decimal:
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except ArithmeticError:
        amount = Decimal("NaN")
    if not amount.is_finite() or not low <= amount <= MAX_STEP_BPS:
        raise SimulatorSetupError(
            f"{name} must be a number of basis points within {low}..{MAX_STEP_BPS}, was {value}"
        )
    return amount


def apply_start_faults(sim: EmbeddedSimulator, faults: StartFaults) -> dict[str, Any]:
    """Switch `faults` on exactly as `POST /sim/admin/faults` and `/sim/admin/feed` would;
    returns the resulting fault state ({"rest": ..., "feed": ...})."""
    admin = SimAdmin(sim.api)
    rest = admin.apply_faults(faults.rest_spec())
    feed = admin.apply_feed(faults.feed_spec())
    return {"rest": rest, "feed": feed}


class EmbeddedSimulator:
    """Start with `async with EmbeddedSimulator(options) as sim:`; then sim.rest_url/ws_url."""

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        self.market = SimMarket(seed=self.options.seed)
        walk_config = walk_settings(self.options)
        self._replay_rows = self._load_replay()
        walk = self.options.walk and self._replay_rows is None
        saved = read_state(self.options.state) if self.options.state is not None else None
        prices = saved[2] if saved is not None else {}
        for symbol, exchange, price in self.options.symbols:
            start = prices.get((symbol, exchange)) or to_units(price)
            if walk:
                self.market.add_symbol(symbol, exchange, walk_config(start))
            else:
                self.market.set_price(symbol, exchange, start)
        known = {(symbol, exchange) for symbol, exchange, _ in self.options.symbols}
        for key, units in prices.items():  # symbols priced by hand before
            if key not in known:
                self.market.set_price(*key, units)
        try:
            config = timing_config(TimingConfig(), self.options.timing)
        except TimingSpecError as error:
            raise SimulatorSetupError(f"invalid broker timing: {error}") from None
        self.timing = BrokerClock(config, timer=self.options.timer, seed=self.options.seed)
        self.broker = PaperBroker(self.market, timing=self.timing)
        self.keeper: StateKeeper | None = None
        if self.options.state is not None:
            if saved is not None:
                self.broker.restore(saved[0], saved[1])
                log.info("simulator: books restored from %s", self.options.state)
            self.keeper = StateKeeper(self.options.state, self.broker, self.market)
        self.ws = SimWsServer(
            self.market,
            self.broker,
            api_key=self.options.apikey,
            host=self.options.host,
            port=self.options.ws_port,
            max_outbox=self.options.ws_max_outbox,
        )
        self.api = SimApi(
            self.broker,
            self.market,
            apikey=self.options.apikey,
            limits=self.options.rate_limits,
            feed=self.ws,
        )
        faults = self.options.faults
        try:
            apply_start_faults(self, faults)
        except (FaultSpecError, ValueError, TypeError) as error:
            raise SimulatorSetupError(f"invalid simulator fault: {error}") from None
        on = {f.name: getattr(faults, f.name) for f in fields(faults)}
        on = {name: value for name, value in on.items() if value not in (None, False, 0, ())}
        if on:
            log.warning("simulator: faults on at start: %s", on)
        if config != TimingConfig():
            log.warning("simulator: broker timing: %s", config.snapshot())
        self._rest = AsgiServer(
            create_app(self.api), self.options.host, self.options.rest_port, ws="none"
        )
        self._walk: asyncio.Task[None] | None = None
        self._replay: asyncio.Task[None] | None = None

    def _load_replay(self) -> list[ReplayRow] | None:
        path = self.options.replay
        if path is None:
            return None
        try:
            rows = SimMarket.load_replay(path)
        except OSError as error:
            raise SimulatorSetupError(f"cannot read {path}: {error.strerror or error}") from None
        except ValueError as error:
            raise SimulatorSetupError(f"{path}: {error}") from None
        if not rows:
            raise SimulatorSetupError(f"{path}: no ticks to replay")
        for row in rows:
            if row.ltp <= 0:
                raise SimulatorSetupError(f"{path}: {row.symbol} has a non-positive ltp")
        return rows

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
        if self.keeper is not None:
            self.keeper.start()
        if self._replay_rows is not None:
            self._replay = asyncio.create_task(
                self._run_replay(self._replay_rows), name="sim-replay"
            )
        elif self.options.walk:
            self._walk = self.market.start()
        log.info("simulator: REST %s, WebSocket %s", self.rest_url, self.ws_url)

    async def _run_replay(self, rows: list[ReplayRow]) -> None:
        count = await self.market.replay(rows, speed=self.options.replay_speed, restamp=True)
        log.info("simulator: replay of %s finished (%d ticks)", self.options.replay, count)

    async def stop(self) -> None:
        if self._replay is not None:
            await cancel_and_wait(self._replay)
            self._replay = None
        if self._walk is not None:
            await self.market.stop()
            self._walk = None
        await self.ws.stop()
        await self._rest.stop()
        if self.keeper is not None:
            await self.keeper.stop()

    async def __aenter__(self) -> EmbeddedSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
