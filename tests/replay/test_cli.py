"""The `tradeguard` CLI as a user runs it: a subprocess, exit codes, stdout and stderr."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from tradeguard import bootstrap

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def tradeguard(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradeguard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_replay_prints_the_report() -> None:
    done = tradeguard(
        "replay", str(EXAMPLES / "ticks.csv"), "--config", str(EXAMPLES / "strategies.toml")
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert "Fills are simulated" in out
    for reason in ("STOP_LOSS", "TARGET", "TRAILING_STOP", "BREAKEVEN_STOP", "SQUARE_OFF"):
        assert reason in out
    assert "meanrev -> HALTED (PORTFOLIO_STOP)" in out
    assert "10:38:00    T1" in out
    assert "-1522.50" in out


def test_bad_tick_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "ticks.csv"
    bad.write_text(
        "timestamp,symbol,exchange,ltp\n"
        "2025-03-03T09:15:00+05:30,RELIANCE,NSE,2900\n"
        "2025-03-03T09:16:00+05:30,RELIANCE,NSE,29x0\n",
        encoding="utf-8",
    )
    done = tradeguard("replay", str(bad), "--config", str(EXAMPLES / "strategies.toml"))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tradeguard: error: ")
    assert f"{bad}, line 3: ltp" in lines[0]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = bootstrap.cli.main(list(argv), bootstrap.commands(), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_demo_runs_from_any_directory(tmp_path: Path) -> None:
    done = tradeguard("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Total realized P&L: -2839.50 Rs" in done.stdout


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["replay", "nope.csv", "--config", str(EXAMPLES / "strategies.toml")], "cannot read"),
        (["replay", str(EXAMPLES / "ticks.csv"), "--config", "nope.toml"], "nope.toml"),
        (["replay", str(EXAMPLES / "ticks.csv")], "--config"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_and_missing_files_are_one_line(argv: list[str], fragment: str) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert fragment in err


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[strategies.s]\nsl_value = 'x'\n", encoding="utf-8")
    code, out, err = run("replay", str(EXAMPLES / "ticks.csv"), "--config", str(config))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"tradeguard: error: {config}: [strategies.s]: sl_value: not a number: 'x'"
    ]
