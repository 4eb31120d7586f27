"""Conformance tests: OpenAlgo's Action Center (semi-auto mode) driven as a trader would, over
its web routes: log in to OpenAlgo's web UI (CSRF token, form login; a valid broker session is
only resumed), list the queued orders (`/action-center/api/data`), approve
(`/action-center/approve/<id>`: OpenAlgo places it then, in the sandbox) or reject one
(`/action-center/reject/<id>`). The kit's `ctl` logs in the same way for `mode`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conformance.kit import OpenAlgo


class ActionCenter:
    def __init__(self, http: httpx.AsyncClient, csrf: str) -> None:
        self.http = http
        self.csrf = csrf

    def _headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.csrf, "Referer": f"{self.http.base_url}/auth/login"}

    async def orders(self, status: str = "all") -> list[dict[str, Any]]:
        reply = await self.http.get("/action-center/api/data", params={"status": status})
        assert reply.status_code == 200, reply.text
        rows: list[dict[str, Any]] = reply.json()["data"]["orders"]
        return rows

    async def approve(self, pending_id: int) -> dict[str, Any]:
        reply = await self.http.post(
            f"/action-center/approve/{pending_id}", headers=self._headers(), json={}
        )
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    async def reject(self, pending_id: int, reason: str = "conformance") -> None:
        reply = await self.http.post(
            f"/action-center/reject/{pending_id}", headers=self._headers(), json={"reason": reason}
        )
        assert reply.status_code == 200, reply.text


def credentials(oa: OpenAlgo) -> tuple[str, str]:
    """The web user and password `up` provisioned (WORKDIR/env, WORKDIR/run/password)."""
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in (oa.workdir / "env").read_text().splitlines()
        if line.startswith("export ")
    )
    user = exports["OPENALGO_USER"].strip("'\"")
    password = Path(exports["OPENALGO_PASSWORD_FILE"].strip("'\"")).read_text().strip()
    return user, password


@asynccontextmanager
async def action_center(oa: OpenAlgo) -> AsyncIterator[ActionCenter]:
    user, password = credentials(oa)
    async with httpx.AsyncClient(base_url=oa.url, timeout=30.0, trust_env=False) as http:
        token = (await http.get("/auth/csrf-token")).json()["csrf_token"]
        center = ActionCenter(http, token)
        login = await http.post(
            "/auth/login",
            data={"username": user, "password": password, "csrf_token": token},
            headers=center._headers(),
        )
        assert login.status_code == 200, login.text
        assert login.json().get("status") == "success", login.text
        yield center
