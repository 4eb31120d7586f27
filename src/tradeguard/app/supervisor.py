"""App layer: supervision of the long-running background tasks (flush, clock, reconciliation,
the dashboard publisher...).

Every such task runs under one `Supervisor`, as a `SupervisedTask` entity with its own state
(running -> restarting -> running ..., failed, stopped). A task that raises, or that ends
although nothing asked it to (a loop that returns is as dead as one that raised), has failed:

- the failure is counted, logged with its traceback, alerted (warning) and audited
  (`task_failed`, subject `task:<name>`; while the task is degraded, only counted and logged);
- a restartable task is started again after a back-off (`SupervisionPolicy.backoff`, growing
  with consecutive failures, the last value repeating): restarting never stops;
- a task that fails `degraded_after` times within `window` seconds keeps being restarted but
  turns the service **degraded** (on /health: which task, since when, the last error), with
  one critical alert and an audit entry (`task_degraded`); once it has then run for
  `stable_after` seconds without failing, it is healthy again (info alert, `task_recovered`);
- a task that must not be restarted (`restart=False`) is degraded at its first failure.

Cancelling a supervised task (what its owner's stop does) stops it; that is never a failure.
Its current run is cancelled and awaited; one that swallows the cancellation is cancelled
again until it ends, so an owner's stop is never left waiting.
Time (back-off, the stable period) comes from the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tradeguard.app.ports import AlertSink, Clock, Store
from tradeguard.app.snapshots import audit, commit_logged

log = logging.getLogger(__name__)

NS = 1_000_000_000
STOP_RETRY = 0.5  # seconds between cancellations of a task that ignored its stop
Factory = Callable[[], Coroutine[Any, Any, None]]


class TaskState(StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"  # failed; waiting for its back-off before it runs again
    FAILED = "failed"  # failed and not restarted (restart=False)
    STOPPED = "stopped"  # cancelled by its owner


@dataclass(frozen=True, slots=True)
class SupervisionPolicy:
    backoff: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0)  # seconds before restart n
    degraded_after: int = 3  # failures within `window` seconds that make the service degraded
    window: float = 60.0
    stable_after: float = 30.0  # a degraded task running this long without failing is healthy

    def __post_init__(self) -> None:
        if not self.backoff or min(self.backoff) < 0:
            raise ValueError("backoff needs at least one delay, none negative")
        if self.degraded_after < 1 or self.window <= 0 or self.stable_after <= 0:
            raise ValueError("degraded_after >= 1, window > 0 and stable_after > 0 are required")


@dataclass(slots=True)
class SupervisedTask:
    """One supervised background task and what happened to it."""

    name: str
    restart: bool
    state: TaskState = TaskState.RUNNING
    starts: int = 0
    failures: int = 0  # every failure since start-up
    consecutive: int = 0  # failures since it last ran `stable_after` seconds
    last_error: str | None = None
    last_failure_at: int | None = None
    degraded_since: int | None = None
    recent: deque[int] = field(default_factory=deque)  # failure times within the window

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    @property
    def degraded(self) -> bool:
        return self.degraded_since is not None

    def view(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "degraded": self.degraded,
            "degraded_since": self.degraded_since,
            "restarts": self.restarts,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_failure_at": self.last_failure_at,
        }


class Supervisor:
    """Starts, watches and restarts background tasks; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        alerts: AlertSink,
        store: Store,
        policy: SupervisionPolicy | None = None,
    ) -> None:
        self.clock = clock
        self.alerts = alerts
        self.store = store
        self.policy = policy or SupervisionPolicy()
        self.tasks: dict[str, SupervisedTask] = {}
        self._audits: set[asyncio.Task[bool]] = set()

    def start(self, name: str, factory: Factory, *, restart: bool = True) -> asyncio.Task[None]:
        """Run `factory()` under supervision. Returns the supervising task: cancel it to stop
        the work (its current run is cancelled too). A name is one task at a time."""
        current = self.tasks.get(name)
        if current is not None and current.state in (TaskState.RUNNING, TaskState.RESTARTING):
            raise RuntimeError(f"background task {name!r} is already supervised")
        entry = SupervisedTask(name, restart)
        self.tasks[name] = entry
        return asyncio.create_task(self._supervise(entry, factory), name=f"supervise-{name}")

    # -- what /health shows ---------------------------------------------------------------

    def degraded(self) -> list[str]:
        """Names of the tasks that make the service degraded now."""
        return sorted(name for name, task in self.tasks.items() if task.degraded)

    def status(self) -> dict[str, dict[str, Any]]:
        return {name: task.view() for name, task in sorted(self.tasks.items())}

    async def close(self) -> None:
        """Wait for pending audit writes (the tasks themselves are stopped by their owners)."""
        if self._audits:
            await asyncio.gather(*self._audits, return_exceptions=True)

    # -- the supervising loop -------------------------------------------------------------

    async def _supervise(self, task: SupervisedTask, factory: Factory) -> None:
        try:
            while True:
                task.state = TaskState.RUNNING
                task.starts += 1
                run = asyncio.create_task(factory(), name=task.name)
                try:
                    error = await self._watch(task, run)
                except asyncio.CancelledError:
                    await self._stop_run(task, run)
                    raise
                self._failed(task, error)
                if not task.restart:
                    task.state = TaskState.FAILED
                    return
                task.state = TaskState.RESTARTING
                backoff = self.policy.backoff
                await self.clock.sleep(backoff[min(task.consecutive - 1, len(backoff) - 1)])
        except asyncio.CancelledError:
            task.state = TaskState.STOPPED
            raise

    async def _stop_run(self, task: SupervisedTask, run: asyncio.Task[None]) -> None:
        """Cancel `run` and wait until it has ended. A run that swallowed its cancellation
        (a library catching CancelledError) would go on forever and hold its owner's stop:
        it is cancelled again every `STOP_RETRY` seconds until it ends."""
        while not run.done():
            run.cancel()
            retry = asyncio.ensure_future(self.clock.sleep(STOP_RETRY))
            try:
                await asyncio.wait({run, retry}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                retry.cancel()
            if not run.done():
                log.error("background task %s ignored its cancellation; cancelling it again",
                          task.name)  # fmt: skip
        if not run.cancelled():
            run.exception()  # retrieved: it ended on its own meanwhile

    async def _watch(self, task: SupervisedTask, run: asyncio.Task[None]) -> str:
        """Wait until `run` ends; returns why it failed. If it first runs `stable_after`
        seconds, its consecutive failures are forgiven (and a degraded task recovers). The
        stable timer runs only after a failure: a healthy task costs no timer."""
        if task.consecutive:
            stable = asyncio.ensure_future(self.clock.sleep(self.policy.stable_after))
            try:
                await asyncio.wait({run, stable}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stable.cancel()
            if not run.done():
                task.consecutive = 0
                if task.degraded:
                    self._recovered(task)
        await asyncio.wait({run})
        if run.cancelled():
            return "cancelled by something other than its owner"
        exception = run.exception()
        if exception is None:
            return "ended while the service was running"
        log.error("background task %s failed", task.name, exc_info=exception)
        return f"{type(exception).__name__}: {exception}"

    # -- failures and recoveries ----------------------------------------------------------

    def _failed(self, task: SupervisedTask, error: str) -> None:
        now = self.clock.now()
        task.failures += 1
        task.consecutive += 1
        task.last_error, task.last_failure_at = error, now
        task.recent.append(now)
        while task.recent and now - task.recent[0] > self.policy.window * NS:
            task.recent.popleft()
        then = "restarting it" if task.restart else "it is not restarted"
        log.error("background task %s failed (%s); %s", task.name, error, then)
        if not task.degraded:  # while degraded, /health counts the failures: no audit flood
            self._audit("task_failed", task, error=error, failures=task.failures)
        if not task.degraded and (
            not task.restart or len(task.recent) >= self.policy.degraded_after
        ):
            task.degraded_since = now
            why = "keeps failing" if task.restart else "failed"
            self.alerts.alert(
                "critical",
                f"background task {task.name} {why} ({error}): tradeguard is degraded; see "
                "/health and the log",
                task=task.name,
                error=error,
            )
            self._audit("task_degraded", task, error=error, failures=task.failures)
        elif not task.degraded:
            self.alerts.alert(
                "warning",
                f"background task {task.name} failed ({error}); restarted",
                task=task.name,
                error=error,
            )

    def _recovered(self, task: SupervisedTask) -> None:
        since = task.degraded_since or self.clock.now()
        task.degraded_since = None
        task.recent.clear()
        seconds = (self.clock.now() - since) / NS
        log.warning("background task %s healthy again after %.0fs", task.name, seconds)
        self.alerts.alert("info", f"background task {task.name} healthy again after {seconds:.0f}s")
        self._audit("task_recovered", task, degraded_seconds=round(seconds, 1))

    def _audit(self, action: str, task: SupervisedTask, **detail: Any) -> None:
        record = audit(self.clock.now(), action, f"task:{task.name}", **detail)
        pending = asyncio.ensure_future(commit_logged(self.store, [record]))
        self._audits.add(pending)
        pending.add_done_callback(self._audits.discard)


__all__ = ["SupervisedTask", "SupervisionPolicy", "Supervisor", "TaskState"]
