"""Benchmarks: `python -m benchmarks` runs every benchmark and prints a results table.

`--update-docs` also rewrites the "## Engine" and "## End to end (OpenAlgo over loopback)"
sections of docs/performance.md (other sections are kept). `--ticks` / `--naive-ticks` /
`--e2e-trades` shrink the runs for a quick look; `--only engine|e2e|api|recovery|journal` runs
one of them (api: benchmarks/api.py, section "## API"; journal: benchmarks/journal.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from benchmarks import api, e2e, engine, journal, recovery

GOALS = {"ticks_per_s": 250_000, "p99_us": 20.0, "memory_mb": 200.0}
DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} logical CPUs; Python {platform.python_version()} "
        f"({platform.python_implementation()}) on {platform.system()} {platform.release()}"
    )


def rows(result: engine.EngineResult) -> list[tuple[str, str, str]]:
    def ok(passed: bool) -> str:
        return "met" if passed else "MISSED"

    us = 1_000.0
    return [
        (
            "workload",
            f"{result.trades:,} trades, {result.symbols:,} symbols, "
            f"{result.strategies} strategies, {result.ticks:,} ticks",
            "",
        ),
        ("setup (add 10,000 trades)", f"{result.setup_s:.2f} s", ""),
        (
            "throughput",
            f"{result.ticks_per_s:,.0f} ticks/s",
            f"goal >= {GOALS['ticks_per_s']:,} ticks/s: "
            f"{ok(result.ticks_per_s >= GOALS['ticks_per_s'])}",
        ),
        ("latency p50", f"{result.p50_ns / us:.1f} us", ""),
        (
            "latency p99",
            f"{result.p99_ns / us:.1f} us",
            f"goal < {GOALS['p99_us']:.0f} us: {ok(result.p99_ns / us < GOALS['p99_us'])}",
        ),
        ("latency p99.9 / max", f"{result.p999_ns / us:.1f} us / {result.max_ns / us:,.0f} us", ""),
        ("timer overhead (per sample)", f"{result.timer_ns} ns", "included in the latencies"),
        (
            "peak RSS",
            f"{result.rss_peak_mb:.0f} MB (workload alone: {result.rss_before_mb:.0f} MB; "
            f"whole run incl. 1M latency samples: {result.rss_end_mb:.0f} MB)",
            f"goal < {GOALS['memory_mb']:.0f} MB: {ok(result.rss_peak_mb < GOALS['memory_mb'])}",
        ),
        (
            "exits / level changes",
            f"{result.exits:,} / {result.level_changes:,}",
            f"{100 * result.exits / result.trades:.1f}% of trades exited",
        ),
        (
            f"naive rescan ({result.naive_ticks:,} ticks)",
            f"{result.naive_ticks_per_s:,.0f} ticks/s",
            f"engine on the same prefix: {result.engine_prefix_ticks_per_s:,.0f} ticks/s",
        ),
        ("engine / naive", f"{result.naive_ratio:,.0f}x", "full-run engine rate / naive rate"),
    ]


def table(result: engine.EngineResult) -> str:
    lines = ["| measure | result | note |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(result)]
    return "\n".join(lines)


WHY_FAST = """\
What makes it fast (core/engine.py, core/symbols.py, core/trade.py, core/levels.py):

- **Quiet bands, per trade and per symbol.** A trade's band is bounded by its stop, its target
  and its *wake* price (the first price at which a trailing or breakeven level can move); the
  symbol's band is the intersection over its watched trades. Most ticks fall inside it and
  touch no trade at all.
- **Incremental per-strategy P&L buckets.** Each symbol keeps one bucket (net quantity, cost) per
  strategy, so a tick updates each strategy's day P&L in O(1) and checks it against the
  strategy's own band; nothing rescans trades.
- **Integer money.** Prices and amounts are integers of 1/10,000 rupee.
- **Integer level math.** Every rule distance is resolved once per trade when its rules are
  installed (entry is fixed): activation and breakeven thresholds as ceil-ed ints, the breakeven
  level itself, trailing distances and steps as integer ratios. Trailing stops are then computed
  with `//` only, bit-identical to the Fraction reference in rules.py (proved by hypothesis in
  tests/unit/core/test_fast_levels.py).
- **Lazy best price.** Trades whose levels cannot move at the current price (no trail, breakeven
  absent or armed, trail not yet activated or between steps) are not evaluated on a new best
  price. The symbol keeps its running high/low since the last reset; a trade folds it into
  `best` when read or evaluated, and `RiskEngine.sync_best()` (run when `dirty_trades` is read)
  marks the moved ones for the next flush.
- **Few allocations.** `on_tick` returns None when nothing happened, `Decisions` are created only
  when something is decided, `LevelChange` is a NamedTuple, and the symbol band is refreshed
  while its trades are evaluated.
