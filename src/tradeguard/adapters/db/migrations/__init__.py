"""Adapters layer: Alembic migration environment of the tradeguard schema (run via migrate.py)."""
