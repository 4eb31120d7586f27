"""Tests: supervised background work. The monitor's loops run under the Supervisor: a loop that
dies is restarted (counted, alerted, audited) and the work it does goes on; one that keeps
dying makes the service degraded (critical alert, audit, /health) until it runs stably again.
Real engine, paper broker and SQLite store; faults come from a clock that raises once and
from the monitor's `raise:` failpoints."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import pytest

from tests.app.clock import ManualClock
from tests.app.fakes import Alerts
from tests.app.harness import Harness, World
from tests.helpers import PATIENT_STORE, eventually
from tradeguard.adapters.db.store import SqlStore
from tradeguard.app.failpoints import FailpointError, Failpoints
from tradeguard.app.supervisor import SupervisionPolicy, Supervisor, TaskState
from tradeguard.core.model import Side
from tradeguard.core.money import to_units
from tradeguard.core.rules import LevelKind, Offset, TradeRules, TrailingRule


class FlakyClock:
    """The test's manual clock, except that the next sleep of `fail_on` seconds raises: the
    fault a clock loop can die of."""

    def __init__(self, inner: ManualClock) -> None:
        self.inner = inner
        self.fail_on: float | None = None

    def now(self) -> int:
        return self.inner.now()

    async def sleep(self, seconds: float) -> None:
        if seconds == self.fail_on:
            self.fail_on = None
            raise RuntimeError("clock fault")
        await self.inner.sleep(seconds)


def advancing(clock: ManualClock, step: float, done: object) -> object:
    """An eventually() check that moves time by `step` until `done()` holds."""

    def check() -> bool:
        if done():  # type: ignore[operator]
            return True
        clock.advance(step)
        return False

    return check


@pytest.mark.asyncio
async def test_a_clock_loop_that_dies_is_restarted_and_time_exits_still_fire(world: World) -> None:
    """Regression: a clock loop that raised once ended for good, and with it every time exit
    and session probe, silently. Now it is restarted, counted and alerted."""
    app = await Harness.open(world)
    flaky = FlakyClock(world.clock)
    app.monitor.clock = flaky  # type: ignore[assignment]
    app.monitor.clock_interval = 0.5
    flaky.fail_on = 0.5  # the clock loop's first sleep raises
    await app.start()
    await app.add_strategy("s1")
    await app.enter("a", "RELIANCE", Side.LONG, 5, TradeRules(max_holding_seconds=5))
    await eventually(advancing(world.clock, 0.5, lambda: bool(app.exits())), timeout=10)
    assert app.monitor.counters.exits_by_reason == {"MAX_HOLDING": 1}
    clock = app.monitor.supervisor.tasks["clock"]
    assert (clock.restarts, clock.failures, clock.state) == (1, 1, TaskState.RUNNING)
    assert clock.last_error == "RuntimeError: clock fault"
    assert app.monitor.supervisor.degraded() == []  # one failure: restarted, not degraded
    [warning] = [a for a in app.alerts.items if a[2].get("task") == "clock"]
    assert warning[0] == "warning"
    await app.settle()
    audits = await app.store.audits("task:clock")
    assert [a.action for a in audits] == ["task_failed"]
    assert audits[0].detail["error"] == "RuntimeError: clock fault"
    await app.stop()


@pytest.mark.asyncio
async def test_a_flush_loop_that_keeps_dying_degrades_the_service_until_it_runs_again(
    world: World,
) -> None:
    """raise:flush_loop: restarted with back-off, then degraded at the third failure within the
    window (one critical alert, audited), restarting all along; once it no longer fails and
    has run stably, it is healthy again and nothing it should have written was lost."""
    app = await Harness.open(world)
    app.monitor.failpoints = Failpoints("raise:flush_loop")
    await app.start()
    await app.add_strategy("s1")
    trail = TradeRules(trailing=TrailingRule(Offset(LevelKind.POINTS, Decimal("2"))))
    await app.enter("a", "RELIANCE", Side.LONG, 5, trail)
    supervisor = app.monitor.supervisor
    flush = supervisor.tasks["flush"]
    await eventually(advancing(world.clock, 0.25, lambda: supervisor.degraded() == ["flush"]))
    assert flush.failures == 3
    assert flush.last_error == "FailpointError: failpoint raise:flush_loop"
    assert flush.degraded_since is not None
    critical = [a for a in app.alerts.items if a[0] == "critical"]
    assert len(critical) == 1
    assert critical[0][2] == {"task": "flush", "error": flush.last_error}
    assert "tradeguard is degraded" in critical[0][1]
    app.tick("RELIANCE", "110")  # best price 110: a fast field the dead loop cannot write
    await eventually(advancing(world.clock, 0.5, lambda: flush.failures >= 5))
    assert supervisor.degraded() == ["flush"]  # still restarting, still degraded, one alert
    assert len([a for a in app.alerts.items if a[0] == "critical"]) == 1
    app.monitor.failpoints = Failpoints()  # the fault goes away
    await eventually(advancing(world.clock, 1.0, lambda: supervisor.degraded() == []))
    assert flush.state is TaskState.RUNNING
    assert app.alerts.items[-1][0] == "info"

    async def saved_best() -> bool:
        record = await app.store.trade("a")
        return record is not None and record.best_price == to_units("110")

    await eventually(saved_best, message="the dirty trade is flushed after the recovery")
    actions = [a.action for a in await app.store.audits("task:flush")]
    assert actions.count("task_degraded") == 1
    assert actions[-1] == "task_recovered"
    assert actions.count("task_failed") == 3  # then counted on /health, not audited again
    assert flush.failures >= 5
    await app.stop()


@pytest.mark.asyncio
async def test_a_task_that_must_not_restart_degrades_at_once_and_an_early_end_is_a_failure(
    world: World,
) -> None:
    """A task that returns while the service runs has failed like one that raised; with
    restart=False the service is degraded at its first failure. Cancelling is stopping."""
    alerts = Alerts()
    store = await SqlStore.open(world.db_url, **PATIENT_STORE)
    supervisor = Supervisor(world.clock, alerts, store, SupervisionPolicy(backoff=(1.0,)))
    ended = asyncio.Event()

    async def returns() -> None:
        ended.set()

    async def forever() -> None:
        await asyncio.Event().wait()

    once = supervisor.start("one-shot", returns, restart=False)
    await once
    assert ended.is_set()
    task = supervisor.tasks["one-shot"]
    assert (task.state, task.failures, task.restarts) == (TaskState.FAILED, 1, 0)
    assert task.last_error == "ended while the service was running"
    assert supervisor.degraded() == ["one-shot"]
    assert alerts.levels() == ["critical"]
    runner = supervisor.start("forever", forever)
    with pytest.raises(RuntimeError, match="already supervised"):
        supervisor.start("forever", forever)
    await eventually(lambda: supervisor.tasks["forever"].starts == 1)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert supervisor.tasks["forever"].state is TaskState.STOPPED
    assert supervisor.tasks["forever"].failures == 0
    assert supervisor.status()["one-shot"]["degraded"] is True
    await supervisor.close()
    await store.close()


def test_failpoints_raise_mode_is_checked() -> None:
    points = Failpoints("raise:clock_loop:2")
    points.fail("flush_loop")  # not armed there
    for _ in range(2):
        with pytest.raises(FailpointError):
            points.fail("clock_loop")
    points.fail("clock_loop")  # spent
    for bad in ("raise:nope", "raise:clock_loop:x", "raise:clock_loop:1:2", "nope"):
        with pytest.raises(ValueError, match="unknown failpoint"):
            Failpoints(bad)
    with pytest.raises(ValueError, match="degraded_after"):
        SupervisionPolicy(degraded_after=0)


@pytest.mark.asyncio
async def test_stopping_ends_a_task_that_swallowed_its_cancellation(world: World) -> None:
    """Regression: a run that swallowed its cancellation (as Python 3.11's asyncio.wait_for
    could, in the store's commit wait) went on forever, and its owner's stop with it (Ctrl+C
    at start-up left the demo trader running). It is now cancelled again until it ends."""
    alerts = Alerts()
    store = await SqlStore.open(world.db_url)
    supervisor = Supervisor(world.clock, alerts, store)
    steps = 0

    async def deaf() -> None:
        nonlocal steps
        with contextlib.suppress(asyncio.CancelledError):  # swallowed, as wait_for did
            await asyncio.Event().wait()
        while True:
            steps += 1
            await asyncio.Event().wait()

    runner = supervisor.start("deaf", deaf)
    await eventually(lambda: supervisor.tasks["deaf"].starts == 1)
    runner.cancel()
    await eventually(advancing(world.clock, 0.5, runner.done))  # type: ignore[arg-type]
    assert runner.cancelled()
    assert steps == 1
    assert supervisor.tasks["deaf"].state is TaskState.STOPPED
    assert supervisor.tasks["deaf"].failures == 0
    await supervisor.close()
    await store.close()
