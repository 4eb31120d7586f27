"""Tests of the database adapter, on real SQLite files and a real PostgreSQL."""
