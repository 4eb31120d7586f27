"""The write-ahead journal: its file format (any record type, torn and damaged lines), and the
store's use of it on real databases: writes made while the database cannot take them are
fsync'd there and acknowledged (True), replayed first on the next start, exactly once (the
journal mark is written in the same transaction as the records), and the journal is emptied
once the database has them. Neither database nor journal: False, and the write is withdrawn.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError

from tests.db import factories as f
from tests.db.conftest import Database, open_store
from tests.db.proxy import TcpProxy
from tests.helpers import break_journal, eventually, sqlite_write_lock
from tradeguard.adapters.db import journal as journal_module
from tradeguard.adapters.db.journal import Journal, JournalError, decode, encode, journal_path
from tradeguard.adapters.db.store import SqlStore
from tradeguard.app.records import Record

NO_RETRY = {"retry_initial": 60.0, "retry_max": 60.0}
EVERY_KIND: list[Record] = [
    f.trade("t-1"),
    f.progress("t-1"),
    f.strategy(),
    f.audit(1, detail={"price": 1_250_0000, "nested": {"a": [1, 2]}}),
    f.account(),
]


def test_every_record_type_round_trips() -> None:
    for seq, record in enumerate(EVERY_KIND, start=1):
        line = encode(seq, record)
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        entry = decode(line[:-1])
        assert (entry.seq, entry.record) == (seq, record)


def test_a_new_record_type_only_needs_registering(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(frozen=True, slots=True)
    class ExitOrderRecord:  # the shape of a future record: a slotted dataclass of primitives
        order_id: str
        quantity: int
        detail: dict[str, object]

    record = ExitOrderRecord("o-1", 10, {"tag": "x"})
    with pytest.raises(TypeError):
        encode(1, record)  # type: ignore[arg-type]
    monkeypatch.setitem(journal_module.RECORD_TYPES, "ExitOrderRecord", ExitOrderRecord)
    assert decode(encode(1, record)[:-1]).record == record  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[: len(line) // 2],  # cut short
        lambda line: line.replace(b"t-2", b"t-3"),  # checksum no longer matches
        lambda line: b"garbage",
    ],
)
def test_a_damaged_line_is_refused_never_misparsed(damage: object) -> None:
    line = encode(2, f.trade("t-2"))[:-1]
    with pytest.raises(JournalError):
        decode(damage(line))  # type: ignore[operator]


def test_a_torn_last_line_is_ignored_with_a_warning_and_cut_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "data" / "tradeguard.journal"
    journal = Journal(path)
    journal.open()
    assert journal.append(1, [f.trade("t-1"), f.audit(1)])
    assert journal.append(2, [f.audit(2)])
    journal.close()
    whole = path.read_bytes()
    torn = encode(3, f.trade("t-3"))
    path.write_bytes(whole + torn[: len(torn) // 2])  # the crash came mid-write
    again = Journal(path)
    with caplog.at_level(logging.WARNING, "tradeguard.db"):
        entries = again.open()
    assert [(e.seq, e.record) for e in entries] == [
        (1, f.trade("t-1")),
        (1, f.audit(1)),
        (2, f.audit(2)),
    ]
    assert any("torn last line" in r.getMessage() for r in caplog.records)
    assert path.read_bytes() == whole  # the next append starts on a fresh line
    assert again.append(3, [f.audit(3)])
    again.close()
    assert [e.seq for e in Journal(path).open()] == [1, 1, 2, 3]


def test_a_damaged_line_in_the_middle_is_skipped_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tradeguard.journal"
    lines = [encode(1, f.audit(1)), b"00000000 3 xyz\n", encode(2, f.audit(2))]
    path.write_bytes(b"".join(lines))
    with caplog.at_level(logging.WARNING, "tradeguard.db"):
        entries = Journal(path).open()
    assert [e.record for e in entries] == [f.audit(1), f.audit(2)]
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)


def test_the_file_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir(mode=0o755)
    journal = Journal(directory / "tradeguard.journal")
    journal.open()
    journal.close()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(directory / "tradeguard.journal").st_mode) == 0o600


def test_where_the_journal_lives(tmp_path: Path) -> None:
    db = tmp_path / "db" / "tradeguard.db"
    assert journal_path(db, tmp_path / "data") == tmp_path / "db" / "tradeguard.journal"
    assert journal_path(None, tmp_path / "data") == tmp_path / "data" / "tradeguard.journal"


# --- the store -----------------------------------------------------------------------------


async def journaled_store(database: Database, directory: Path, **options: object) -> SqlStore:
    return await open_store(database.url, journal=directory / "tradeguard.journal", **options)


@pytest.mark.asyncio
async def test_acknowledged_during_an_outage_survives_a_crash_and_replays_once(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """SQLite locked: commits are acknowledged (journaled); the process dies before the
    database is back (the journal is what survives: copied before close); the next start
    replays it before anything is read, and a second replay of the same journal writes
    nothing twice."""
    assert sqlite_db.path is not None
    store = await journaled_store(sqlite_db, tmp_path, **NO_RETRY)
    journal = tmp_path / "tradeguard.journal"
    try:
        assert await store.commit([f.trade("t-1"), f.audit(1)])
        assert journal.read_bytes() == b""  # the database took it: nothing journaled
        with sqlite_write_lock(sqlite_db.path):
            assert await store.commit([f.trade("t-2"), f.audit(2)])  # durable: journaled
            assert await store.commit([f.progress("t-2", n=5), f.audit(3)])
            assert store.degraded
            assert store.journaled
            crashed = tmp_path / "crashed.journal"
            shutil.copy(journal, crashed)  # the journal as kill -9 would leave it
    finally:
        await store.close()
    left = crashed.read_bytes()
    for _ in range(2):  # the second start finds the same journal again: nothing twice
        journal.write_bytes(left)
        restarted = await journaled_store(sqlite_db, tmp_path)
        try:
            loaded = await restarted.load()
            assert [t.trade_id for t in loaded.trades] == ["t-1", "t-2"]
            assert await restarted.trade("t-2") == f.progress("t-2", n=5).apply(f.trade("t-2"))
            actions = [e.action for e in await restarted.audit_entries()]
            assert actions == ["action-1", "action-2", "action-3"]
            assert (restarted.degraded, restarted.pending) == (False, 0)
            await eventually(lambda s=restarted: not s.journaled, timeout=5, message="emptied")
        finally:
            await restarted.close()


@pytest.mark.asyncio
async def test_replay_happens_before_load_and_newer_writes_win(
    sqlite_db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "tradeguard.journal"
    old = Journal(path)
    old.open()
    assert old.append(1, [f.trade("t-1", last_price=1), f.audit(1)])
    assert old.append(2, [f.trade("t-1", last_price=2), f.audit(2)])
    old.close()
    store = await journaled_store(sqlite_db, tmp_path)
    try:
        assert [t.last_price for t in (await store.load()).trades] == [2]
        assert await store.commit([f.trade("t-1", last_price=3), f.audit(3)])
        assert [e.action for e in await store.audit_entries()] == [
            "action-1",
            "action-2",
            "action-3",
        ]
    finally:
        await store.close()
    assert path.read_bytes() == b""
    again = await journaled_store(sqlite_db, tmp_path)
    try:
        assert (await again.trade("t-1")) == f.trade("t-1", last_price=3)
    finally:
        await again.close()


@pytest.mark.asyncio
async def test_neither_database_nor_journal_returns_false_and_withdraws(
    sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert sqlite_db.path is not None
    store = await journaled_store(sqlite_db, tmp_path)
    journal = tmp_path / "tradeguard.journal"
    try:
        assert await store.commit([f.trade("t-1"), f.audit(1)])
        with sqlite_write_lock(sqlite_db.path), caplog.at_level(logging.CRITICAL):
            break_journal(store)
            assert not await store.commit([f.trade("t-2"), f.audit(2)])
            assert store.pending == 0  # withdrawn: it will not land later
            assert journal.read_bytes() == b""
        assert any("write failed" in r.getMessage() for r in caplog.records)
        assert await store.commit([f.audit(3)])
        assert await store.trade("t-2") is None
        assert [e.action for e in await store.audit_entries()] == ["action-1", "action-3"]
    finally:
        await store.close()


@pytest.mark.asyncio
@pytest.mark.postgres
async def test_postgres_refusing_connections_is_an_outage_not_a_refused_record(
    pg_database: Database, tmp_path: Path
) -> None:
    """Failure 4: `psycopg.OperationalError: connection failed` raised while connecting
    (nothing listens at the address) was taken for a refused record and the write dropped,
    with health ok. It is an outage: queued (and journaled), written once the server is back."""
    database = pg_database
    proxy = await TcpProxy(database.url.host or "127.0.0.1", database.url.port or 5432).start()
    via_proxy = replace(database, url=database.with_address("127.0.0.1", proxy.port))
    store = await open_store(via_proxy.url, retry_initial=0.05, retry_max=0.2)
    try:
        assert await store.commit([f.trade("t-1"), f.audit(1)])
        await proxy.refuse()
        assert not await store.commit([f.trade("t-2"), f.audit(2)])  # queued (no journal here)
        assert not await store.commit([f.trade("t-3"), f.audit(3)])
        assert store.degraded
        # several reconnection attempts are refused meanwhile; none may drop the queue
        await eventually(
            lambda: store._worker.backoff >= 0.2, timeout=10, message="retries refused"
        )
        assert store.pending == 4
        assert store.refused_view()["count"] == 0
        await proxy.listen_again()
        await eventually(lambda: not store.degraded and store.pending == 0, timeout=15)
        assert [e.action for e in await store.audit_entries()] == [
            "action-1",
            "action-2",
            "action-3",
        ]
        assert await store.trade("t-3") == f.trade("t-3")
    finally:
        await store.close()
        await proxy.close()


@pytest.mark.asyncio
async def test_sqlite_unable_to_open_is_an_outage(tmp_path: Path) -> None:
    """The database's directory moved away: connecting raises sqlite3's own "unable to open
    database file" (unwrapped: the pool connects). An outage, not a refused record."""
    home = tmp_path / "db"
    home.mkdir()
    url = make_url(f"sqlite:///{home / 'tradeguard.db'}")
    store = await open_store(url, retry_initial=0.05, retry_max=0.2)
    try:
        assert await store.commit([f.trade("t-1"), f.audit(1)])
        store._worker.writer.discard()  # the next write connects again
        home.rename(tmp_path / "away")
        try:
            assert not await store.commit([f.trade("t-2"), f.audit(2)])
            await eventually(lambda: store._worker.backoff >= 0.2, timeout=10, message="retries")
            assert store.pending == 2
            assert store.refused_view()["count"] == 0
        finally:
            (tmp_path / "away").rename(home)
        await eventually(lambda: not store.degraded and store.pending == 0, timeout=15)
        assert await store.trade("t-2") == f.trade("t-2")
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_one_refused_record_never_takes_a_flush_with_it(database: Database) -> None:
    """A value the database cannot hold (an integer overflowing its column) in one trade's
    progress: every other record of the same flush, and of every later flush, is written;
    the refused one is kept visible and audited."""
    store = await open_store(database.url)
    try:
        trades = [f.trade(f"t-{i}") for i in range(5)]
        assert await store.commit(trades)
        for flush in range(3):
            batch: list[Record] = [f.progress(f"t-{i}", n=flush + 1) for i in range(5)]
            batch[2] = replace(batch[2], best_price=2**70)  # overflows BIGINT on both
            with pytest.raises((DataError, OverflowError)):  # its caller learns of it
                await store.commit(batch)
        for i in (0, 1, 3, 4):
            assert await store.trade(f"t-{i}") == f.progress(f"t-{i}", n=3).apply(trades[i])
        assert await store.trade("t-2") == trades[2]
        assert (store.degraded, store.pending) == (False, 0)
        refused = store.refused_view()
        assert refused["count"] == 3
        assert {r["key"] for r in refused["records"]} == {"progress:t-2"}
        audits = await store.audit_entries()
        assert [e.action for e in audits] == ["record_refused"] * 3
    finally:
        await store.close()
