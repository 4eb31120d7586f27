"""Chaos campaign runner: `python -m tests.chaos --cycles 200 --database sqlite --seed 7`.

Runs the campaign (tests.chaos.campaign) once per database asked for, prints each cycle and a
summary table (cycles, acknowledged trades, each violation count, kill -9 -> guarding-again
p50/p99), writes everything as JSON, and exits 1 if any violation was found.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos.campaign import Campaign, Options
from tests.chaos.faults import MENU, parse_extra
from tests.chaos.lab import postgres_problem
from tests.chaos.report import Result, table, write_json


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    p.add_argument("--cycles", type=int, default=25, help="kill -9 cycles per database")
    p.add_argument(
        "--database",
        action="append",
        choices=["sqlite", "postgresql"],
        help="repeat for both (default: sqlite and postgresql)",
    )
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    p.add_argument(
        "--budget", type=float, default=0.0, metavar="S",
        help="per database: start no new cycle after S seconds (0: no limit)",
    )  # fmt: skip
    p.add_argument(
        "--faults",
        default=",".join(MENU),
        help=f"comma-separated fault names (default: all of {', '.join(MENU)})",
    )
    p.add_argument(
        "--extra-fault",
        action="append",
        default=[],
        metavar='NAME={"path": "/sim/admin/...", "on": {...}}',
        help="one more simulator fault by its admin body (repeatable)",
    )
    p.add_argument("--json", type=Path, default=Path("chaos-results.json"))
    p.add_argument("--workdir", type=Path, help="keep logs here (default: a temporary dir)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = [n.strip() for n in args.faults.split(",") if n.strip()]
    unknown = [n for n in names if n not in MENU]
    if unknown:
        parser().error(f"unknown fault(s): {', '.join(unknown)}")
    try:
        extra = [parse_extra(spec) for spec in args.extra_fault]
    except ValueError as error:
        parser().error(str(error))
    faults = [MENU[n] for n in names] + extra
    results: list[Result] = []
    for database in args.database or ["sqlite", "postgresql"]:
        if database == "postgresql" and (problem := postgres_problem()) is not None:
            if args.database:  # asked for by name: required
                print(f"postgresql asked for but {problem}", file=sys.stderr)
                return 2
            print(f"skipping postgresql: {problem}", file=sys.stderr)
            continue
        options = Options(args.cycles, database, args.seed, args.budget, faults=faults)
        with tempfile.TemporaryDirectory(prefix=f"chaos-{database}-") as tmp:
            workdir = args.workdir / database if args.workdir else Path(tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            results.append(Campaign(options, workdir, log=sys.stdout).run())
        write_json(results, args.json)
    print()
    print(table(results))
    for result in results:
        for note in result.notes:
            print(f"note ({result.database}): {note}")
        print(
            f"also ({result.database}): {len(result.guarded_twice)} entries guarded by two "
            f"trades or more, {len(result.stuck_exiting)} trades still EXITING, overguarded "
            f"{result.overguarded or 0}, {result.unhealthy_restarts} restarts never healthy"
        )
    print(f"seed {args.seed}; details in {args.json}")
    return 1 if any(any(r.violations.values()) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
