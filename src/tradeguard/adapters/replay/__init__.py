"""Adapters layer: replay inputs: tick CSV files and the replay TOML configuration."""
