"""Conformance tests: the real OpenAlgo server, started with the test-peer kit.

The kit (`up`, `down`, `ctl`; see its README) is found at TRADEGUARD_OPENALGO_KIT, else next to
the clone (`../shared/openalgo-real`, as on the development machine), else
/work/shared/openalgo-real. It writes only to its WORKDIR: TRADEGUARD_OPENALGO_WORKDIR, else
`$XDG_CACHE_HOME/tradeguard-openalgo/<first 12 hex of the OpenAlgo archive's sha256>` (default
~/.cache), outside the clone, so the venv (the slow part of the first `up`) is reused by every
later run and a new archive gets a new WORKDIR.

Each test session brings OpenAlgo down (whatever an earlier run left), up on free ports with
an empty database, and down again at the end. Without Python 3.12 or without the kit, the
suite is skipped with the reason, except in CI (`CI=true`), where it fails with it.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import os
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KIT_CANDIDATES = (REPO.parent / "shared" / "openalgo-real", Path("/work/shared/openalgo-real"))
UP_TIMEOUT_S = 900.0  # a first `up` installs ~150 packages


def unavailable(reason: str) -> None:
    """Skip, or fail in CI: there the suite must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"conformance suite cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"conformance suite not run: {reason}")


def find_kit() -> Path | None:
    configured = os.environ.get("TRADEGUARD_OPENALGO_KIT")
    candidates = (Path(configured),) if configured else KIT_CANDIDATES
    for kit in candidates:
        if (kit / "up").is_file() and (kit / "openalgo-src.tar.gz").is_file():
            return kit
    return None


def _is_312(python: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return out.stdout.strip() == "True"


def find_python312() -> str | None:
    """What the kit's `up` would use: OPENALGO_PYTHON, python3.12 on PATH, pyenv's 3.12."""
    candidates = [os.environ.get("OPENALGO_PYTHON", ""), shutil.which("python3.12") or ""]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        candidates += sorted(glob.glob(f"{root.stdout.strip()}/versions/3.12*/bin/python3.12"))
    return next((c for c in candidates if c and _is_312(c)), None)


def default_workdir(kit: Path) -> Path:
    configured = os.environ.get("TRADEGUARD_OPENALGO_WORKDIR")
    if configured:
        return Path(configured)
    digest = hashlib.sha256((kit / "openalgo-src.tar.gz").read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "tradeguard-openalgo" / digest


def free_port_base() -> int:
    """A base with it and the next two ports free on 127.0.0.1 (REST, WebSocket, ZeroMQ), below
    the ephemeral range: there OpenAlgo's own outgoing connections could take one meanwhile."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000)
        try:
            for port in (base, base + 1, base + 2):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no three consecutive free ports found")


def kit_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the kit folder may be read-only
    return env


@dataclass
class OpenAlgo:
    """A running real OpenAlgo (REST, WebSocket proxy, sandbox) and the kit's controls."""

    kit: Path
    workdir: Path
    url: str
    ws_url: str
    api_key: str
    up_seconds: float

    @classmethod
    def up(cls, kit: Path, workdir: Path) -> OpenAlgo:
        workdir.mkdir(parents=True, exist_ok=True)
        cls.down_workdir(kit, workdir)  # an earlier run's server: start afresh, empty database
        started = time.monotonic()
        for _ in range(3):  # another program may take a port before OpenAlgo binds it
            done = subprocess.run(
                [str(kit / "up"), str(workdir), str(free_port_base())],
                env=kit_env(),
                capture_output=True,
                text=True,
                timeout=UP_TIMEOUT_S,
                check=False,
            )
            if done.returncode == 0 or "in use" not in done.stdout + done.stderr:
                break
        took = time.monotonic() - started
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-4000:]
            if "no Python 3.12" in output:
                unavailable(f"the kit found no Python 3.12:\n{output}")
            pytest.fail(f"OpenAlgo did not come up (rc {done.returncode}):\n{output}")
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in (workdir / "env").read_text().splitlines()
            if line.startswith("export ")
        )
        return cls(
            kit,
            workdir,
            exports["OPENALGO_URL"],
            exports["OPENALGO_WS_URL"],
            exports["OPENALGO_API_KEY"],
            took,
        )

    @staticmethod
    def down_workdir(kit: Path, workdir: Path) -> None:
        if (workdir / "pids").exists():
            subprocess.run(
                [str(kit / "down"), str(workdir)],
                env=kit_env(),
                capture_output=True,
                timeout=60,
                check=False,
            )

    def down(self) -> None:
        self.down_workdir(self.kit, self.workdir)

    async def ctl(self, *args: str) -> str:
        """`ctl --workdir WORKDIR ARGS...` without blocking the event loop; fails the test
        when ctl fails."""
        proc = await asyncio.create_subprocess_exec(
            str(self.kit / "ctl"),
            "--workdir",
            str(self.workdir),
            *args,
            env=kit_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        assert proc.returncode == 0, f"ctl {' '.join(args)} failed:\n{text}"
        return text

    def log_tail(self, name: str = "wsproxy", lines: int = 40) -> str:
        path = self.workdir / "run" / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
