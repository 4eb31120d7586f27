"""Adapters layer: which database errors mean "unavailable, try again" and which mean "this
record is refused". Used by the store and its writer, for SQLAlchemy's wrapped errors and for
the driver's own (raised unwrapped when the pool connects: `Engine.raw_connection`)."""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

_REFUSED = (
    IntegrityError,
    DataError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    psycopg.IntegrityError,
    psycopg.DataError,
)
_UNAVAILABLE = (
    DBAPIError,
    DisconnectionError,
    PoolTimeout,
    OSError,
    sqlite3.Error,  # unable to open the file, disk I/O error, locked, disk full
    psycopg.Error,  # connection failed / refused / lost, server shutting down
)


def is_outage(error: BaseException) -> bool:
    """True when `error` means "database unavailable, try again later" (queue and retry);
    False when the data itself is refused (constraint or value errors: retrying cannot help)."""
    if isinstance(error, _REFUSED):
        return False
    return isinstance(error, _UNAVAILABLE)


class StoreUnavailable(RuntimeError):
    """A read could not reach the database (down, locked or too slow)."""


class StoreClosed(RuntimeError):
    """The store was closed."""
