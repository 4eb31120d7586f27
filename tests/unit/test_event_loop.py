"""The long-running commands run on uvloop (bootstrap.loop.run), the loop the latency and
throughput figures in docs/performance.md were measured on; the heap alive after start-up is
frozen out of the garbage collector's way (bootstrap.loop.freeze_startup_heap)."""

from __future__ import annotations

import asyncio
import gc

from tradeguard.adapters.asgi_server import AsgiServer
from tradeguard.bootstrap.loop import freeze_startup_heap, run


def test_commands_run_on_uvloop_and_return_the_result() -> None:
    async def which() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    assert run(which()).startswith("uvloop")


def test_the_startup_heap_is_frozen_out_of_the_collectors_way() -> None:
    class Marker:
        pass

    alive = [Marker()]  # a container the collector tracks
    try:
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 0
        tracked = [obj for generation in range(3) for obj in gc.get_objects(generation)]
        assert all(obj is not alive for obj in tracked)  # walked by no collection any more
        later = [Marker()]
        assert any(obj is later for obj in gc.get_objects(0))  # new objects as usual
    finally:
        gc.unfreeze()


def test_http_servers_parse_with_httptools() -> None:
    async def app(scope: object, receive: object, send: object) -> None:  # never called
        raise AssertionError

    config = AsgiServer(app).config
    config.load()
    assert config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"
