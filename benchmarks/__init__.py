"""Benchmarks of the mart: `make bench` runs `python -m benchmarks.mart` and rewrites docs/benchmarks.md."""
