"""Tests: the simulator market (listeners, replay, the walking task)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import eventually
from tradeguard.adapters.sim.market import SimMarket, WalkConfig
from tradeguard.core.money import to_units


def test_set_price_notifies_and_tracks_day_range() -> None:
    market = SimMarket(clock_ms=lambda: 42)
    ticks: list[tuple[str, str, int, int]] = []
    market.add_tick_listener(lambda *tick: ticks.append(tick))
    market.set_price("A", "NSE", 1_000_000)
    market.set_price("A", "NSE", 900_000)
    market.set_price("A", "NSE", 950_000, ts_ms=7)
    assert ticks == [
        ("A", "NSE", 1_000_000, 42),
        ("A", "NSE", 900_000, 42),
        ("A", "NSE", 950_000, 7),
    ]
    quote = market.quote("A", "NSE")
    assert quote is not None
    assert (quote.open, quote.high, quote.low, quote.ltp) == (
        1_000_000,
        1_000_000,
        900_000,
        950_000,
    )
    with pytest.raises(ValueError, match="positive"):
        market.set_price("A", "NSE", 0)


def test_replay_csv(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text(
        "timestamp,symbol,exchange,ltp\n"
        "1700000000500,B,NSE,10.05\n"
        "2023-11-14T22:13:20+00:00,A,NSE,100.5\n"
    )
    rows = SimMarket.load_replay(path)
    assert [(r.ts_ms, r.symbol, r.ltp) for r in rows] == [
        (1_700_000_000_000, "A", to_units("100.5")),
        (1_700_000_000_500, "B", to_units("10.05")),
    ]
    market = SimMarket()
    seen: list[int] = []
    market.add_tick_listener(lambda s, e, ltp, ts: seen.append(ts))
    assert market.replay_now(rows) == 2
    assert seen == [1_700_000_000_000, 1_700_000_000_500]
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,symbol,exchange,ltp\n2023-11-14T22:13:20,A,NSE,1\n")
    with pytest.raises(ValueError, match="line 2"):
        SimMarket.load_replay(bad)


@pytest.mark.asyncio
async def test_walk_task_steps_at_its_rate() -> None:
    market = SimMarket(seed=3)
    market.add_symbol("W", "NSE", WalkConfig(start_price=to_units(50), tick_rate=200.0))
    ticks: list[int] = []
    market.add_tick_listener(lambda s, e, ltp, ts: ticks.append(ltp))
    market.start()
    try:
        await eventually(lambda: len(ticks) >= 5, timeout=2.0, message="five walk ticks")
    finally:
        await market.stop()
    assert all(t % 500 == 0 for t in ticks)
