"""Interfaces layer: the `tradeguard` command line (argparse).

The CLI never imports adapters: bootstrap (the composition root) builds the `Command`s with
their dependencies wired in and calls `main(argv, commands)`. A new subcommand is one more
`Command` (a name, a help line, a function that adds its arguments, a function that runs it);
nested ones such as `db upgrade` add their own subparsers in `configure`.

Bad input (a file that cannot be read or replayed, a bad argument) prints one line to stderr
and exits 2, never a traceback. `CommandError` is how a command reports it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TextIO

from tradeguard import __version__
from tradeguard.app.replay import ReplayError, ReplaySetup, run_replay
from tradeguard.core.model import Tick
from tradeguard.interfaces.replay_report import render_report

PROG = "tradeguard"
EXIT_USAGE = 2


class CommandError(Exception):
    """Bad input for a command: printed as one line on stderr, exit status 2."""


class _UsageError(CommandError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (and no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see --help)")


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO], int]


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Tick-by-tick exit guard for OpenAlgo traders.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for command in commands:
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(child)
        child.set_defaults(handler=command.run)
    return parser


def main(
    argv: Sequence[str] | None,
    commands: Sequence[Command],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Parse `argv`, run the chosen command, return the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        args = build_parser(commands).parse_args(argv)
        handler: Callable[[argparse.Namespace, TextIO], int] = args.handler
        return handler(args, out)
    except CommandError as error:
        print(f"{PROG}: error: {error}", file=err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 130


# -- replay and demo ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayLoaders:
    """What `replay` and `demo` need from outside, wired by bootstrap.

    `input_errors`: the exception types the loaders raise for a bad file (their messages
    already name the file and line or field)."""

    read_ticks: Callable[[Path], Sequence[Tick]]
    load_setup: Callable[[Path], ReplaySetup]
    input_errors: tuple[type[Exception], ...]
    demo_ticks: Path
    demo_config: Path


def replay_commands(loaders: ReplayLoaders) -> list[Command]:
    """The `replay` and `demo` subcommands."""

    def configure_replay(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("ticks", type=Path, metavar="TICKS.csv", help="tick file to replay")
        parser.add_argument(
            "--config",
            "-c",
            type=Path,
            required=True,
            metavar="STRATEGY.toml",
            help="strategies and trades to guard",
        )

    def run_replay_command(args: argparse.Namespace, out: TextIO) -> int:
        out.write(_replay(loaders, args.ticks, args.config))
        return 0

    def run_demo(args: argparse.Namespace, out: TextIO) -> int:
        out.write(_replay(loaders, loaders.demo_ticks, loaders.demo_config))
        return 0

    return [
        Command(
            "replay",
            "replay a tick file through the risk engine and report every exit",
            configure_replay,
            run_replay_command,
        ),
        Command(
            "demo",
            "replay the bundled example (examples/ticks.csv + examples/strategies.toml)",
            lambda parser: None,
            run_demo,
        ),
    ]


def _replay(loaders: ReplayLoaders, ticks_path: Path, config_path: Path) -> str:
    bad_input: tuple[type[Exception], ...] = (ReplayError, *loaders.input_errors)
    try:
        setup = loaders.load_setup(config_path)
        ticks = loaders.read_ticks(ticks_path)
        report = run_replay(setup.strategies, setup.trades, ticks)
    except OSError as error:
        name = error.filename if error.filename is not None else ""
        raise CommandError(f"cannot read {name}: {error.strerror or error}") from None
    except bad_input as error:
        raise CommandError(str(error)) from None
    return render_report(report, ticks=str(ticks_path), config=str(config_path))
