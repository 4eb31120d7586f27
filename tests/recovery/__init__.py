"""Tests: persistence and crash-safe recovery (real processes, outages)."""
