"""Tests of the openalgo adapters."""
