"""Benchmarks: `python -m benchmarks` runs every benchmark and prints a results table.

`--update-docs` also rewrites the "## Engine" section of docs/performance.md (other sections
are kept). `--ticks` / `--naive-ticks` shrink the run for a quick look.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from benchmarks import engine

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


def section(result: engine.EngineResult, command: str) -> str:
    return (
        "## Engine\n\n"
        f"Machine: {machine()}.\n\n"
        f"Command: `{command}` (benchmarks/engine.py; workload in benchmarks/workload.py).\n\n"
        f"{table(result)}\n"
    )


def update_doc(text: str) -> None:
    if DOC.exists():
        current = DOC.read_text(encoding="utf-8")
        pattern = re.compile(r"^## Engine\n.*?(?=^## |\Z)", re.S | re.M)
        if pattern.search(current):
            new = pattern.sub(lambda _: text + "\n", current, count=1)
        else:
            new = current.rstrip("\n") + "\n\n" + text
    else:
        new = "# Performance\n\n" + text
    DOC.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--ticks", type=int, default=engine.N_TICKS)
    parser.add_argument("--naive-ticks", type=int, default=engine.NAIVE_TICKS)
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite {DOC.name}")
    args = parser.parse_args(argv)
    print(f"engine benchmark: {args.ticks:,} ticks ...", flush=True)
    result = engine.run(args.ticks, args.naive_ticks)
    print(f"Machine: {machine()}")
    width = max(len(a) for a, _, _ in rows(result))
    for a, b, c in rows(result):
        print(f"  {a.ljust(width)}  {b}" + (f"   ({c})" if c else ""))
    if args.update_docs:
        command = "make bench" if not argv else f"python -m benchmarks {' '.join(argv)}"
        update_doc(section(result, command))
        print(f"wrote the Engine section of {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
