"""Core layer: the pure, deterministic risk model. Standard library only; no I/O, no clock."""
