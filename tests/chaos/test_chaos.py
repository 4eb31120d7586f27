"""Tests (chaos): a bounded kill -9 and fault campaign (tests.chaos.campaign) on SQLite and on
PostgreSQL: every violation count of tradeguard's promise is zero.

Bounded for CI: up to CHAOS_CI_CYCLES cycles (default 25) per database, and no new cycle after
CHAOS_CI_BUDGET seconds (default 45); at least CHAOS_CI_MIN_CYCLES (default 4) must run. The
seed is TRADEGUARD_TEST_SEED, or drawn and printed. The long campaign is `make chaos`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.chaos.campaign import Campaign, Options
from tests.chaos.lab import postgres_problem
from tests.chaos.report import table, write_json

CYCLES = int(os.environ.get("CHAOS_CI_CYCLES", "25"))
BUDGET = float(os.environ.get("CHAOS_CI_BUDGET", "45"))
MIN_CYCLES = min(CYCLES, int(os.environ.get("CHAOS_CI_MIN_CYCLES", "4")))


def need(database: str) -> None:
    if database != "postgresql":
        return
    problem = postgres_problem()
    if problem is not None:
        if os.environ.get("TRADEGUARD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"TRADEGUARD_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_kill_9_and_faults_lose_nothing_and_exit_once(database: str, tmp_path: Path) -> None:
    need(database)
    seed = int(os.environ.get("TRADEGUARD_TEST_SEED") or random.randrange(100_000))
    print(f"TRADEGUARD_TEST_SEED={seed}")
    result = Campaign(Options(CYCLES, database, seed, BUDGET), tmp_path).run()
    write_json([result], tmp_path / "chaos.json")
    print(table([result]))
    assert result.cycles >= MIN_CYCLES, result.notes
    assert result.unhealthy_restarts == 0, result.notes
    assert result.violations == dict.fromkeys(result.violations, 0), "\n".join(result.details)
