"""Benchmarks: `make bench` runs every bench_*.py here against its same-run baseline."""
