"""Composition root: `tradeguard sim`: the OpenAlgo-compatible simulator on its own."""

from __future__ import annotations

import asyncio
import signal

from tradeguard.adapters.sim.embedded import EmbeddedSimulator, SimulatorOptions


async def serve_simulator(options: SimulatorOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with EmbeddedSimulator(options) as sim:
        print(f"simulator REST  {sim.rest_url}/api/v1/", flush=True)
        print(f"simulator WS    {sim.ws_url}", flush=True)
        print(f"apikey          {sim.apikey}", flush=True)
        print(
            "admin           POST /sim/admin/{faults,feed,timing,pending,price,stream,arrivals}"
            " with header X-Sim-Admin-Key: <apikey>",
            flush=True,
        )
        await stop.wait()
    return 0
