"""Tests (app): cancel_and_wait stops tasks and never swallows the caller's own cancellation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tradeguard.app.tasks import cancel_and_wait


async def forever(started: asyncio.Event) -> None:
    started.set()
    await asyncio.Event().wait()


async def stubborn(started: asyncio.Event, release: asyncio.Event) -> None:
    """Ends only when `release` is set, whatever cancels it meanwhile."""
    started.set()
    while not release.is_set():
        with contextlib.suppress(asyncio.CancelledError):
            await release.wait()


@pytest.mark.asyncio
async def test_the_tasks_are_cancelled_and_their_cancellation_is_not_raised() -> None:
    started = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(forever(event)) for event in started]
    for event in started:
        await event.wait()
    await cancel_and_wait(tasks[0], None, tasks[1])
    assert all(task.cancelled() for task in tasks)


@pytest.mark.asyncio
async def test_an_error_a_task_ended_with_is_raised() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    task = asyncio.create_task(fails())
    await asyncio.wait([task])
    with pytest.raises(ValueError, match="boom"):
        await cancel_and_wait(task)


@pytest.mark.asyncio
async def test_the_callers_cancellation_propagates_while_it_waits() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(stubborn(started, release))
    await started.wait()
    caller = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0)  # the caller is now waiting for the stubborn task
    assert not caller.done()
    caller.cancel()
    await asyncio.wait([caller], timeout=10)  # a deadline for the failure: it ends at once
    assert caller.cancelled()
    # the old pattern (suppress CancelledError around `await task`) swallowed this: the caller
    # would still be waiting here instead of being cancelled
    release.set()
    await task
    assert task.done()