"""


def load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} (1 min) / {five:.2f} (5 min)"


def section(result: engine.EngineResult, command: str, load_avg: str) -> str:
    return (
        "## Engine\n\n"
        f"Machine: {machine()}. Load average when the run started: {load_avg}.\n\n"
        f"Command: `{command}` (benchmarks/engine.py; workload in benchmarks/workload.py).\n\n"
        f"{table(result)}\n\n"
        f"{WHY_FAST}"
    )


E2E_TITLE = "## End to end (OpenAlgo over loopback)"


def table_section(
    title: str, rows: list[tuple[str, str, str]], command: str, method: str, notes: str = ""
) -> str:
    """A "## ..." section: machine, command, the results table, then any notes."""
    lines = ["| measure | result | note |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = f"{title}\n\nMachine: {machine()}.\n\nCommand: `{command}` ({method}).\n\n"
    text += "\n".join(lines) + "\n"
    return text + ("\n" + notes if notes else "")


def e2e_section(result: e2e.E2EResult, command: str) -> str:
    method = "benchmarks/e2e.py; method in its docstring"
    return table_section(E2E_TITLE, e2e.rows(result), command, method, e2e.NOTES)


def update_doc(text: str, title: str = "## Engine") -> None:
    if DOC.exists():
        current = DOC.read_text(encoding="utf-8")
        pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
        if pattern.search(current):
            new = pattern.sub(lambda _: text + "\n", current, count=1)
        else:
            new = current.rstrip("\n") + "\n\n" + text
    else:
        new = "# Performance\n\n" + text
    DOC.write_text(new, encoding="utf-8")


def _print(table_rows: list[tuple[str, str, str]]) -> None:
    width = max(len(a) for a, _, _ in table_rows)
    for a, b, c in table_rows:
        print(f"  {a.ljust(width)}  {b}" + (f"   ({c})" if c else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--ticks", type=int, default=engine.N_TICKS)
    parser.add_argument("--naive-ticks", type=int, default=engine.NAIVE_TICKS)
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite {DOC.name}")
    parser.add_argument("--e2e-trades", type=int, default=e2e.N_TRADES)
    parser.add_argument("--only", choices=["engine", "e2e", "api", "recovery", "journal"])
    args = parser.parse_args(argv)
    command = "make bench" if not argv else f"python -m benchmarks {' '.join(argv)}"
    print(f"Machine: {machine()}")
    load_avg = load()
    if args.only in (None, "engine"):
        print(f"engine benchmark: {args.ticks:,} ticks ...", flush=True)
        result = engine.run(args.ticks, args.naive_ticks)
        _print(rows(result))
        if args.update_docs:
            update_doc(section(result, command, load_avg))
            print(f"wrote the Engine section of {DOC}")
    if args.only in (None, "e2e"):
        print(f"end-to-end benchmark: {args.e2e_trades:,} trades ...", flush=True)
        result_e2e = e2e.run(args.e2e_trades)
        _print(e2e.rows(result_e2e))
        if args.update_docs:
            update_doc(e2e_section(result_e2e, command), E2E_TITLE)
            print(f"wrote the end-to-end section of {DOC}")
    if args.only in (None, "api"):
        print(f"API benchmark: {api.N_TRADES:,} trades, {api.CLIENTS} clients ...", flush=True)
        result_api = api.run()
        _print(api.rows(result_api))
        if args.update_docs:
            update_doc(api_section(result_api, command), API_TITLE)
            print(f"wrote the API section of {DOC}")
    if args.only in (None, "recovery"):
        print("persistence and recovery benchmark: 10,000 trades ...", flush=True)
        result_recovery = recovery.run()
        _print(recovery.rows(result_recovery))
        if args.update_docs:
            update_doc(recovery_section(result_recovery, command), RECOVERY_TITLE)
            print(f"wrote the persistence and recovery section of {DOC}")
    if args.only in (None, "journal"):
        print(f"journal benchmark: {journal.N} exit intents each ...", flush=True)
        result_journal = journal.run()
        _print(journal.rows(result_journal))
        if args.update_docs:
            update_doc(journal_section(result_journal, command), JOURNAL_TITLE)
            print(f"wrote the journal section of {DOC}")
    return 0


JOURNAL_TITLE = "## Write-ahead journal (an exit during a database outage)"


def journal_section(result: journal.JournalResult, command: str) -> str:
    method = "benchmarks/journal.py; method in its docstring"
    return table_section(JOURNAL_TITLE, journal.rows(result), command, method, journal.NOTES)


RECOVERY_TITLE = "## Persistence and recovery"


def recovery_section(result: recovery.RecoveryNumbers, command: str) -> str:
    method = "benchmarks/recovery.py; method in its docstring"
    return table_section(RECOVERY_TITLE, recovery.rows(result), command, method, recovery.NOTES)


API_TITLE = "## API"


def api_section(result: api.ApiResult, command: str) -> str:
    method = (
        "benchmarks/api.py: one process, one event loop: simulator, monitor, store and the API "
        "app on uvicorn over loopback"
    )
    return table_section(API_TITLE, api.rows(result), command, method, api.NOTES)


if __name__ == "__main__":
    sys.exit(main())
