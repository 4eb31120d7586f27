"""App layer: stopping background tasks without swallowing the caller's own cancellation.

`task.cancel()` then `with contextlib.suppress(asyncio.CancelledError): await task` is the usual
way to stop a task, and it is wrong: if the *caller* is cancelled while it waits (a Ctrl+C, a
test's teardown), its CancelledError is swallowed too and the caller runs on as if nothing had
happened. `cancel_and_wait` waits with `asyncio.wait`, which never raises the task's outcome, so
a cancellation of the caller propagates and the task's own cancellation does not.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel every given task (None: skipped) and wait until all have ended.

    A task's cancellation is its normal end here and is not raised; an error a task ended with
    is raised (the first one, after all have ended). A cancellation of the caller while it
    waits propagates at once (the tasks have been asked to stop and finish on their own).
    """
    pending = [task for task in tasks if task is not None]
    for task in pending:
        task.cancel()
    if not pending:
        return
    await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
