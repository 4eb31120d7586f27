"""Fixtures for the recovery tests: a simulator subprocess and a tradeguard on it, every
process killed in teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.recovery.procs import Cluster, Guard, Sim


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    sim = Sim(tmp_path)
    guard = Guard(sim, tmp_path)
    running = Cluster(sim, guard)
    try:
        sim.wait_ready()
        yield running
    finally:
        running.close()
