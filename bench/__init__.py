"""Benchmarks of the site under real Daphne processes: ``python -m bench`` (``make bench``).

Results: docs/benchmarks.md and docs/fanout-latency.png."""
