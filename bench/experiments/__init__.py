"""One-off investigations behind figures in docs/benchmarks.md, kept so they can be re-run.

Each is `python -m bench.experiments.<name>`; they are not part of `python -m bench` and no
test runs them (bench/ itself is: see tests/test_bench.py). The floor bot (`floor/`) is a
stand-in for the bot: `python -m bench --quick --scenario steady --code bench/experiments/floor`.
"""
