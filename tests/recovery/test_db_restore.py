"""Tests: a corrupt database at start-up, over real processes. `tradeguard run` backs the
database up, stops; while it is down a position is closed by hand and a trade is opened (after
the backup), then real bytes of the database file are overwritten. The next `tradeguard run`
finds the corruption, restores the backup, reconciles with the simulator's books and says,
critically, from when it restored and which position it no longer guards."""

from __future__ import annotations

import signal
from decimal import Decimal

import pytest

from tests.db.test_backup import corrupt
from tests.recovery.procs import Cluster, TradeSpec, poll
from tradeguard.adapters.db.backup import backups
from tradeguard.adapters.db.integrity import check_sqlite
from tradeguard.core.money import to_units
from tradeguard.core.rules import Level, LevelKind, TradeRules

SL = TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal("2")))


@pytest.mark.slow
def test_a_corrupt_database_is_restored_from_the_backup_and_reconciled(
    cluster: Cluster,
) -> None:
    sim, guard = cluster.sim, cluster.guard
    cluster.open_trades(
        [TradeSpec("t-keep", "RELIANCE", 10, SL), TradeSpec("t-gone", "TCS", 5, SL)]
    )
    guard.start_ready()
    directory = guard.data_dir / "backups"
    [backup] = poll(lambda: backups(directory), timeout=10, message="a backup")
    guard.proc.send(signal.SIGTERM)
    assert guard.proc.wait_exit(timeout=5) == 0

    # While it is down: TCS is closed by hand at a new price, a trade is opened (written to
    # the database after the backup), then the database file is damaged.
    sim.price("TCS", "3512.5")
    sim.place("TCS", "SELL", 5, strategy="manual")
    cluster.open_trades([TradeSpec("t-late", "HDFCBANK", 7, SL)])
    assert "t-late" in guard.trades()
    corrupt(guard.db_path)
    assert check_sqlite(guard.db_path) != []

    guard.start_ready()
    # the alert is printed by the terminal's event view, which starts after recovery
    guard.proc.wait_for(r"ALERT .*DATABASE RESTORED from the backup taken at")
    guard.proc.wait_for("HDFCBANK:NSE MIS broker net 7, tradeguard's open trades 0")
    assert f"restored from {backup.path.name}" in guard.proc.text()
    rows = guard.trades()
    assert rows["t-keep"]["state"] == "ACTIVE"
    assert rows["t-gone"]["state"] == "CLOSED_EXTERNALLY"  # reconciled with the broker
    assert rows["t-gone"]["exit_price"] == to_units("3512.5")  # the broker's ltp, not the entry
    assert "t-late" not in rows  # written after the backup: lost, and reported
    [restored] = guard.audit("database")
    assert restored["action"] == "db_restored"
    assert restored["detail"]["backup"] == backup.path.name
    assert list((guard.data_dir / "corrupt").iterdir())  # the corrupt file is kept
    assert check_sqlite(guard.db_path) == []
    sim.price("RELIANCE", "1")  # still guarded after the restore: the stop fires
    poll(lambda: cluster.exits("t-keep"), timeout=10, message="t-keep's exit")
    cluster.assert_no_double_exit()
