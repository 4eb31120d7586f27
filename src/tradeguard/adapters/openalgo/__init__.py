"""Adapters layer: OpenAlgo REST gateway and WebSocket feed clients."""
