"""Tests (accounts): API keys (hashed, one lookup id, shown once, rotation), the OpenAlgo key
encrypted at rest, users and lockout, audit, persistence across a reload, and no secret in
logs, audit entries or error messages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.api.conftest import fast_hasher
from tests.helpers import PATIENT_STORE
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.security import FernetBox, load_or_create_secret_key, write_private
from tradeguard.app.accounts import KEY_ID_LENGTH, AccountService
from tradeguard.app.errors import LockedOut, Unauthorized


class ManualClock:
    def __init__(self) -> None:
        self.t = 1_800_000_000_000_000_000

    def now(self) -> int:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += int(seconds * 1e9)


@pytest.mark.asyncio
async def test_keys_users_lockout_and_no_secrets_anywhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_key = Fernet.generate_key()
    clock = ManualClock()
    store = await SqlStore.open(f"sqlite:///{tmp_path / 'a.db'}", **PATIENT_STORE)
    try:
        accounts = AccountService(store, fast_hasher(), FernetBox(secret_key), clock)
        await accounts.load()
        first = await accounts.ensure_default("default", "admin", "")
        assert first.api_key is not None
        assert first.password is not None
        key, password = first.api_key, first.password
        assert len(key) == 64
        assert int(key, 16) >= 0
        assert await accounts.authenticate(key) == "default"
        assert await accounts.authenticate(key) == "default"  # the cached path
        for wrong in (key[:-1] + ("0" if key[-1] != "0" else "1"), "x" * 64, ""):
            with pytest.raises(Unauthorized) as refused:
                await accounts.authenticate(wrong)
            assert wrong not in str(refused.value) or not wrong
        # stored: the lookup id and an argon2 hash; never the key; no OpenAlgo key at all
        record = (await store.accounts())[0]
        assert record.api_key_id == key[:KEY_ID_LENGTH]
        assert record.api_key_hash is not None
        assert record.api_key_hash.startswith("$argon2id$")
        assert record.openalgo_key_encrypted is None

        # a second run creates nothing new and shows no secret again
        again = await accounts.ensure_default("default", "admin", "")
        assert again.api_key is None
        assert again.password is None

        # rotation: the old key stops working at once (even though it was cached)
        new_key = await accounts.issue_api_key("default", actor="admin")
        with pytest.raises(Unauthorized):
            await accounts.authenticate(key)
        assert await accounts.authenticate(new_key) == "default"

        # login, wrong passwords, lockout for 15 minutes, then a fresh start
        token = await accounts.login("admin", password)
        assert accounts.session(token) is not None
        for _ in range(4):
            with pytest.raises(Unauthorized):
                await accounts.login("admin", "wrong-password")
        with pytest.raises(LockedOut):
            await accounts.login("admin", "wrong-password")
        with pytest.raises(LockedOut):
            await accounts.login("admin", password)  # even the right one, while locked
        with pytest.raises(Unauthorized):
            await accounts.login("nobody", password)
        clock.t += 15 * 60 * 1_000_000_000
        token2 = await accounts.login("admin", password)
        await accounts.logout(token2)
        assert accounts.session(token2) is None

        # a reload from the database keeps keys, users and the lock state
        reloaded = AccountService(store, fast_hasher(), FernetBox(secret_key), clock)
        await reloaded.load()
        assert await reloaded.authenticate(new_key) == "default"
        assert reloaded.user_account("admin") == "default"

        audit = await store.audit_entries()
        actions = [e.action for e in audit]
        for expected in (
            "account_created",
            "api_key_issued",
            "user_created",
            "login",
            "login_failed",
            "user_locked_out",
            "login_refused",
            "logout",
        ):
            assert expected in actions, expected
        assert all(e.actor and e.at for e in audit)
        dumped = repr(audit) + caplog.text
        for secret in (key, new_key, password, "wrong-password", token):
            assert secret not in dumped
    finally:
        await store.close()


def test_secret_files_are_private(tmp_path: Path) -> None:
    key, created = load_or_create_secret_key("", tmp_path / "data" / "secret.key")
    assert created
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret_key("", tmp_path / "data" / "secret.key") == (key, False)
    assert load_or_create_secret_key("configured", tmp_path / "x") == ("configured", False)
    write_private(tmp_path / "k.txt", "abc\n")
    assert (tmp_path / "k.txt").stat().st_mode & 0o777 == 0o600
    FernetBox(key)  # usable
    with pytest.raises(ValueError, match="32 url-safe"):
        FernetBox("short")


@pytest.mark.asyncio
async def test_bad_names_and_passwords(tmp_path: Path) -> None:
    store = await SqlStore.open(f"sqlite:///{tmp_path / 'b.db'}", **PATIENT_STORE)
    try:
        accounts = AccountService(
            store, fast_hasher(), FernetBox(Fernet.generate_key()), SystemClock()
        )
        await accounts.load()
        with pytest.raises(Exception, match="account name"):
            await accounts.create_account("bad name", actor="t")
        await accounts.create_account("a", actor="t")
        with pytest.raises(Exception, match="already exists"):
            await accounts.create_account("a", actor="t")
        with pytest.raises(Exception, match="at least 8"):
            await accounts.create_user("u", "short", "a", actor="t")
        with pytest.raises(Exception, match="not found"):
            await accounts.create_user("u", "long enough", "ghost", actor="t")
    finally:
        await store.close()
