"""Tests (end to end, real processes): Ctrl+C (SIGINT) or SIGTERM at any moment of
`tradeguard run`'s start-up (embedded simulator and demo trader) stops it cleanly: exit status
0 within a bound, "stopped cleanly", and no demo trade opened after "stopping".

Regression: a SIGINT within milliseconds of "tradeguard running" printed "stopping", but the
demo trader went on opening a trade every 2 s and the process never exited. Python 3.11's
`asyncio.wait_for` (the store's commit wait) returned the commit's result and dropped the
cancellation that landed as the demo trader's strategy was committed, so the trader never
stopped and the shutdown waited for it forever.
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import pytest

from tests.recovery.procs import START_WITHIN, Proc, clean_env, poll

STOP_WITHIN = 20.0  # generous on a loaded 2-core machine; a hung stop never ends
# where the signal is sent: right after each of these start-up lines shows
MOMENTS = {
    "first-line": r"embedded simulator",
    "database-check": r"database check: ",
    "recovery": r"monitoring \d+ trades",
    "running": r"Ctrl\+C to stop",
    "demo-started": r"demo: .* guarded",
}


def _run(tmp_path: Path, log: str = "run.log") -> Proc:
    env = clean_env(data_dir=str(tmp_path / "data"), port="0")
    args = [sys.executable, "-m", "tradeguard", "run"]
    return Proc(args, env, tmp_path / log, cwd=tmp_path)


def _signal_at(proc: Proc, pattern: str) -> None:
    """Wait for `pattern` in the output, checking every 2 ms: the start-up race this guards
    against lasts a few milliseconds after a line shows."""
    regex = re.compile(pattern)

    def shown() -> bool:
        assert proc.alive, proc.text()[-3000:]
        return regex.search(proc.text()) is not None

    poll(shown, timeout=START_WITHIN, interval=0.002, message=pattern)


def _stops_cleanly(proc: Proc, signum: int) -> None:
    proc.send(signum)
    status = proc.wait_exit(timeout=STOP_WITHIN)
    text = proc.text()
    assert status == 0, text[-3000:]
    assert "stopped cleanly" in text, text[-3000:]
    after = text.split("stopping: ", 1)[1] if "stopping: " in text else ""
    assert not re.search(r"demo: .* guarded", after), after


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_at_any_moment_of_start_up_stops_cleanly(tmp_path: Path, moment: str) -> None:
    proc = _run(tmp_path)
    try:
        _signal_at(proc, MOMENTS[moment])
        _stops_cleanly(proc, signal.SIGINT)
    finally:
        proc.close()


@pytest.mark.slow
def test_sigterm_right_after_running_stops_cleanly(tmp_path: Path) -> None:
    proc = _run(tmp_path)
    try:
        _signal_at(proc, MOMENTS["running"])
        _stops_cleanly(proc, signal.SIGTERM)
    finally:
        proc.close()


@pytest.mark.slow
def test_ctrl_c_right_after_running_after_a_restart_stops_cleanly(tmp_path: Path) -> None:
    """The second start recovers the first one's demo trades (a real recovery) first."""
    first = _run(tmp_path)
    try:
        first.wait_for(MOMENTS["demo-started"])
        _stops_cleanly(first, signal.SIGINT)
    finally:
        first.close()
    second = _run(tmp_path, "run2.log")
    try:
        _signal_at(second, MOMENTS["running"])
        _stops_cleanly(second, signal.SIGINT)
    finally:
        second.close()
