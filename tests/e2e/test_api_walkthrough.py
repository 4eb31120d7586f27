"""Tests (end to end): docs/api.md's walkthrough, run as written.

`tradeguard run` starts as a subprocess the way `make run` starts it (embedded simulator, demo
trader on, its own data directory, the REST API on a free port it reports). Then one bash
session, in that directory, runs every ```sh block of docs/api.md in order with real curl,
exactly as a reader pastes them; the only change is tradeguard's address (the docs say
127.0.0.1:8080; the test's server is on the port it printed). Every JSON reply printed must say
"status": "success" (/health: "ok"), every curl whose reply is kept in a variable must have
answered (the bash session runs with `set -e -o pipefail`), and no curl example may sit
outside a ```sh block (it would not be run).
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.recovery.procs import START_WITHIN, Proc, clean_env

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "api.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
DONE = "__walkthrough_block_done__"
BLOCK_WITHIN = 60.0  # a block waits for fills and exits; only a hung one fails the test


def sh_blocks(text: str) -> list[str]:
    return [match.group(1) for match in BLOCK.finditer(text)]


def json_replies(output: str) -> list[Any]:
    """Every top-level JSON object printed in `output` (curl -s prints replies back to back,
    with no newline)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index = 0
    while (start := output.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(output, start)
        except ValueError:
            index = start + 1
            continue
        found.append(value)
        index = end
    return found


def test_every_curl_example_sits_in_a_sh_block() -> None:
    text = DOCS.read_text(encoding="utf-8")
    inside = "".join(sh_blocks(text))
    curls = [line for line in text.splitlines() if line.lstrip().startswith("curl ")]
    assert curls, "docs/api.md has curl examples"
    outside = [line for line in curls if line not in inside]
    assert outside == [], f"curl examples outside ```sh blocks (never run): {outside}"


def test_the_json_reply_finder_separates_replies_printed_back_to_back() -> None:
    text = 'order 1\n{"status":"success","data":{"a":[1]}}{"status":"error"}\nx{y} 3'
    assert json_replies(text) == [{"status": "success", "data": {"a": [1]}}, {"status": "error"}]


class Shell:
    """One bash session fed block by block; each block's output is read up to a marker."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=cwd,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.send("set -e -o pipefail")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, script: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(script + "\n")
        self.process.stdin.flush()

    def run(self, block: str) -> str:
        """Run `block`; its output. Fails if the shell ended (a command failed) first."""
        self.send(f"{block}\nprintf '\\n{DONE}\\n'")
        output: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=BLOCK_WITHIN)
            except queue.Empty:
                pytest.fail(f"block still running after {BLOCK_WITHIN}s:\n{block}\n{output}")
            if line is None:
                pytest.fail(
                    f"the shell ended (exit {self.process.wait()}) in block:\n{block}\n"
                    f"output:\n{''.join(output)}"
                )
            if line.strip() == DONE:
                return "".join(output)
            output.append(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_walkthrough_runs_as_written_against_make_runs_setup(tmp_path: Path) -> None:
    env = clean_env(data_dir=str(tmp_path / "data"), port="0")
    proc = Proc([sys.executable, "-m", "tradeguard", "run"], env, tmp_path / "run.log", tmp_path)
    shell = Shell(tmp_path)
    status: int | None = None
    try:
        port = int(proc.wait_for(r"REST API: http://127\.0\.0\.1:(\d+)/api/v1/").group(1))
        proc.wait_for("OpenAlgo feed authenticated", START_WITHIN)
        banner = proc.text()
        assert re.search(r"embedded simulator.*\n\s+REST\s+http://127\.0\.0\.1:\d+/api/v1/", banner)
        assert re.search(r"\n\s+API key\s+[0-9a-f]{64}\n", banner)
        blocks = sh_blocks(DOCS.read_text(encoding="utf-8"))
        assert len(blocks) >= 8
        for block in blocks:
            output = shell.run(block.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}"))
            replies = json_replies(output)
            printed = [
                line
                for line in block.splitlines()
                if line.startswith("curl ") and "/metrics" not in line and "/export" not in line
            ]
            assert len(replies) >= len(printed), f"{block}\nanswered:\n{output}"
            for reply in replies:
                assert reply.get("status") in ("success", "ok"), f"{block}\nanswered:\n{output}"
            if "/metrics" in block:
                assert "# TYPE tradeguard_ticks_total" in output, output
            if "/export" in block:  # CSV, not JSON: its header and at least one closed trade
                header, *rows = output.strip().splitlines()
                assert header.startswith("trade_id,strategy,symbol,"), output
                assert any(row.split(",")[1] == "my_scalper" for row in rows), output
        history = shell.run(
            'curl -s $API/tradehistory -H "Content-Type: application/json" '
            '-d \'{"apikey":"\'$K\'","limit":100}\''
        )
        mine = [t for t in json.loads(history)["data"] if t["strategy"] == "my_scalper"]
        assert {(t["symbol"], t["exit_reason"]) for t in mine} == {
            ("SBIN", "MANUAL"),
            ("INFY", "MANUAL_ALL"),
        }, mine
        # SBIN twice (the partial exit's part and the rest), INFY once (exitall)
        assert [t["state"] for t in mine] == ["CLOSED"] * 3, mine
        assert sorted(t["quantity"] for t in mine if t["symbol"] == "SBIN") == [4, 6], mine
        closed = shell.run(
            'curl -s $API/exittrade -H "Content-Type: application/json" '
            '-d \'{"apikey":"\'$K\'","trade_id":"\'$TRADE\'"}\''
        )
        assert json.loads(closed)["message"].endswith("is already closed (CLOSED, MANUAL)")
    finally:
        shell.close()
        if proc.alive:
            proc.send(signal.SIGINT)
            status = proc.wait_exit(30)
        proc.close()
    assert status == 0, proc.text()[-3000:]
