"""Fixtures for the database tests: every test that takes `database` runs on a fresh SQLite
file and on PostgreSQL (its own schema in the shared `test` database, dropped afterwards).

PostgreSQL comes from TRADEGUARD_TEST_POSTGRES_URL; when it is unreachable its cases skip,
or fail when TRADEGUARD_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy.engine import URL, make_url

from tradeguard.adapters.db.store import SqlStore

PG_URL = os.environ.get(
    "TRADEGUARD_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("TRADEGUARD_REQUIRE_POSTGRES") == "1"

# Fast settings: outages are noticed and retried within milliseconds.
FAST: dict[str, Any] = {
    "commit_timeout": 5.0,
    "read_timeout": 5.0,
    "retry_initial": 0.01,
    "retry_max": 0.05,
    "busy_timeout_ms": 50,
    "close_timeout": 5.0,
}


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" or "postgresql"
    url: URL
    path: Path | None = None  # the SQLite file

    def with_address(self, host: str, port: int) -> URL:
        return self.url.set(host=host, port=port)


def libpq(url: URL) -> str:
    """A SQLAlchemy URL as a libpq conninfo URL (for psycopg directly)."""
    plain = url.set(drivername="postgresql").difference_update_query(["options"])
    return plain.render_as_string(hide_password=False)


@functools.cache
def pg_problem() -> str | None:
    try:
        with psycopg.connect(libpq(make_url(PG_URL)), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {make_url(PG_URL)!r} unreachable: {error}"


def need_postgres() -> None:
    problem = pg_problem()
    if problem is not None:
        if REQUIRE_PG:
            pytest.fail(f"TRADEGUARD_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)


@contextmanager
def postgres_schema() -> Iterator[Database]:
    """A fresh schema in the shared PostgreSQL database, dropped afterwards."""
    need_postgres()
    schema = f"tg_test_{uuid.uuid4().hex[:16]}"
    base = make_url(PG_URL)
    with psycopg.connect(libpq(base), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Database("postgresql", base.update_query_dict({"options": f"-csearch_path={schema}"}))
    finally:
        with psycopg.connect(libpq(base), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "tradeguard.db"
        yield Database("sqlite", make_url(f"sqlite:///{path}"), path)
        return
    with postgres_schema() as pg:
        yield pg


@pytest.fixture
def pg_database() -> Iterator[Database]:
    with postgres_schema() as pg:
        yield pg


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    path = tmp_path / "tradeguard.db"
    return Database("sqlite", make_url(f"sqlite:///{path}"), path)


async def open_store(url: URL, **options: Any) -> SqlStore:
    return await SqlStore.open(url, **{**FAST, **options})


@pytest_asyncio.fixture
async def store(database: Database) -> AsyncIterator[SqlStore]:
    opened = await open_store(database.url)
    try:
        yield opened
    finally:
        await opened.close()
