"""Adapters layer: the embedded simulator (paper broker, market, OpenAlgo-compatible server)."""
