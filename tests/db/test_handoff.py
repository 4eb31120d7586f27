"""The database worker thread keeps committing while the event loop is saturated (the loop
steps aside when the worker has gone without a heartbeat), and the loop-side timer does
nothing once the worker is idle."""

from __future__ import annotations

import time

import pytest

from tests.db import factories as f
from tests.db.conftest import Database, open_store
from tests.helpers import eventually, saturated_loop
from tradeguard.adapters.db.handoff import Heartbeat, LockHandoff


def busy_worker(after: float) -> tuple[Heartbeat, LockHandoff, list[float]]:
    """A worker reporting work, and a started loop-side timer that records its pauses."""
    heartbeat = Heartbeat()
    naps: list[float] = []
    handoff = LockHandoff(heartbeat, period=0.001, after=after, pause=0.0, sleep=naps.append)
    heartbeat.beat(busy=True)
    handoff.kick()
    return heartbeat, handoff, naps


@pytest.mark.asyncio
async def test_the_loop_steps_aside_only_while_the_worker_is_busy_and_silent() -> None:
    heartbeat, handoff, naps = busy_worker(after=0.001)
    await eventually(lambda: len(naps) >= 3, message="the loop steps aside")
    assert handoff.pauses == len(naps)
    heartbeat.beat(busy=False)  # the worker ran out of work
    stepped = len(naps)
    await eventually(lambda: handoff._handle is None, message="the timer stops")
    assert len(naps) == stepped
    handoff.kick()  # idle worker: the timer fires once and stops without a pause
    await eventually(lambda: handoff._handle is None, message="the timer stops again")
    assert len(naps) == stepped


@pytest.mark.asyncio
async def test_a_busy_worker_that_keeps_beating_is_left_alone() -> None:
    _, handoff, naps = busy_worker(after=60.0)
    ticks = 0

    def timer_ran() -> bool:
        nonlocal ticks
        ticks += 1
        return ticks > 20

    await eventually(timer_ran)
    assert handoff._handle is not None  # still watching
    assert naps == []
    handoff.cancel()


@pytest.mark.asyncio
async def test_commits_land_while_the_event_loop_is_saturated(sqlite_db: Database) -> None:
    """A loop that polls its sockets every ~0.2 ms (a saturated service) used to starve the
    worker thread of the interpreter lock: a 2,000-row write took seconds and the store went
    "degraded" on a healthy database. Each commit here must land, without degrading.

    The store's timeouts are 1 s and 2 s as in production, stretched only when this machine
    is so busy that a commit as large as the largest here (2,000 rows) already takes more than
    0.1 s on a quiet loop (to ten times that): the starvation made a commit tens of times
    slower (a 1,000-row flush took 2.8 s), which even the stretched timeouts still catch."""
    baseline_store = await open_store(sqlite_db.url)
    try:
        started = time.monotonic()
        assert await baseline_store.commit([f.trade(f"b-{i:04d}") for i in range(2_000)])
        baseline = time.monotonic() - started
    finally:
        await baseline_store.close()
    step = max(1.0, 10 * baseline)
    store = await open_store(sqlite_db.url, commit_timeout=step, slow_limit=2 * step)
    try:
        async with saturated_loop():
            trades = [f.trade(f"t-{i:04d}") for i in range(2_000)]
            for start in range(0, len(trades), 500):
                assert await store.commit(trades[start : start + 500])
            for n in range(1, 4):
                assert await store.commit([f.progress(t.trade_id, n) for t in trades])
                assert await store.commit([f.trade("t-0000", state="EXITING"), f.audit(n)])
            assert not store.degraded
    finally:
        await store.close()
