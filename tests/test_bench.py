"""The benchmark harness runs end to end and prints every key of the issue's table.

Only that it works is checked here, not the figures (see docs/benchmarks.md). The default is
`python -m bench --smoke` (same scenarios, small sizes, ~40 s); set BENCH_TEST_QUICK=1 to run
`--quick` itself (~1.5 minutes).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import KEYS

#: Starts the bot as a separate process, or searches many inputs: deselect with -m "not slow".
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_bench_prints_a_table_then_every_key_as_json() -> None:
    mode = "--quick" if os.environ.get("BENCH_TEST_QUICK") else "--smoke"
    run = subprocess.run(
        [sys.executable, "-m", "bench", mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    lines = run.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert isinstance(figures, dict)
    for key in KEYS:
        value = figures.get(key)
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)
    table = "\n".join(lines[:-1])
    for key in KEYS:
        assert key in table
    assert "PASS" in table or "MISS" in table
