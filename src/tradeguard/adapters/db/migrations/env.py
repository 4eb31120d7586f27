"""Adapters layer: Alembic environment. Configured in code by migrate.py (no alembic.ini):
uses the connection passed in `config.attributes["connection"]`, else opens one from the
`sqlalchemy.url` option with connect.create_engine (so SQLite gets its WAL pragmas)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tradeguard.adapters.db.connect import create_engine
from tradeguard.adapters.db.migrate import VERSION_TABLE
from tradeguard.adapters.db.tables import metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL or connection given to the migration environment")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
