"""Tests (end to end, real processes): what `tradeguard run` and `make run` show in the
terminal, and how they end on Ctrl+C.

- `tradeguard run` against a `tradeguard sim` subprocess: one trade stopped out (an exit order
  sent: an `EXIT` line, then `CLOSED` with its fill) and one whose position was closed by hand
  at the broker before its stop fired (no order sent: a `CLOSED EXTERNALLY` line and no `EXIT`
  line); every line said once, no alembic or simulator chatter.
- `make run` in a pseudo-terminal, stopped by Ctrl+C typed into it (the terminal sends SIGINT
  to its foreground process group, as a real one does): exit status 0, "stopped cleanly".
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.recovery.procs import START_WITHIN, Proc, Sim, clean_env, poll

ROOT = Path(__file__).resolve().parents[2]
TIME = re.compile(r"^\d\d:\d\d:\d\d ")


class Api:
    def __init__(self, url: str, key: str) -> None:
        self.key = key
        self.http = httpx.Client(base_url=url, timeout=30.0)

    def data(self, path: str, **body: Any) -> Any:
        reply = self.http.post(f"/api/v1/{path}", json={"apikey": self.key, **body})
        assert reply.status_code == 200, f"{path}: {reply.status_code} {reply.text}"
        return reply.json()["data"]


def _events(text: str) -> list[str]:
    """The terminal's lines without their time prefix."""
    return [TIME.sub("", line) for line in text.splitlines() if line.strip()]


def test_the_terminal_says_each_event_once_and_exit_only_when_an_order_was_sent(
    tmp_path: Path,
) -> None:
    sim = Sim(tmp_path)
    sim.wait_ready()
    env = clean_env(
        openalgo_url=sim.rest_url,
        openalgo_ws_url=sim.ws_url,
        openalgo_api_key=sim.apikey,
        data_dir=str(tmp_path / "data"),
        port="0",
        demo="false",
    )
    proc = Proc([sys.executable, "-m", "tradeguard", "run"], env, tmp_path / "run.log", tmp_path)
    api: Api | None = None
    try:
        port = proc.wait_for(r"REST API: http://127\.0\.0\.1:(\d+)/api/v1/").group(1)
        proc.wait_for("OpenAlgo feed authenticated", START_WITHIN)
        key = (tmp_path / "data" / "api_key.txt").read_text().strip()
        api = Api(f"http://127.0.0.1:{port}", key)
        sim.price("SBIN", "800")
        sim.price("INFY", "1500")
        api.data("strategy/configure", strategy="s1", enable_sl=True, sl_type="PERCENT",
                 sl_value="1")  # fmt: skip
        trades = {}
        for symbol, quantity in (("SBIN", 10), ("INFY", 5)):
            order = sim.call("placeorder", strategy="s1", symbol=symbol, exchange="NSE",
                             action="BUY", quantity=str(quantity), pricetype="MARKET",
                             product="MIS")["orderid"]  # fmt: skip
            trades[symbol] = api.data("createtrade", strategy="s1", orderid=order)["trade_id"]
        # INFY's position closed by hand at the broker, then its stop fires: nothing to exit
        sim.call("placeorder", strategy="manual", symbol="INFY", exchange="NSE", action="SELL",
                 quantity="5", pricetype="MARKET", product="MIS")  # fmt: skip
        sim.price("INFY", "1480")
        sim.price("SBIN", "790")
        proc.wait_for(rf"CLOSED  STOP_LOSS .* NSE:SBIN filled at 790\.00, P&L -100\.00 "
                      rf"\(trade {trades['SBIN']}\)")  # fmt: skip
        proc.wait_for(rf"CLOSED EXTERNALLY .* NSE:INFY: .*no exit order sent.*"
                      rf"\(trade {trades['INFY']}\)")  # fmt: skip
        proc.send(signal.SIGINT)
        assert proc.wait_exit(30) == 0
    finally:
        if api is not None:
            api.http.close()
        proc.close()
        sim.close()
    lines = _events(proc.text())
    sbin = [line for line in lines if trades["SBIN"] in line]
    assert [line.split()[0] for line in sbin] == ["EXIT", "CLOSED"], sbin
    assert re.match(r"EXIT +STOP_LOSS +LONG +10 NSE:SBIN at ~790\.00 trigger 792\.00: "
                    r"SELL order \d+ sent", sbin[0])  # fmt: skip
    infy = [line for line in lines if trades["INFY"] in line and not line.startswith("ALERT")]
    assert [line.split()[:2] for line in infy] == [["CLOSED", "EXTERNALLY"]], infy
    assert not any(line.startswith("EXIT") and "INFY" in line for line in lines), lines
    alerts = [line for line in lines if line.startswith("ALERT")]
    assert any("holds none" in line and trades["INFY"] in line for line in alerts), alerts
    repeated = {line: n for line, n in Counter(lines).items() if n > 1}
    assert repeated == {}, repeated
    assert sum(line.startswith("recovery: ") for line in lines) == 1
    assert not any("alembic" in line or "Context impl" in line for line in lines), lines
    assert not any("connection open" in line or "None" in line for line in lines), lines


def _make_ready() -> bool:
    """`make run` can start without installing anything (.venv installed after the last
    change of pyproject.toml)."""
    stamp = ROOT / ".venv" / ".installed"
    pyproject = ROOT / "pyproject.toml"
    return (
        shutil.which("make") is not None
        and stamp.exists()
        and stamp.stat().st_mtime >= pyproject.stat().st_mtime
    )


def _controlling_terminal() -> None:  # runs in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_until(master: int, pattern: str | None, output: bytearray, timeout: float) -> bool:
    """Read the terminal until `pattern` shows (True), or until it closes or `timeout` passes
    (False; with `pattern` None: read everything until it closes)."""
    deadline = time.monotonic() + timeout
    while pattern is None or re.search(pattern.encode(), output) is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every process holding the terminal is gone
                return False
            if not chunk:
                return False
            output += chunk
    return True


@pytest.mark.skipif(not _make_ready(), reason="needs make and an installed .venv")
def test_make_run_exits_0_after_ctrl_c_in_a_terminal(tmp_path: Path) -> None:
    env = clean_env(data_dir=str(tmp_path / "data"), port="0")
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    master, slave = os.openpty()
    make = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,  # a session of its own whose terminal is the pty, as a login
        preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    output = bytearray()
    try:
        # Ctrl+C as soon as it says it runs (tests/e2e/test_startup_signals.py: any moment)
        started = _read_until(master, r"Ctrl\+C to stop", output, START_WITHIN)
        assert started, output.decode(errors="replace")
        os.write(master, b"\x03")  # Ctrl+C typed into the terminal
        # everything until the terminal closes (a loaded machine stops slowly: a generous
        # deadline, which only bounds how long a hung shutdown takes to fail the test)
        _read_until(master, None, output, START_WITHIN)
        try:
            poll(lambda: make.poll() is not None, timeout=10, message="make exits")
        except TimeoutError:
            pytest.fail(f"make still running:\n{output.decode(errors='replace')[-3000:]}")
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        make.wait(timeout=10)
        os.close(master)
    text = output.decode(errors="replace")
    assert make.returncode == 0, text[-3000:]
    assert "stopped cleanly" in text
