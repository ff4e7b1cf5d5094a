"""The replicas scenario's figures from the answers its closed loop saw (bench/replicas.py)."""

from __future__ import annotations

import math

from bench.replicas import loop_figures


def test_only_answers_inside_the_window_count_for_rate_and_latency() -> None:
    answers = [
        (9.9, 5.0),  # before the window: left out
        (10.0, 0.010),
        (10.5, 0.020),
        (11.0, 0.030),
        (11.9, 0.040),
        (12.0, 5.0),  # at the end: left out
    ]
    figures = loop_figures(answers, start=10.0, end=12.0)
    assert figures.replies == 4
    assert figures.replies_per_s == 2.0
    assert math.isclose(figures.overhead_p50_ms, 25.0)
    assert math.isclose(figures.overhead_p99_ms, 39.7)


def test_an_empty_window_gives_no_figures() -> None:
    figures = loop_figures([(1.0, 0.1)], start=5.0, end=5.0)
    assert figures.replies == 0
    assert math.isnan(figures.replies_per_s) and math.isnan(figures.overhead_p99_ms)
