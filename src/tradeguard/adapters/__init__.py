"""Adapters layer: implementations of the app's ports (OpenAlgo, simulator, database, feeds)."""
