"""Conformance: the WebSocket feed against OpenAlgo's real proxy. A muted symbol (REST quotes
go on, its ticks stop) is priced by REST polling and its stop fires from there; after a
logout/login (`ctl relogin`: the proxy drops its broker adapter and leaves tradeguard's socket
open and silent) the feed reconnects by itself, ticks flow again within 10 s, and a stop fires
from a WebSocket tick, not from polling."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conformance.kit import OpenAlgo
from tests.conformance.world import EXCHANGE, open_stack
from tests.helpers import eventually
from tradeguard.adapters.openalgo.polling import PollingConfig
from tradeguard.core.money import to_units

pytestmark = pytest.mark.conformance

SL = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "5"}


@pytest.mark.asyncio
async def test_a_muted_symbol_is_priced_by_rest_polling(oa: OpenAlgo, tmp_path: Path) -> None:
    polling = PollingConfig(interval_s=0.5, stale_after_s=2.0)
    async with open_stack(oa, tmp_path / "tg.db", polling=polling) as stack:
        await stack.price("SBIN", "800")
        await stack.price("INFY", "1500")
        await stack.strategy("mute", **SL)
        ours = await stack.guard("mute", "SBIN", 4)
        other = await stack.guard("mute", "INFY", 1)  # keeps ticking: the socket is alive
        fallback = stack.feed.fallback
        assert fallback is not None
        await oa.ctl("mute", "SBIN")
        try:
            await eventually(
                lambda: ("SBIN", EXCHANGE) in stack.feed.stale_symbols(time.time_ns(), 2.0),
                timeout=15.0,
                message="SBIN stale",
            )
            polled = fallback.polled_ticks
            await stack.price("SBIN", "794")
            await stack.closed(ours["trade_id"])
            await stack.one_exit(ours["trade_id"], 4, "STOP_LOSS")
            assert fallback.polled_ticks > polled
            assert stack.feed.last_stream_price("SBIN", EXCHANGE) == to_units("800")
            assert stack.feed.reconnects == 0  # INFY ticks: the connection is not dead
        finally:
            await oa.ctl("unmute", "SBIN")
        await stack.service.exit_trade("acct", other["trade_id"], actor="conformance")
        await stack.closed(other["trade_id"])


@pytest.mark.asyncio
async def test_after_a_relogin_ticks_return_within_10s_and_a_stop_fires_from_a_tick(
    oa: OpenAlgo, tmp_path: Path
) -> None:
    async with open_stack(oa, tmp_path / "tg.db") as stack:  # tradeguard's own defaults
        await stack.price("SBIN", "800")
        await stack.strategy("relogin", **SL)
        before = await stack.net("SBIN")
        ours = await stack.guard("relogin", "SBIN", 5)
        feed = stack.feed
        assert feed.reconnects == 0
        started = time.monotonic()
        try:
            await oa.ctl("relogin")  # the daily logout and login, in OpenAlgo's web UI
        except BaseException:
            await oa.ctl("login")
            raise
        relogged = time.monotonic()

        def ticking_again() -> bool:  # a tick on a connection made after the relogin
            tick_at = feed.last_stream_tick_at("SBIN", EXCHANGE) or 0
            return feed.reconnects >= 1 and tick_at > (feed.connected_at or 0)

        await eventually(ticking_again, timeout=12.0, interval=0.05, message="ticks again")
        back = time.monotonic()
        print(
            f"\nrelogin took {relogged - started:.1f}s; ticks back {back - started:.1f}s after "
            f"it started; the connection was dropped because: {feed.last_drop}"
        )
        assert back - started < 10.0, f"ticks back {back - started:.1f}s after the relogin"
        assert feed.connected
        assert "feed" not in stack.service.health()["degraded"]

        fallback = feed.fallback
        assert fallback is not None
        assert feed.watchdog is not None
        polled, drops = fallback.polled_ticks, feed.watchdog.drops
        await stack.price("SBIN", "795")  # the stop (795.05): from a WebSocket tick
        await stack.closed(ours["trade_id"], within=60.0)  # the sandbox may stall ~10 s once
        await stack.one_exit(ours["trade_id"], 5, "STOP_LOSS")
        assert feed.last_stream_price("SBIN", EXCHANGE) == to_units("795")
        assert fallback.polled_ticks == polled  # no REST quote priced it
        assert feed.watchdog.drops == drops
        assert feed.reconnects == 1
        assert await stack.net("SBIN") == before
