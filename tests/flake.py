"""Tests tooling: run the suite (or part of it) N times, in random order, under CPU load, and
report every failure with its test id. `make flake` runs it on the whole suite.

    python -m tests.flake [--runs N] [--no-load] [--logs DIR] [-- pytest args...]

Each run is a fresh pytest process with pytest-randomly's order (a new seed per run, printed
so a failing order can be replayed with `pytest -p randomly --randomly-seed=SEED`).
Meanwhile one busy loop per CPU core competes with the tests for the machine, as other work
on a shared CI host does; the loops stop at the end (also on SIGINT or SIGTERM).
The summary lists each failing test id with the runs (and seeds) it failed in; the exit code
is 1 when any run failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path


def _spin() -> None:  # pragma: no cover - runs in the load processes
    """Burn one core until terminated."""
    os.nice(5)  # the tests still get some CPU: this is contention, not starvation
    x = 0
    while True:
        x = (x * 31 + 7) % 1_000_003


@contextmanager
def cpu_load(cores: int) -> Iterator[list[BaseProcess]]:
    """One busy process per core while the block runs; all of them stopped at the end."""
    context = multiprocessing.get_context("spawn")
    spinners = [context.Process(target=_spin, daemon=True) for _ in range(cores)]
    for spinner in spinners:
        spinner.start()
    try:
        yield list(spinners)
    finally:
        for spinner in spinners:
            spinner.terminate()
        for spinner in spinners:
            spinner.join(timeout=5)


@dataclass
class Run:
    number: int
    seed: int
    code: int
    seconds: float
    failed: list[str] = field(default_factory=list)
    summary: str = ""


def _test_id(case: ET.Element) -> str:
    """`path/to/test_x.py::test_name` from a junit testcase (classname is dotted)."""
    classname = case.get("classname", "")
    name = case.get("name", "")
    if not classname:  # a collection error: the name is the module's dotted path
        return name
    parts = classname.split(".")
    # the module is the longest dotted prefix that is a file; the rest are classes
    for cut in range(len(parts), 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if path.exists():
            return "::".join([path.as_posix(), *parts[cut:], name])
    return f"{classname}::{name}"


def failures(junit: Path) -> list[str]:
    """Test ids that failed or errored in a junit XML report (setup/teardown errors too)."""
    if not junit.exists():
        return []
    found: list[str] = []
    for case in ET.parse(junit).iter("testcase"):
        for outcome in ("failure", "error"):
            if case.find(outcome) is not None:
                found.append(f"{_test_id(case)} ({outcome})")
    return found


def one_run(number: int, seed: int, pytest_args: list[str], logs: Path) -> Run:
    junit = logs / f"run{number}.xml"
    log = logs / f"run{number}.log"
    command = [sys.executable, "-m", "pytest", "-p", "randomly", f"--randomly-seed={seed}"]
    command += [f"--junitxml={junit}", "-p", "no:cacheprovider"]
    command += pytest_args
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    lines = log.read_text(errors="replace").strip().splitlines()
    closing = [line for line in lines if re.search(r"\d+ (passed|failed|errors?)\b", line)]
    run = Run(number, seed, code, seconds, failures(junit), closing[-1] if closing else "")
    if code not in (0, 5) and not run.failed:  # crashed, interrupted, or a collection error
        run.failed.append(f"<pytest exited {code}: see {log}>")
    return run


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds: the busy loops are stopped


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)  # a background job starts with SIGINT ignored
    parser = argparse.ArgumentParser(prog="python -m tests.flake", description=__doc__)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("FLAKE_RUNS", "10")))
    parser.add_argument("--load", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--logs", type=Path, default=None, help="keep each run's log here")
    args = sys.argv[1:] if argv is None else argv
    cut = args.index("--") if "--" in args else len(args)
    options = parser.parse_args(args[:cut])
    options.pytest_args = args[cut + 1 :]  # after `--`: pytest's own arguments, as they are
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    logs = options.logs or Path(tempfile.mkdtemp(prefix="tradeguard-flake-"))
    logs.mkdir(parents=True, exist_ok=True)
    seeds = random.SystemRandom()
    runs: list[Run] = []
    load = cpu_load(options.cores) if options.load else _nothing()
    print(
        f"flake: {options.runs} runs of pytest {' '.join(options.pytest_args) or '(suite)'}, "
        f"random order, {f'{options.cores} busy cores' if options.load else 'no load'}; "
        f"logs in {logs}",
        flush=True,
    )
    with load:
        for number in range(1, options.runs + 1):
            run = one_run(number, seeds.randrange(2**32), options.pytest_args, logs)
            runs.append(run)
            verdict = "ok" if not run.failed else f"{len(run.failed)} FAILED"
            print(
                f"run {number}/{options.runs} seed={run.seed} {run.seconds:.0f}s {verdict}: "
                f"{run.summary}",
                flush=True,
            )
            for test in run.failed:
                print(f"    {test}", flush=True)
    return report(runs, logs)


@contextmanager
def _nothing() -> Iterator[list[BaseProcess]]:
    yield []


def report(runs: list[Run], logs: Path) -> int:
    by_test: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        for test in run.failed:
            by_test[test].append(run)
    failed_runs = sum(1 for run in runs if run.failed)
    print(f"\nflake summary: {failed_runs} of {len(runs)} runs failed", flush=True)
    for test, where in sorted(by_test.items()):
        at = ", ".join(f"run {r.number} (seed {r.seed})" for r in where)
        print(f"  {test}: {len(where)}x: {at}")
    if failed_runs:
        print(f"logs: {logs}")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
