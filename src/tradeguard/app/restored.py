"""App layer: what follows a database restore at start-up, once recovery has reconciled the
restored state with the broker's books.

A restore goes back to the time of the backup. The write-ahead journal is replayed on top (it
holds only writes the database had not taken yet), so what the database had accepted after the
backup is gone: trades opened after it are unknown, and trades closed or changed after it are
back in their older state. Recovery's reconciliation already put the open trades right against
the broker (a position closed meanwhile -> CLOSED_EXTERNALLY at its last known price, a
smaller one -> quantity adjusted, exit orders found in the order book -> their fills).
`announce_restore` then compares the broker's net positions with the open trades: a position
the trades do not explain (typically a trade opened after the backup) is listed, because
tradeguard cannot guard what it no longer knows. One critical alert says that a restore
happened, from when, and what is unguarded; one audit entry (`db_restored`) keeps it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from tradeguard.app.ports import AlertSink, BrokerGateway, Clock, Store
from tradeguard.app.snapshots import audit, commit_logged
from tradeguard.core.broker import BrokerError
from tradeguard.core.engine import RiskEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RestoreNotice:
    """A restore the start-up check made (from the adapters' report)."""

    backup: str  # the backup file's name
    taken_at: str  # when it was taken (UTC, ISO 8601)
    corrupt_copy: str  # where the corrupt file is kept
    problems: list[str]
    skipped: list[str] = field(default_factory=list)  # newer backups that failed their check


async def untracked_positions(engine: RiskEngine, broker: BrokerGateway) -> list[str]:
    """The broker's net positions that the open trades do not explain ("?" entries when the
    position book cannot be read)."""
    try:
        positions = await broker.position_book()
    except BrokerError as error:
        return [f"? position book unavailable ({error}): compare the positions by hand"]
    ours: dict[tuple[str, str, str], int] = defaultdict(int)
    for trade in engine.trades():
        key = (trade.instrument.symbol, trade.instrument.exchange, str(trade.product))
        ours[key] += trade.side.sign * trade.quantity
    found = []
    for row in positions:
        expected = ours.get((row.symbol, row.exchange, row.product), 0)
        if row.quantity != expected:
            found.append(
                f"{row.symbol}:{row.exchange} {row.product} broker net {row.quantity}, "
                f"tradeguard's open trades {expected}"
            )
    return found


async def announce_restore(
    notice: RestoreNotice,
    recovery_summary: str,
    *,
    engine: RiskEngine,
    broker: BrokerGateway,
    store: Store,
    alerts: AlertSink,
    clock: Clock,
) -> list[str]:
    """Alert (critical) and audit the restore; returns the unexplained positions."""
    untracked = await untracked_positions(engine, broker)
    message = (
        f"DATABASE RESTORED from the backup taken at {notice.taken_at} ({notice.backup}): the "
        f"database was corrupt ({'; '.join(notice.problems[:2])}). Changes the database took "
        "after that time are lost (only writes still in the journal were replayed); the open "
        f"trades were reconciled with the broker ({recovery_summary}). "
    )
    if untracked:
        message += (
            "Positions tradeguard does NOT guard (opened after the backup? create their trades "
            "again): " + "; ".join(untracked)
        )
    else:
        message += "Every broker position is explained by an open trade."
    alerts.alert(
        "critical",
        message,
        backup=notice.backup,
        backup_taken_at=notice.taken_at,
        corrupt_copy=notice.corrupt_copy,
    )
    record = audit(
        clock.now(),
        "db_restored",
        "database",
        backup=notice.backup,
        backup_taken_at=notice.taken_at,
        corrupt_copy=notice.corrupt_copy,
        problems=notice.problems[:10],
        skipped_backups=notice.skipped,
        recovery=recovery_summary,
        untracked_positions=untracked,
    )
    await commit_logged(store, [record])
    return untracked


__all__ = ["RestoreNotice", "announce_restore", "untracked_positions"]
