"""The store's write queue keeps its limit when a chunk taken for writing comes back after a
failed write, however full the queue grew meanwhile, without dropping any newest state."""

from __future__ import annotations

import logging

import pytest

from tests.db import factories as f
from tradeguard.adapters.db.pending import Batch, PendingQueue
from tradeguard.app.records import AuditRecord, TradeRecord


def test_a_chunk_put_back_is_compacted_with_what_was_queued_meanwhile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = PendingQueue(limit=10)
    for i in range(6):
        queue.push(Batch([f.trade(f"t-{i % 3}", last_price=i)]))
    chunk = queue.take(1_000)  # being written: the queue is empty meanwhile
    assert len(queue) == 0
    for i in range(6, 15):
        queue.push(Batch([f.trade(f"t-{i % 3}", last_price=i)]))
    queue.push(Batch([f.audit(1)]))
    assert len(queue) == 10
    with caplog.at_level(logging.WARNING, "tradeguard.db"):
        queue.put_back(chunk)  # the write failed: 16 records, over the limit
    assert len(queue) == 4  # the newest snapshot of each trade, and the audit entry
    newest = {r.trade_id: r.last_price for r in queue.records() if isinstance(r, TradeRecord)}
    assert newest == {"t-0": 12, "t-1": 13, "t-2": 14}
    assert [r.action for r in queue.records() if isinstance(r, AuditRecord)] == ["action-1"]
    assert queue.dropped_audit == 0
    assert any("over its limit" in r.getMessage() for r in caplog.records)


def test_a_chunk_put_back_under_the_limit_keeps_every_record_in_order() -> None:
    queue = PendingQueue(limit=10)
    first = [f.trade("t-1", last_price=1), f.audit(1)]
    queue.push(Batch(first))
    chunk = queue.take(1_000)
    queue.push(Batch([f.audit(2)]))
    queue.put_back(chunk)
    assert list(queue.records()) == [*first, f.audit(2)]
    assert len(queue) == 3
