"""Tests (chaos): kill -9 and fault campaigns against a real tradeguard and simulator, audited
against the simulator's books. `python -m tests.chaos --help`; `make chaos`; the bounded run in
CI is test_chaos.py (marker `chaos`)."""
