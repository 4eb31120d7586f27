"""Adapters layer: schema migrations, driven by Alembic configured in code.

The migration scripts ship inside the package (adapters/db/migrations); no alembic.ini is
needed at run time. `upgrade(url)` creates or upgrades the schema, `downgrade(url, rev)` goes
back (use "base" for an empty database), `current(url)` names the applied revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import URL, Connection

from tradeguard.adapters.db.connect import create_engine, normalize_url

VERSION_TABLE = "tradeguard_alembic_version"
SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL | None = None, connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged scripts, for a URL or an open connection."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    if url is not None:
        rendered = normalize_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """Upgrade through an open connection (the caller owns its transaction)."""
    command.upgrade(alembic_config(connection=connection), revision)


def upgrade(url: str | URL, revision: str = "head") -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            upgrade_connection(connection, revision)
    finally:
        engine.dispose()


def downgrade(url: str | URL, revision: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), revision)
    finally:
        engine.dispose()


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def current(url: str | URL) -> str | None:
    """The applied revision, or None for an empty (or never migrated) database."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision the packaged scripts define."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
