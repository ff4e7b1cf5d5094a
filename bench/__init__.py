"""Benchmark harness: the real bot in its own process against lean loopback fakes.

Run `python -m bench --quick`; see bench/cli.py and docs/benchmarks.md.
"""
