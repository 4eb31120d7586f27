"""Tests for the replay: tick CSV reader, TOML loader, run_replay, the demo and the CLI."""
