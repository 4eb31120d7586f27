"""Composition root: wires adapters into the app and the interfaces. Only this module imports
every layer.

It builds the CLI's commands: `run` (bootstrap.service), `sim` (bootstrap.simulator),
`db upgrade`, and `replay` / `demo` from the replay adapters (tick CSV reader, TOML loader).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from tradeguard.adapters.db import migrate
from tradeguard.adapters.db.connect import private_directory
from tradeguard.adapters.db.integrity import DatabaseCheckError
from tradeguard.adapters.replay.config_toml import ConfigFileError, load_replay_config
from tradeguard.adapters.replay.ticks_csv import TickFileError, read_ticks
from tradeguard.adapters.sim.embedded import (
    SimulatorOptions,
    SimulatorSetupError,
    walk_settings,
)
from tradeguard.adapters.sim.faults import (
    FAIL_MODES,
    ORDER_REPLY_MODES,
    FaultSpecError,
    StartFaults,
)
from tradeguard.adapters.sim.timing import TimingConfig, TimingSpecError, timing_config
from tradeguard.bootstrap import loop
from tradeguard.bootstrap.sim_timing import add_timing_flags, timing_spec
from tradeguard.config import Settings, SettingsError, load_settings
from tradeguard.interfaces import cli


def examples_dir() -> Path:
    """`./examples` when run from a checkout's root, else the one next to the source tree."""
    here = Path("examples")
    if (here / "ticks.csv").is_file():
        return here
    return Path(__file__).resolve().parents[3] / "examples"


def commands() -> list[cli.Command]:
    examples = examples_dir()
    loaders = cli.ReplayLoaders(
        read_ticks=read_ticks,
        load_setup=load_replay_config,
        input_errors=(TickFileError, ConfigFileError),
        demo_ticks=examples / "ticks.csv",
        demo_config=examples / "strategies.toml",
    )
    return [run_command(), sim_command(), db_command(), *cli.replay_commands(loaders)]


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise cli.CommandError(str(error)) from None


def run_command() -> cli.Command:
    def run(args: argparse.Namespace, out: TextIO) -> int:
        from tradeguard.bootstrap.service import serve
        from tradeguard.bootstrap.terminal import configure_logging

        settings = _settings()
        configure_logging(
            settings.log_level, console=True, embedded_simulator=settings.embedded_simulator
        )
        try:
            return loop.run(serve(settings))
        except DatabaseCheckError as error:
            raise cli.CommandError(f"database: {error}") from None

    return cli.Command(
        "run",
        "guard positions: monitor, API and dashboard (embedded simulator unless "
        "TRADEGUARD_OPENALGO_URL is set)",
        lambda parser: None,
        run,
    )


def sim_command() -> cli.Command:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--rest-port", type=int, default=5000)
        parser.add_argument("--ws-port", type=int, default=8765)
        parser.add_argument("--apikey", default="", help="default: a random 64-hex key")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-walk", action="store_true", help="prices move only by admin")
        parser.add_argument(
            "--state",
            type=Path,
            metavar="FILE",
            help="keep positions, orders, trades and last prices in FILE across restarts "
            "(created 0600; default: forgotten on exit)",
        )
        parser.add_argument(
            "--tick-rate",
            type=float,
            default=4.0,
            metavar="N",
            help="random-walk steps per second per symbol (default 4)",
        )
        parser.add_argument(
            "--drift-bps",
            type=_decimal,
            default=Decimal(0),
            metavar="BP",
            help="mean return of each walk step in basis points of the price, e.g. 0.5 "
            "(a rising market) or -0.5 (falling); default 0",
        )
        parser.add_argument(
            "--volatility-bps",
            type=_decimal,
            default=Decimal(8),
            metavar="BP",
            help="standard deviation of each walk step in basis points of the price (default 8)",
        )
        parser.add_argument(
            "--ws-outbox",
            type=_count,
            default=4096,
            metavar="N",
            help="messages queued per WebSocket client before it is cut off as too slow",
        )
        parser.add_argument(
            "--replay",
            type=Path,
            metavar="FILE",
            help="replay a tick CSV (timestamp,symbol,exchange,ltp) instead of the random walk",
        )
        parser.add_argument(
            "--replay-speed",
            type=float,
            default=1.0,
            metavar="X",
            help="replay X times faster than the file's timestamps (0: as fast as possible)",
        )
        faults = parser.add_argument_group(
            "faults at start",
            "change or clear them at run time with POST /sim/admin/faults and /sim/admin/feed",
        )
        faults.add_argument(
            "--delay-ms", type=_count, default=0, metavar="N", help="every REST call N ms slower"
        )
        faults.add_argument("--fail", choices=FAIL_MODES, help="REST calls fail this way")
        faults.add_argument(
            "--fail-count",
            type=_count,
            metavar="N",
            help="only the next N calls fail (default: until cleared)",
        )
        faults.add_argument(
            "--fail-endpoints",
            metavar="A,B",
            help="only these endpoints fail, e.g. placeorder,ping",
        )
        faults.add_argument(
            "--reject-orders",
            metavar="MESSAGE",
            help="the broker rejects orders at submit: HTTP 400 with MESSAGE",
        )
        faults.add_argument(
            "--reject-count",
            type=_count,
            metavar="N",
            help="reject only the next N orders (default: every order)",
        )
        faults.add_argument(
            "--fill-late",
            action="store_true",
            help="accept orders as open; fill them only when released",
        )
        faults.add_argument(
            "--semi-auto",
            action="store_true",
            help="queue orders for approval: success without an orderid",
        )
        faults.add_argument(
            "--session-down",
            action="store_true",
            help="broker session down (daily re-login): every REST call 403, WebSocket "
            "authenticate BROKER_ERROR, no ticks",
        )
        faults.add_argument(
            "--order-reply",
            choices=ORDER_REPLY_MODES,
            help="orders are placed but the reply is lost: 'late' (after --order-reply-delay-ms,"
            " so the client times out) or '500'",
        )
        faults.add_argument(
            "--order-reply-count",
            type=_count,
            metavar="N",
            help="only the next N placed orders (default: until cleared)",
        )
        faults.add_argument(
            "--order-reply-delay-ms",
            type=_count,
            metavar="N",
            help="how late a 'late' reply comes (default 30000)",
        )
        faults.add_argument(
            "--stale-feed", action="store_true", help="WebSocket stays open but sends no ticks"
        )
        faults.add_argument("--duplicate-ticks", action="store_true", help="send every tick twice")
        faults.add_argument(
            "--duplicate-orders", action="store_true", help="send every order update twice"
        )
        add_timing_flags(parser)

    def run(args: argparse.Namespace, out: TextIO) -> int:
        from tradeguard.bootstrap.simulator import serve_simulator
        from tradeguard.bootstrap.terminal import configure_logging

        options = sim_options(args)
        configure_logging("INFO")
        try:
            return loop.run(serve_simulator(options))
        except SimulatorSetupError as error:
            raise cli.CommandError(str(error)) from None

    return cli.Command(
        "sim", "serve the OpenAlgo-compatible simulator (REST + WebSocket)", configure, run
    )


