"""Tests of the test tooling: `make flake`'s runner names every failing test and stops its load."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import flake

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" tests="4">
<testcase classname="tests.unit.test_flake_tool" name="test_passes" time="0.1"/>
<testcase classname="tests.unit.test_flake_tool" name="test_fails[a-1]" time="0.1">
  <failure message="assert 0 == 1">assert 0 == 1</failure></testcase>
<testcase classname="tests.unit.test_flake_tool.TestGroup" name="test_teardown" time="0.1">
  <error message="failed on teardown">CancelledError</error></testcase>
<testcase classname="tests.unit.test_flake_tool" name="test_skipped" time="0.0">
  <skipped message="no"/></testcase>
<testcase classname="" name="tests.unit.test_broken" time="0.0">
  <error message="collection failure">ImportError</error></testcase>
</testsuite></testsuites>
"""


def test_failures_names_each_failed_or_errored_test_by_its_pytest_id(tmp_path: Path) -> None:
    report = tmp_path / "run.xml"
    report.write_text(JUNIT)
    assert flake.failures(report) == [
        "tests/unit/test_flake_tool.py::test_fails[a-1] (failure)",
        "tests/unit/test_flake_tool.py::TestGroup::test_teardown (error)",
        "tests.unit.test_broken (error)",  # a module that failed to collect
    ]
    assert flake.failures(tmp_path / "missing.xml") == []


def test_a_run_that_crashed_without_a_report_still_counts_as_failed(tmp_path: Path) -> None:
    run = flake.one_run(1, 7, ["--definitely-not-a-pytest-option"], tmp_path)
    assert run.code not in (0, 5)
    assert run.failed == [f"<pytest exited {run.code}: see {tmp_path / 'run1.log'}>"]


def test_the_summary_lists_each_failing_test_with_its_runs_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [
        flake.Run(1, 11, 0, 1.0),
        flake.Run(2, 22, 1, 1.0, ["t.py::a (failure)"]),
        flake.Run(3, 33, 1, 1.0, ["t.py::a (failure)", "t.py::b (error)"]),
    ]
    assert flake.report(runs, tmp_path) == 1
    out = capsys.readouterr().out
    assert "2 of 3 runs failed" in out
    assert "t.py::a (failure): 2x: run 2 (seed 22), run 3 (seed 33)" in out
    assert "t.py::b (error): 1x: run 3 (seed 33)" in out
    assert flake.report(runs[:1], tmp_path) == 0


def test_cpu_load_runs_a_busy_process_per_core_and_stops_them_all() -> None:
    with flake.cpu_load(2) as spinners:
        assert len(spinners) == 2
        assert all(p.is_alive() for p in spinners)
    assert not any(p.is_alive() for p in spinners)
