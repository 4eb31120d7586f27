"""Tests (end to end, real processes): the demo setup (`tradeguard run` with its embedded
simulator) stopped with Ctrl+C (SIGINT) and started again finds its trades still open at the
simulator: they stay ACTIVE and guarded, not "closed externally at the entry with 0 P&L".

The simulator's books live in `<data dir>/simulator.json` (0600); its API key changes with
each start, read from `<data dir>/simulator.env` as docs/api.md's walkthrough does.
"""

from __future__ import annotations

import signal
import stat
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.recovery.procs import START_WITHIN, Proc, clean_env, poll
from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER


class Started:
    """One `tradeguard run` (embedded simulator, demo off) and clients for both APIs."""

    def __init__(self, workdir: Path, run: int) -> None:
        self.data = workdir / "data"
        env = clean_env(data_dir=str(self.data), port="0", demo="false")
        log = workdir / f"run-{run}.log"
        self.proc = Proc([sys.executable, "-m", "tradeguard", "run"], env, log, workdir)
        port = self.proc.wait_for(r"REST API: http://127\.0\.0\.1:(\d+)/api/v1/").group(1)
        self.proc.wait_for("OpenAlgo feed authenticated", START_WITHIN)
        sim = dict(
            line.split("=", 1) for line in (self.data / "simulator.env").read_text().splitlines()
        )
        self.sim_key = sim["SIM_KEY"]
        self.key = (self.data / "api_key.txt").read_text().strip()
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0)
        self.sim = httpx.Client(
            base_url=sim["SIM_URL"], timeout=30.0, headers={ADMIN_KEY_HEADER: self.sim_key}
        )

    def data_of(self, path: str, **body: Any) -> Any:
        reply = self.api.post(f"/api/v1/{path}", json={"apikey": self.key, **body})
        assert reply.status_code == 200, f"{path}: {reply.status_code} {reply.text}"
        return reply.json()["data"]

    def sim_call(self, path: str, **body: Any) -> Any:
        reply = self.sim.post(f"/api/v1/{path}", json={"apikey": self.sim_key, **body})
        assert reply.status_code == 200, f"{path}: {reply.status_code} {reply.text}"
        return reply.json()

    def price(self, symbol: str, ltp: str) -> None:
        body = {"symbol": symbol, "exchange": "NSE", "ltp": ltp}
        assert self.sim.post("/sim/admin/price", json=body).status_code == 200

    def stop(self) -> int:
        self.proc.send(signal.SIGINT)
        return self.proc.wait_exit(30)

    def close(self) -> None:
        self.api.close()
        self.sim.close()
        self.proc.close()


def test_trades_stay_open_and_guarded_across_ctrl_c_and_restart(tmp_path: Path) -> None:
    first = Started(tmp_path, 1)
    try:
        first.data_of(
            "strategy/configure", strategy="s1", enable_sl=True, sl_type="PERCENT", sl_value="20"
        )  # far stops: the random walk never reaches them
        opened = {}
        for symbol, action in (("SBIN", "BUY"), ("TCS", "SELL")):
            order = first.sim_call("placeorder", strategy="s1", symbol=symbol, exchange="NSE",
                                   action=action, quantity="10", pricetype="MARKET",
                                   product="MIS")["orderid"]  # fmt: skip
            view = first.data_of("createtrade", strategy="s1", orderid=order)
            opened[view["trade_id"]] = (symbol, view["entry_price"], view["stop_loss"])
        last_order = int(order)
        assert first.stop() == 0
    finally:
        first.close()
    state = tmp_path / "data" / "simulator.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600

    second = Started(tmp_path, 2)
    try:
        second.proc.wait_for(r"recovery: 2 trades, all in line with the broker")
        active = {t["trade_id"]: t for t in second.data_of("activetrades")}
        assert set(active) == set(opened)
        for trade_id, (symbol, entry, stop) in opened.items():
            view = active[trade_id]
            assert (view["symbol"], view["state"], view["entry_price"]) == (symbol, "ACTIVE", entry)
            assert view["stop_loss"] == stop
        positions = {r["symbol"]: int(r["quantity"]) for r in
                     second.sim_call("positionbook")["data"]}  # fmt: skip
        assert positions == {"SBIN": 10, "TCS": -10}
        # still guarded: SBIN's stop fires on the restarted simulator, with a new order id
        sbin = next(t for t, (symbol, _, _) in opened.items() if symbol == "SBIN")
        second.price("SBIN", "500")

        def closed() -> dict[str, Any] | None:
            rows = second.data_of("tradehistory", limit=10)
            return next((r for r in rows if r["trade_id"] == sbin), None)

        row = poll(closed, timeout=30, message="SBIN's stop-loss exit")
        assert (row["state"], row["exit_reason"]) == ("CLOSED", "STOP_LOSS")
        assert int(row["exit_order_id"]) > last_order
        assert second.stop() == 0
    finally:
        second.close()
    assert "closed externally" not in second.proc.text().lower()
