"""Adapters layer: the database adapter: SQLAlchemy tables, engine set-up, Alembic migrations
and SqlStore, the app's Store port on SQLite (default, WAL) or PostgreSQL."""
