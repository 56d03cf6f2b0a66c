"""Benchmarks: each prints a ratio against a baseline measured in the same run; none is pass/fail."""
