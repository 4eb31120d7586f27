"""Composition root: wires adapters into the app and the interfaces. Only this module imports
every layer.

For now it builds the CLI's `replay` and `demo` commands from the replay adapters (tick CSV
reader, TOML loader). Later commands (`run`, `sim`, `db upgrade`) are added to `commands()`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tradeguard.adapters.replay.config_toml import ConfigFileError, load_replay_config
from tradeguard.adapters.replay.ticks_csv import TickFileError, read_ticks
from tradeguard.interfaces import cli


def examples_dir() -> Path:
    """`./examples` when run from a checkout's root, else the one next to the source tree."""
    here = Path("examples")
    if (here / "ticks.csv").is_file():
        return here
    return Path(__file__).resolve().parents[2] / "examples"


def commands() -> list[cli.Command]:
    examples = examples_dir()
    loaders = cli.ReplayLoaders(
        read_ticks=read_ticks,
        load_setup=load_replay_config,
        input_errors=(TickFileError, ConfigFileError),
        demo_ticks=examples / "ticks.csv",
        demo_config=examples / "strategies.toml",
    )
    return [*cli.replay_commands(loaders)]


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(sys.argv[1:] if argv is None else argv, commands())
