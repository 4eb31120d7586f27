"""Tests (security, issue 12): the login lockout under concurrent wrong passwords, usernames
that cannot be enumerated, over the real HTTP stack (uvicorn, SQLite, argon2)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import PASSWORD, Api, running_api
from tests.api.test_dashboard import csrf


async def _attempt(api: Api, username: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=api.url, timeout=10.0) as client:
        token = await csrf(client)
        reply = await client.post(
            "/auth/login",
            data={"username": username, "password": password, "csrf_token": token},
        )
        assert reply.status_code == 303
        location: str = reply.headers["location"]
        return location


@pytest.mark.asyncio
async def test_concurrent_wrong_passwords_cannot_bypass_the_lockout(api: Api) -> None:
    outcomes = await asyncio.gather(*(_attempt(api, "alice", "wrong pass") for _ in range(9)))
    # the 5th failure locks; every later one (even those checked concurrently) stays locked
    assert outcomes.count("/login?error=1") == 4, outcomes
    assert outcomes.count("/login?error=locked") == 5, outcomes
    assert await _attempt(api, "alice", PASSWORD) == "/login?error=locked"
    (stored,) = [u for u in await api.stack.store.users() if u.username == "alice"]
    assert stored.locked_until is not None  # the lock is on disk, not only in memory


@pytest.mark.asyncio
async def test_an_unknown_username_answers_like_a_real_one(tmp_path: Path) -> None:
    async with running_api(tmp_path, login_burst=100) as api:
        await _same_answers(api)


async def _same_answers(api: Api) -> None:
    real = [await _attempt(api, "alice", "wrong pass") for _ in range(6)]
    ghost = [await _attempt(api, "nobody", "wrong pass") for _ in range(6)]
    assert real == ghost
    assert real[-2:] == ["/login?error=locked", "/login?error=locked"]
    other = await _attempt(api, "nobody2", "wrong pass")  # simulated per username
    assert other == "/login?error=1"
