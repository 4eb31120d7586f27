"""The random walk's drift, volatility and tick rate: what they do to prices, and how
SimulatorOptions and `tradeguard sim`'s flags set them (basis points of the price per step)."""

from __future__ import annotations

import itertools
import statistics
from decimal import Decimal

import pytest

from tests.helpers import eventually
from tests.sim.admin import sim_flags
from tradeguard.adapters.sim.embedded import (
    EmbeddedSimulator,
    SimulatorOptions,
    SimulatorSetupError,
)
from tradeguard.adapters.sim.market import SimMarket, WalkConfig
from tradeguard.core.money import to_units
from tradeguard.interfaces import cli

STEPS = 4000


def step_returns_bps(*, drift: float, volatility: float, seed: int) -> list[float]:
    """The return of each of STEPS walk steps of a 1000-rupee symbol, in basis points."""
    market = SimMarket(seed=seed)
    walk = WalkConfig(start_price=to_units("1000"), drift=drift, volatility=volatility)
    market.add_symbol("W", "NSE", walk)
    prices = [to_units("1000")] + [market.step("W", "NSE") for _ in range(STEPS)]
    return [(b / a - 1) * 10_000 for a, b in itertools.pairwise(prices)]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_drift_biases_the_walk_by_its_mean_step_return(seed: int) -> None:
    # 8 bp volatility over 4000 steps: the mean step return is within ~0.13 bp of the drift
    # (one standard error), so these bounds are ~4 standard errors wide.
    flat = statistics.fmean(step_returns_bps(drift=0.0, volatility=0.0008, seed=seed))
    rising = statistics.fmean(step_returns_bps(drift=0.0002, volatility=0.0008, seed=seed))
    falling = statistics.fmean(step_returns_bps(drift=-0.0002, volatility=0.0008, seed=seed))
    assert abs(flat) < 0.5
    assert 1.5 < rising < 2.5
    assert -2.5 < falling < -1.5
    assert falling < flat < rising


@pytest.mark.parametrize("seed", [0, 3])
def test_volatility_scales_the_step_sizes(seed: int) -> None:
    calm = statistics.pstdev(step_returns_bps(drift=0.0, volatility=0.0004, seed=seed))
    wild = statistics.pstdev(step_returns_bps(drift=0.0, volatility=0.0016, seed=seed))
    assert 3.6 < calm < 4.4  # bp: the standard deviation is the volatility
    assert 14.4 < wild < 17.6
    assert 3.6 < wild / calm < 4.4


def test_zero_volatility_with_a_drift_is_a_steady_trend() -> None:
    returns = step_returns_bps(drift=0.001, volatility=0.0, seed=0)  # 10 bp per step
    assert all(9.5 < r < 10.5 for r in returns[:50])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"drift": 0.5}, "drift"),
        ({"drift": float("nan")}, "drift"),
        ({"volatility": -0.001}, "volatility"),
        ({"volatility": float("inf")}, "volatility"),
        ({"tick_rate": 0.0}, "tick_rate"),
    ],
)
def test_walk_config_refuses_values_out_of_range(config: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WalkConfig(start_price=to_units("100"), **config)  # type: ignore[arg-type]


def parse(*flags: str) -> SimulatorOptions:
    return sim_flags(*flags, walk=True)


def test_walk_flags_reach_every_symbols_walk() -> None:
    opts = parse("--drift-bps", "-1.5", "--volatility-bps", "20", "--tick-rate", "10")
    assert (opts.drift_bps, opts.volatility_bps, opts.ticks_per_second) == (
        Decimal("-1.5"),
        Decimal("20"),
        10.0,
    )
    sim = EmbeddedSimulator(opts)
    for symbol, exchange in sim.market.symbols():
        walk = sim.market.walk(symbol, exchange)
        assert walk is not None
        assert (walk.drift, walk.volatility, walk.tick_rate) == (-0.00015, 0.002, 10.0)


def test_walk_flag_defaults() -> None:
    opts = parse()
    assert (opts.drift_bps, opts.volatility_bps) == (Decimal(0), Decimal(8))
    assert opts.ticks_per_second == 4.0
    walk = EmbeddedSimulator(opts).market.walk("SBIN", "NSE")
    assert walk is not None
    assert (walk.drift, walk.volatility, walk.tick_rate) == (0.0, 0.0008, 4.0)


@pytest.mark.parametrize(
    "flags",
    [
        ["--drift-bps", "1001"],
        ["--drift-bps", "-1001"],
        ["--drift-bps", "up"],
        ["--drift-bps", "nan"],
        ["--volatility-bps", "-1"],
        ["--volatility-bps", "1e9"],
        ["--tick-rate", "0"],
        ["--tick-rate", "-2"],
        ["--tick-rate", "inf"],
        ["--tick-rate", "fast"],
    ],
)
def test_bad_walk_flags_are_usage_errors(flags: list[str]) -> None:
    with pytest.raises(cli.CommandError):
        parse(*flags)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"drift_bps": Decimal("2000")}, "drift_bps must be a number of basis points"),
        ({"drift_bps": Decimal("NaN")}, "drift_bps"),
        ({"volatility_bps": Decimal("-0.1")}, "volatility_bps must be"),
        ({"ticks_per_second": 0.0}, "ticks_per_second must be a positive number"),
    ],
)
def test_bad_walk_options_cannot_make_a_simulator(options: dict[str, object], message: str) -> None:
    with pytest.raises(SimulatorSetupError, match=message):
        EmbeddedSimulator(SimulatorOptions(**options))  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_running_simulator_walks_with_the_drift() -> None:
    flags = ("--drift-bps", "100", "--volatility-bps", "0", "--tick-rate", "100")
    async with EmbeddedSimulator(parse(*flags)) as sim:
        start = to_units("800")

        def sbin_up_5_percent() -> bool:
            price = sim.market.last_price("SBIN", "NSE")
            return price is not None and price > start * 1.05

        await eventually(sbin_up_5_percent, timeout=5.0, message="SBIN trending up")
