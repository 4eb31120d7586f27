"""Tests: SIGINT and SIGTERM mid-stream stop tradeguard with status 0 within 5 s, with every
in-memory change flushed; a restart then brings back exactly the same state."""

from __future__ import annotations

import signal
import time
from decimal import Decimal
from typing import Any

import pytest

from tests.recovery.procs import Cluster, Guard, TradeSpec, poll
from tradeguard.core.money import to_units
from tradeguard.core.rules import Level, LevelKind, Offset, TradeRules, TrailingRule
from tradeguard.core.strategy import AmountKind

TRAIL = TradeRules(
    stop_loss=Level(LevelKind.POINTS, Decimal("20")),
    trailing=TrailingRule(Offset(LevelKind.POINTS, Decimal("5"))),
)
SL = TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal("2")))
VOLATILE = {"updated_at"}  # when a row was written, not what it says


def state(guard: Guard) -> dict[str, dict[str, Any]]:
    rows = {f"trade {k}": v for k, v in guard.trades().items()}
    rows |= {f"strategy {k}": v for k, v in guard.strategies().items()}
    return {k: {c: v for c, v in row.items() if c not in VOLATILE} for k, row in rows.items()}


def stop(guard: Guard, signum: int) -> None:
    started = time.monotonic()
    guard.proc.send(signum)
    assert guard.proc.wait_exit(timeout=5) == 0
    assert time.monotonic() - started < 5
    assert "stopped cleanly" in guard.proc.text()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_stream_flushes_and_restart_restores_the_same_state(
    cluster: Cluster, signum: int
) -> None:
    cluster.open_trades(
        [
            TradeSpec("t-infy", "INFY", 10, TRAIL),
            TradeSpec("t-sbin", "SBIN", 20, TRAIL),
            TradeSpec("t-itc", "ITC", 30, SL),
        ],
        enable_portfolio_trailing_sl=True,
        portfolio_trailing_type=AmountKind.AMOUNT,
        portfolio_trailing_value=Decimal("100000"),
    )
    guard = cluster.guard
    guard.flush_interval = 1.0  # the slowest allowed: the last ticks live only in memory
    guard.start_ready()
    sim = cluster.sim
    for step in range(1, 21):  # a stream of new highs
        sim.price("INFY", Decimal(1500 + step))
        sim.price("SBIN", Decimal(800) + Decimal(step) / 2)

    def flushed() -> bool:
        return bool(guard.trades()["t-infy"]["best_price"] == to_units("1520"))

    poll(flushed, timeout=10, interval=0.05, message="the stream flushed")
    sim.price("INFY", "1523")  # a new high (trail 1518), then a stop on another trade:
    sim.price("ITC", "447")  # its EXIT line proves the INFY tick before it was taken
    guard.proc.wait_for("EXIT +STOP_LOSS .* NSE:ITC")
    stop(guard, signum)

    after_stop = state(guard)
    infy = after_stop["trade t-infy"]
    assert (infy["best_price"], infy["trailing_level"]) == (to_units("1523"), to_units("1518"))
    assert after_stop["trade t-sbin"]["best_price"] == to_units("810")
    assert after_stop["trade t-itc"]["state"] in ("EXITING", "CLOSED")
    strategy = after_stop["strategy s1"]
    assert strategy["portfolio_highest_pnl"] > 0

    guard.start_ready()
    sim.price("ITC", "447")  # the market keeps its prices; ITC resolves either way
    poll(lambda: guard.trades()["t-itc"]["state"] == "CLOSED", timeout=10)
    stop(guard, signal.SIGTERM)
    restored = state(guard)
    assert restored.pop("trade t-itc")["state"] == "CLOSED"
    after_stop.pop("trade t-itc")
    strategy_restored = restored.pop("strategy s1")
    strategy_before = after_stop.pop("strategy s1")
    changed = {
        (key, column): (after_stop[key][column], row[column])
        for key, row in restored.items()
        for column in row
        if row[column] != after_stop[key][column]
    }
    assert changed == {}
    assert restored.keys() == after_stop.keys()
    # ITC's exit realized its P&L; the peak and trailing level of the strategy never loosen.
    assert strategy_restored["portfolio_highest_pnl"] >= strategy_before["portfolio_highest_pnl"]
    assert len(cluster.exits("t-itc")) == 1
