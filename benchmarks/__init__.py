"""Benchmarks (outside the layered package): `make bench` = `python -m benchmarks`."""
