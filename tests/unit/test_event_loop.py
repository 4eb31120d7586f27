"""The long-running commands run on uvloop (bootstrap.loop.run), the loop the latency and
throughput figures in docs/performance.md were measured on."""

from __future__ import annotations

import asyncio

from tradeguard.bootstrap.loop import run


def test_commands_run_on_uvloop_and_return_the_result() -> None:
    async def which() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    assert run(which()).startswith("uvloop")
