"""Composition root: `tradeguard run`: adapters -> app runtime -> interfaces, in one process.

It serves the REST API and the dashboard on settings.host:port (one ASGI app, uvicorn) and, on
first run, creates the `default` account, its API key and the dashboard user (secrets shown
once). With no OpenAlgo configured it starts the embedded simulator and a demo trader. SIGINT and
SIGTERM stop taking ticks, flush every dirty trade and strategy, close connections and return
within 5 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tradeguard.adapters.asgi_server import AsgiServer
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.db.backup import BackupLoop, Restored
from tradeguard.adapters.db.connect import private_directory, sqlite_file
from tradeguard.adapters.db.journal import journal_path
from tradeguard.adapters.db.startup import check_database
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.openalgo.feed import OpenAlgoFeed
from tradeguard.adapters.openalgo.polling import PollingConfig
from tradeguard.adapters.openalgo.ratelimit import RateLimitConfig
from tradeguard.adapters.openalgo.rest_gateway import OpenAlgoGateway
from tradeguard.adapters.security import (
    Argon2Hasher,
    FernetBox,
    load_or_create_secret_key,
    write_private,
)
from tradeguard.adapters.sim.embedded import DEMO_SYMBOLS, EmbeddedSimulator, SimulatorOptions
from tradeguard.app.accounts import AccountService, FirstRun
from tradeguard.app.demo import DemoTrader
from tradeguard.app.failpoints import Failpoints
from tradeguard.app.publisher import ViewPublisher
from tradeguard.app.restored import RestoreNotice, announce_restore
from tradeguard.app.runtime import AppRuntime, RuntimeOptions
from tradeguard.bootstrap.loop import freeze_startup_heap
from tradeguard.config import Settings, trusted_networks
from tradeguard.core.sessions import MarketCalendar
from tradeguard.interfaces.api import ApiOptions, build_app
from tradeguard.interfaces.console import KINDS as CONSOLE_KINDS
from tradeguard.interfaces.console import print_events

log = logging.getLogger("tradeguard")


@dataclass(slots=True)
class Running:
    """What a started service holds; `stop` is set to ask it to shut down."""

    runtime: AppRuntime
    stop: asyncio.Event
    simulator: EmbeddedSimulator | None = None
    extras: dict[str, Any] = field(default_factory=dict)


Extra = Callable[[Running], Coroutine[Any, Any, None]]
DEFAULT_ACCOUNT = "default"  # the demo trader's account and the first run's
SIMULATOR_STATE = "simulator.json"  # the embedded simulator's books, in the data directory
SIMULATOR_ENV = "simulator.env"  # its address and key as shell variables (0600)


async def open_accounts(settings: Settings, store: SqlStore) -> tuple[AccountService, FirstRun]:
    """The account service over the store; on first run it creates the default account, its
    API key and the dashboard user, and shows each generated secret once (console and a
    0600 file under data_dir)."""
    secret_key, created = load_or_create_secret_key(
        settings.secret_key, settings.data_dir / "secret.key"
    )
    if created:
        print(f"generated the secret key for stored credentials: {settings.data_dir}/secret.key")
    accounts = AccountService(store, Argon2Hasher(), FernetBox(secret_key), SystemClock())
    await accounts.load()
    first = await accounts.ensure_default(
        DEFAULT_ACCOUNT, settings.admin_user, settings.admin_password
    )
    if first.api_key is not None:
        path = settings.data_dir / "api_key.txt"
        write_private(path, first.api_key + "\n")
        print(f"tradeguard API key of account '{first.account}' (shown once; also in {path}):")
        print(f"  {first.api_key}", flush=True)
    if first.password is not None:
        path = settings.data_dir / "admin_password.txt"
        write_private(path, first.password + "\n")
        print(f"dashboard user '{first.username}', generated password (shown once; also in "
              f"{path}):")  # fmt: skip
        print(f"  {first.password}", flush=True)
    return accounts, first


def restore_notice(restored: Restored) -> RestoreNotice:
    return RestoreNotice(
        backup=restored.backup.path.name,
        taken_at=restored.backup.when,
        corrupt_copy=str(restored.corrupt_copy),
        problems=list(restored.problems),
        skipped=list(restored.skipped),
    )


def gateway_limits(settings: Settings) -> RateLimitConfig:
    """The OpenAlgo gateway's local limiter from the settings. A fifth of the API budget (10
    of OpenAlgo's default 50/s) stays reserved for exits' reads: quote polling never uses it."""
    return RateLimitConfig(
        orders=settings.openalgo_order_rate,
        smart_orders=settings.openalgo_smart_order_rate,
        api=settings.openalgo_api_rate,
        reserved_high=settings.openalgo_api_rate // 5,
    )


async def _openalgo(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> tuple[EmbeddedSimulator | None, tuple[str, str, str]]:
    """The OpenAlgo to talk to: the configured one, or an embedded simulator started now (and
    stopped by `stack`). Returns the simulator (or None) and (REST URL, WS URL, API key)."""
    if not settings.embedded_simulator:
        ws_url = settings.openalgo_ws_url or "ws://127.0.0.1:8765"
        return None, (settings.openalgo_url, ws_url, settings.openalgo_api_key)
    options = SimulatorOptions(
        rest_port=settings.sim_rest_port,
        ws_port=settings.sim_ws_port,
        state=settings.data_dir / SIMULATOR_STATE,  # its positions survive a restart
    )
    if settings.openalgo_api_key:  # the embedded simulator's key (/sim/admin needs it)
        options = dataclasses.replace(options, apikey=settings.openalgo_api_key)
    simulator = EmbeddedSimulator(options)
    await simulator.start()
    stack.push_async_callback(simulator.stop)
    # for docs/api.md's walkthrough: `. data/simulator.env` sets these in a shell
    write_private(
        settings.data_dir / SIMULATOR_ENV,
        f"SIM_URL={simulator.rest_url}\nSIM_WS={simulator.ws_url}\nSIM_KEY={simulator.apikey}\n",
    )
    print(
        "embedded simulator (an OpenAlgo-compatible paper broker; docs/api.md):\n"
        f"  REST     {simulator.rest_url}/api/v1/\n"
        f"  WS       {simulator.ws_url}\n"
        f"  API key  {simulator.apikey}\n"
        "           (also the X-Sim-Admin-Key header of its /sim/admin)\n"
        f"  books    {options.state} (positions and orders kept across restarts)\n"
        f"  (the same as shell variables: . {settings.data_dir / SIMULATOR_ENV})",
        flush=True,
    )
    return simulator, (simulator.rest_url, simulator.ws_url, simulator.apikey)


async def serve(
    settings: Settings,
    *,
    console: bool = True,
    extras: list[Extra] | None = None,
    started: Callable[[Running], None] | None = None,
) -> int:
    """Run tradeguard until SIGINT/SIGTERM (or `Running.stop`). Returns the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        private_directory(settings.data_dir)
        simulator, (rest_url, ws_url, apikey) = await _openalgo(settings, stack)
        url = settings.effective_database_url
        journal = journal_path(sqlite_file(url), settings.data_dir)
        checked = await asyncio.to_thread(
            check_database, url, settings.backup_dir, settings.corrupt_dir, SystemClock().now()
        )
        print(f"database check: {checked.summary}", flush=True)
        store = await SqlStore.open(url, journal=journal)
        stack.push_async_callback(store.close)
        gateway = OpenAlgoGateway(
            rest_url,
            apikey,
            timeout=settings.openalgo_timeout,
            order_timeout=settings.openalgo_order_timeout,
            rate_limits=gateway_limits(settings),
        )
        stack.push_async_callback(gateway.aclose)

        def feed_reconnected() -> None:  # order updates are not replayed: reconcile at once
            runtime.feed_reconnected()

        feed = OpenAlgoFeed(
            ws_url,
            apikey,
            on_reconnect=feed_reconnected,
            quotes=gateway.quotes,
            polling=PollingConfig(stale_after_s=min(settings.stale_after, 10.0)),
        )
        runtime = AppRuntime(
            gateway,
            feed,
            store,
            SystemClock(),
            RuntimeOptions(
                flush_interval=settings.flush_interval,
                stale_after=settings.stale_after,
                reconcile_interval=settings.reconcile_interval or None,
                exit_ack_alert=settings.exit_ack_alert,
                # used while OpenAlgo's market/timings does not answer (app.market_hours);
                # the simulator answers that its market is open all day, every day
                calendar=MarketCalendar(),
                stale_policy=settings.stale_policy,
            ),
            Failpoints(settings.failpoint),
            timings=gateway,
        )
        accounts, _ = await open_accounts(settings, store)
        if console:  # subscribed before recovery, so the trades it closes are shown
            events = await stack.enter_async_context(
                runtime.service.bus.subscribe(kinds=CONSOLE_KINDS)
            )
        result = await runtime.start()
        print(result.summary, flush=True)
        if checked.restored is not None:  # after the reconciliation with the broker
            await announce_restore(
                restore_notice(checked.restored),
                result.summary,
                engine=runtime.engine,
                broker=gateway,
                store=store,
                alerts=runtime.alerts,
                clock=runtime.clock,
            )
        log.debug("start-up heap frozen: %d objects", freeze_startup_heap())
        running = Running(runtime, stop, simulator)
        app = build_app(
            runtime.service,
            accounts,
            ApiOptions(
                rate=settings.api_rate_limit,
                burst=settings.api_rate_burst,
                trusted_proxies=trusted_networks(settings.trusted_proxies),
            ),
        )
        server = AsgiServer(
            app, settings.host, settings.port, timeout_graceful_shutdown=2, proxy_headers=False
        )
        await server.start()
        stack.push_async_callback(server.stop)
        running.extras["api"] = server
        running.extras["accounts"] = accounts
        print(f"dashboard: {server.url}/", flush=True)
        print(f"REST API: {server.url}/api/v1/ (docs: {server.url}/docs)", flush=True)
        supervise = runtime.supervisor.start  # restarted if they die; /health shows it
        tasks: list[asyncio.Task[None]] = [
            supervise("view-publisher", ViewPublisher(runtime.service).run)
        ]
        if console:
            tasks.append(supervise("console", lambda: print_events(events)))
        if simulator is not None and settings.demo:
            trader = DemoTrader(
                runtime.service,
                gateway,
                [(s, e) for s, e, _ in DEMO_SYMBOLS],
                account=DEFAULT_ACCOUNT,
            )
            tasks.append(supervise("demo-trader", trader.run))
        database_file = sqlite_file(url)
        if database_file is not None:
            backups = BackupLoop(
                database_file,
                settings.backup_dir,
                interval=settings.backup_interval,
                keep=settings.backup_keep,
                clock=runtime.clock,
                alerts=runtime.alerts,
            )
            running.extras["backups"] = backups
            tasks.append(supervise("db-backup", backups.run))
        for extra in extras or []:
            tasks.append(asyncio.create_task(extra(running)))
        if started is not None:
            started(running)
        log.info("tradeguard running (Ctrl+C to stop)")
        await stop.wait()
        log.info("stopping: flushing state and closing connections")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.stop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)
    log.info("stopped cleanly")
    return 0
