"""Composition root: wires adapters into the app and the interfaces. Only this module imports
every layer.

It builds the CLI's commands: `run` (bootstrap.service), `sim` (bootstrap.simulator),
`db upgrade`, and `replay` / `demo` from the replay adapters (tick CSV reader, TOML loader).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from tradeguard.adapters.db import migrate
from tradeguard.adapters.replay.config_toml import ConfigFileError, load_replay_config
from tradeguard.adapters.replay.ticks_csv import TickFileError, read_ticks
from tradeguard.adapters.sim.embedded import SimulatorOptions
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
        from tradeguard.bootstrap.service import configure_logging, serve

        settings = _settings()
        configure_logging(settings.log_level)
        return asyncio.run(serve(settings))

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
        parser.add_argument("--tick-rate", type=float, default=4.0, help="steps per second")

    def run(args: argparse.Namespace, out: TextIO) -> int:
        from tradeguard.bootstrap.service import configure_logging
        from tradeguard.bootstrap.simulator import serve_simulator

        configure_logging("INFO")
        options = SimulatorOptions(
            host=args.host,
            rest_port=args.rest_port,
            ws_port=args.ws_port,
            seed=args.seed,
            walk=not args.no_walk,
            ticks_per_second=args.tick_rate,
        )
        if args.apikey:
            options.apikey = args.apikey
        return asyncio.run(serve_simulator(options))

    return cli.Command(
        "sim", "serve the OpenAlgo-compatible simulator (REST + WebSocket)", configure, run
    )


def db_command() -> cli.Command:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=["upgrade", "current"])

    def run(args: argparse.Namespace, out: TextIO) -> int:
        settings = _settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.effective_database_url
        if args.action == "upgrade":
            migrate.upgrade(url)
        out.write(f"database at revision {migrate.current(url)}\n")
        return 0

    return cli.Command("db", "database schema: `db upgrade` or `db current`", configure, run)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(sys.argv[1:] if argv is None else argv, commands())
