"""tradeguard: a tick-by-tick exit guard for positions traded through OpenAlgo."""

__version__ = "0.1.0"
