"""Tests of the sim adapters."""
