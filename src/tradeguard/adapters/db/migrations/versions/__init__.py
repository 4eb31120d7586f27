"""Adapters layer: Alembic revisions of the tradeguard schema, oldest first (0001, 0002, ...)."""
