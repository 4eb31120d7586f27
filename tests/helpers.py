"""Test helpers shared by every suite: wait for a condition without sleeping blindly."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# SqlStore options for tests that are not about a slow database. The store's default
# commit_timeout (1 s of wall-clock time without progress) marks it degraded; on a loaded
# machine one SQLite commit can take that long, and a test under a manual clock (or one that
# asserts a normal exit path) then sees "database degraded" it never asked for. An outage a
# test does cause (a held write lock, a stopped server) still degrades the store at once:
# the writer reports the failed write instead of waiting out this timeout. Reads likewise: the
# default read_timeout (5 s) once failed a stack's start-up (its first load) on a machine at a
# load average of 27.
PATIENT_STORE: dict[str, float] = {"commit_timeout": 30.0, "slow_limit": 60.0, "read_timeout": 30.0}


# How long a test waits for one message or event that must come. Only a missing one waits
# this long (it then fails the test instead of hanging the run), so it is generous.
WAIT_WITHIN = 30.0


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = WAIT_WITHIN,  # noqa: ASYNC109 - a deadline that fails the test
    interval: float = 0.005,
    message: str = "condition",
) -> T:
    """Re-run `check` until it returns a truthy value (or stops raising AssertionError).

    Fails with the last AssertionError, or a TimeoutError naming `message`, after `timeout`.
    This yields to the event loop between attempts; it never sleeps to *wait for* something.
    `timeout` only bounds how long a missing event takes to fail the test (a check that holds
    returns at once), so it is generous: a busy machine stretches every step.
    """
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
                result = await result
            if result:
                return result  # type: ignore[return-value]
        except AssertionError as error:
            last_error = error
        if time.monotonic() >= deadline:
            if last_error is not None:
                raise last_error
            raise TimeoutError(f"{message} did not hold within {timeout}s")
        await asyncio.sleep(interval)


async def within(
    awaitable: Awaitable[T],
    what: str,
    timeout: float = WAIT_WITHIN,  # noqa: ASYNC109 - a deadline that fails the test
) -> T:
    """Await `awaitable` (an event's wait, a task, a future); fail naming `what` if it has not
    finished within `timeout`, instead of hanging the whole run."""
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await awaitable
    except TimeoutError:
        if deadline.expired():
            raise AssertionError(f"{what}: nothing within {timeout} s") from None
        raise


async def recv(ws: Any, timeout: float = WAIT_WITHIN) -> Any:  # noqa: ASYNC109
    """The next message of a websocket client connection (websockets' `recv`), or a failure
    after `timeout` when none comes. Every test reads websockets through this."""
    return await within(ws.recv(), "websocket message", timeout)


@contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock from another connection (as a second process would)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("COMMIT")
    finally:
        other.close()


@asynccontextmanager
async def saturated_loop(busy_s: float = 0.0002) -> AsyncIterator[None]:
    """Keep the event loop saturated meanwhile: a task that computes for `busy_s`, then yields
    (the loop polls its sockets, briefly releasing the interpreter lock), over and over, as a
    service does when ticks arrive faster than it handles them."""
    stop = asyncio.Event()

    async def spin() -> None:
        while not stop.is_set():
            until = time.perf_counter() + busy_s
            while time.perf_counter() < until:
                pass
            await asyncio.sleep(0)

    spinner = asyncio.create_task(spin())
    try:
        await asyncio.sleep(0)
        yield
    finally:
        stop.set()
        await spinner


def break_journal(store: Any) -> None:
    """Make a SqlStore's write-ahead journal fail every write from now on, as a failed disk
    would: its file descriptor is swapped for a read-only one (writes fail with EBADF)."""
    journal = store._journal.journal
    readonly = os.open(journal.path, os.O_RDONLY)
    try:
        os.dup2(readonly, journal._fd)
    finally:
        os.close(readonly)