def sim_options(args: argparse.Namespace) -> SimulatorOptions:
    """`tradeguard sim`'s parsed flags as SimulatorOptions (fault flags as StartFaults)."""
    if args.fail is None and (args.fail_count is not None or args.fail_endpoints):
        raise cli.CommandError("--fail-count and --fail-endpoints need --fail")
    if args.reject_orders is None and args.reject_count is not None:
        raise cli.CommandError("--reject-count needs --reject-orders")
    if args.order_reply is None and (
        args.order_reply_count is not None or args.order_reply_delay_ms is not None
    ):
        raise cli.CommandError("--order-reply-count and --order-reply-delay-ms need --order-reply")
    if args.replay_speed < 0:
        raise cli.CommandError("--replay-speed must be >= 0")
    endpoints = (args.fail_endpoints or "").split(",")
    try:
        faults = StartFaults(
            delay_ms=args.delay_ms,
            fail=args.fail,
            fail_count=args.fail_count,
            fail_endpoints=tuple(e.strip() for e in endpoints if e.strip()),
            reject_message=args.reject_orders,
            reject_count=args.reject_count,
            fill_late=args.fill_late,
            semi_auto=args.semi_auto,
            session_down=args.session_down,
            order_reply=args.order_reply,
            order_reply_count=args.order_reply_count,
            order_reply_delay_ms=args.order_reply_delay_ms,
            stale_feed=args.stale_feed,
            duplicate_ticks=args.duplicate_ticks,
            duplicate_orders=args.duplicate_orders,
        )
    except FaultSpecError as error:
        raise cli.CommandError(str(error)) from None
    options = SimulatorOptions(
        host=args.host,
        rest_port=args.rest_port,
        ws_port=args.ws_port,
        seed=args.seed,
        walk=not args.no_walk,
        ticks_per_second=args.tick_rate,
        drift_bps=args.drift_bps,
        volatility_bps=args.volatility_bps,
        replay=args.replay,
        replay_speed=args.replay_speed,
        faults=faults,
        ws_max_outbox=max(1, args.ws_outbox),
        timing=timing_spec(args),
        state=args.state,
    )
    if args.apikey:
        options.apikey = args.apikey
    try:
        walk_settings(options)  # drift, volatility and tick rate in range: a usage error now
        timing_config(TimingConfig(), options.timing)  # the timing flags too
    except (SimulatorSetupError, TimingSpecError) as error:
        raise cli.CommandError(str(error)) from None
    return options


def _count(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, was {value}")
    return value


def _decimal(text: str) -> Decimal:
    """argparse type: a decimal number (its range is the simulator's to check)."""
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def db_command() -> cli.Command:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=["upgrade", "current"])

    def run(args: argparse.Namespace, out: TextIO) -> int:
        settings = _settings()
        private_directory(settings.data_dir)
        url = settings.effective_database_url
        if args.action == "upgrade":
            migrate.upgrade(url)
        out.write(f"database at revision {migrate.current(url)}\n")
        return 0

    return cli.Command("db", "database schema: `db upgrade` or `db current`", configure, run)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(sys.argv[1:] if argv is None else argv, commands())
