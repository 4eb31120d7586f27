"""Tests (security, issue 12): the login lockout under concurrent wrong passwords, usernames
that cannot be enumerated, rate limits per client before authentication; over the real HTTP
stack (uvicorn, SQLite, argon2)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize("username", ["alice", "nobody"])
@pytest.mark.parametrize("attempts", [9, 16])
@pytest.mark.asyncio
async def test_any_number_of_concurrent_wrong_passwords_ends_locked_for_real_and_unknown_names(
    tmp_path: Path, username: str, attempts: int
) -> None:
    # the per-address login budget is opened wide so only the lockout can answer "locked"
    async with running_api(tmp_path, login_burst=100) as api:
        outcomes = await asyncio.gather(
            *(_attempt(api, username, "wrong pass") for _ in range(attempts))
        )
        # a real user and an unknown name answer alike: 4 wrong, then locked, in any order
        assert outcomes.count("/login?error=1") == 4, outcomes
        assert outcomes.count("/login?error=locked") == attempts - 4, outcomes
        assert await _attempt(api, username, PASSWORD) == "/login?error=locked"
        if username == "alice":
            (stored,) = [u for u in await api.stack.store.users() if u.username == "alice"]
            assert stored.locked_until is not None


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


class _CountingHasher:
    """The real argon2 hasher, counting its verifications (how many slow checks ran)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.verifications = 0

    def hash(self, secret: str) -> str:
        result: str = self.inner.hash(secret)
        return result

    def verify(self, hashed: str, secret: str) -> bool:
        self.verifications += 1
        ok: bool = self.inner.verify(hashed, secret)
        return ok


@pytest.mark.asyncio
async def test_wrong_keys_cost_the_client_budget_not_the_key_owner(tmp_path: Path) -> None:
    limits = {"rate": 0.001, "burst": 12, "auth_rate": 0.001, "auth_burst": 3}
    async with running_api(tmp_path, **limits) as api:
        counting = _CountingHasher(api.accounts.hasher)
        api.accounts.hasher = counting
        real = api.keys["alice"]
        # another client (127.0.0.2) tries keys sharing alice's first 12 characters
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(
            base_url=api.url, timeout=10.0, transport=transport
        ) as attacker:
            statuses = []
            for n in range(12):
                wrong = real[:12] + f"{n:052x}"
                body = {"apikey": wrong, "strategy": "s1"}
                statuses.append(
                    (await attacker.post("/api/v1/strategy/get", json=body)).status_code
                )
        assert statuses == [403] * 3 + [429] * 9, statuses
        assert counting.verifications == 3  # argon2 ran only within the client's budget
        # alice's own bucket is untouched: her 12 requests all pass
        for _ in range(12):
            reply = await api.client.post("/api/v1/strategy/list", json={"apikey": real})
            assert reply.status_code == 200, reply.text
        assert counting.verifications == 4  # her key was checked once, then remembered
