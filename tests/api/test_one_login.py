"""Tests (security, issue 12): one tradeguard is one OpenAlgo login. Accounts stay isolated on
it: one account cannot guard (and so exit) another's entry order, and the refusal reveals
nothing of the other account; no account keeps an OpenAlgo key of its own at rest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.api.conftest import Api, fast_hasher
from tests.helpers import PATIENT_STORE
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.security import FernetBox
from tradeguard.app.accounts import AccountService


@pytest.mark.asyncio
async def test_an_account_cannot_guard_another_accounts_entry(api: Api) -> None:
    await api.strategy("s1", account="alice")
    await api.strategy("s1", account="bob")
    order_id = await api.stack.fill_entry("SBIN", "BUY", 7)
    mine = await api.data("createtrade", {"strategy": "s1", "orderid": order_id}, "alice")
    reply = await api.post("createtrade", {"strategy": "s1", "orderid": order_id}, "bob")
    assert reply.status_code == 409, reply.text
    assert reply.json() == {
        "status": "error",
        "message": f"order {order_id} cannot be guarded by this account",
    }
    assert mine["trade_id"] not in reply.text
    assert await api.data("activetrades", {}, "bob") == []
    [alice] = await api.data("activetrades", {}, "alice")
    assert alice["state"] == "ACTIVE"


@pytest.mark.asyncio
async def test_a_stored_openalgo_key_is_erased(tmp_path: Path) -> None:
    store = await SqlStore.open(f"sqlite:///{tmp_path / 'a.db'}", **PATIENT_STORE)
    try:
        box = FernetBox(Fernet.generate_key())
        accounts = AccountService(store, fast_hasher(), box, SystemClock())
        await accounts.load()
        await accounts.ensure_default("default", "admin", "pass-word-1")
        # as an earlier version stored it: encrypted, never read
        [record] = await store.accounts()
        await store.commit([replace(record, openalgo_key_encrypted=box.encrypt("OA-KEY"))])
        again = AccountService(store, fast_hasher(), box, SystemClock())
        await again.load()
        await again.ensure_default("default", "admin", "pass-word-1")
        [record] = await store.accounts()
        assert record.openalgo_key_encrypted is None
        assert "openalgo_key_erased" in [e.action for e in await store.audit_entries()]
    finally:
        await store.close()
