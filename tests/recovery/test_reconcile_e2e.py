"""Tests: what changed at the broker while tradeguard was stopped, over real processes and
OpenAlgo's REST books (tests/app/test_recovery.py covers every case in-process; this is the
same start path through the real gateway's order book, position book and trade book)."""

from __future__ import annotations

import signal
from decimal import Decimal

import pytest

from tests.recovery.procs import Cluster, TradeSpec, poll
from tradeguard.core.money import to_units
from tradeguard.core.rules import Level, LevelKind, TradeRules

SL = TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal("2")))


@pytest.mark.slow
def test_fill_while_down_hand_close_and_smaller_position_are_reconciled(
    cluster: Cluster,
) -> None:
    sim, guard = cluster.sim, cluster.guard
    cluster.open_trades(
        [
            TradeSpec("t-fill", "RELIANCE", 10, SL),
            TradeSpec("t-gone", "HDFCBANK", 10, SL),
            TradeSpec("t-small", "TCS", 10, SL),
        ]
    )
    sim.faults(fill_late=True)  # exit orders stay open until released
    guard.start_ready()

    def exit_sent() -> bool:
        sim.price("RELIANCE", "2897.5")
        return guard.trades()["t-fill"]["exit_order_id"] is not None

    poll(exit_sent, timeout=10, interval=0.05, message="exit sent")
    [exit_order] = cluster.exits("t-fill")
    assert exit_order["order_status"] == "open"
    guard.proc.send(signal.SIGTERM)
    assert guard.proc.wait_exit(timeout=5) == 0
    assert guard.trades()["t-fill"]["state"] == "EXITING"

    # While tradeguard is down: the exit fills at a new price, one position is closed by
    # hand, another is partly sold by hand.
    sim.price("RELIANCE", "2896")
    assert sim.faults(fill_late=False, release_late=True)["released"] == [exit_order["orderid"]]
    hand_close = sim.place("HDFCBANK", "SELL", 10, strategy="manual")
    hand_part = sim.place("TCS", "SELL", 4, strategy="manual")

    summary = guard.start_ready()
    text = guard.proc.text()
    assert "recovery: 3 trades, 1 exit filled while down" in text, summary
    assert "1 closed externally, 1 quantity adjusted" in text
    rows = guard.trades()
    assert rows["t-fill"]["state"] == "CLOSED"
    assert rows["t-fill"]["exit_price"] == to_units("2896")
    assert rows["t-fill"]["exit_order_id"] == exit_order["orderid"]
    assert rows["t-gone"]["state"] == "CLOSED_EXTERNALLY"
    assert (rows["t-small"]["state"], rows["t-small"]["quantity"]) == ("ACTIVE", 6)

    def small_closed() -> bool:
        sim.price("TCS", "4097.5")
        return bool(guard.trades()["t-small"]["state"] == "CLOSED")

    poll(small_closed, timeout=10, interval=0.05, message="the adjusted trade exits")
    tcs_exits = [o for o in cluster.exits("t-small") if o["orderid"] != hand_part]
    assert [int(o["quantity"]) for o in tcs_exits] == [6]
    assert [o["orderid"] for o in cluster.exits("t-gone")] == [hand_close]  # none of ours
    assert len(cluster.exits("t-fill")) == 1
    assert (sim.net("RELIANCE"), sim.net("HDFCBANK"), sim.net("TCS")) == (0, 0, 0)
