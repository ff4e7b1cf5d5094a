"""The long_chat figures (bench/longchat.py) from a run's per-answer usages, without a bot.

The scenario itself runs in tests/test_bench.py (`python -m bench --smoke` includes it).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.longchat import (
    MONTH_MESSAGES,
    TEXT20_AFTER_PHOTOS,
    LongChatRun,
    before_month,
    record_long_chat,
)
from bench.report import Results


def _usage(input_tokens: int, cached: int, output: int = 10) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
    }


def test_the_keys_come_from_the_messages_they_name() -> None:
    usages: list[dict[str, Any] | None] = [_usage(1000 + n, 500) for n in range(1, 151)]
    usages[40] = None  # message 41 never answered
    results = Results(mode="test")
    record_long_chat(LongChatRun(usages, errors=1, compactions=2, wall_s=1.0), results)
    assert results.value("input_tokens_msg_2000") == 1150  # the last message's
    assert results.value("input_growth_ratio") == pytest.approx(1150 / 1100)  # / message 100
    assert results.value("input_tokens_text20_after_photos") == 1000 + TEXT20_AFTER_PHOTOS
    # peaks: messages 76-150 against 38-75 (a short run starts a quarter in, not at 100)
    assert results.value("input_peak_ratio") == pytest.approx(1150 / 1075)
    answered = [u for u in usages if u is not None]
    total = sum(u["input_tokens"] for u in answered)
    assert results.value("cached_share") == pytest.approx(500 * len(answered) / total)
    assert results.value("errors_long_chat") == 1
    assert results.value("long_chat_compactions") == 2


def test_a_month_without_compaction_costs_more_the_longer_the_history() -> None:
    answered = [_usage(1000, 0)]
    flat, _ = before_month(answered, first_input=1000, per_text=0, per_photo=0)
    growing, growing_cached = before_month(answered, first_input=1000, per_text=25, per_photo=25)
    # flat: 1,500 x (1,000 input at $0.75/M + 10 output at $4.50/M)
    assert flat == pytest.approx(MONTH_MESSAGES * (1000 * 0.75 + 10 * 4.50) / 1e6)
    # each turn re-reads the history: the input sum grows with the square of the turns
    extra_input = 25 * MONTH_MESSAGES * (MONTH_MESSAGES - 1) / 2
    assert growing == pytest.approx(flat + extra_input * 0.75 / 1e6)
    assert growing_cached < growing / 5  # most of each re-read is the cached prefix


def test_a_bounded_sawtooth_has_a_peak_ratio_near_one_whatever_its_phase() -> None:
    """Compaction makes input rise and fall; message 2,000 / message 100 depends on where both
    fall in the cycle, the peaks do not."""
    usages: list[dict[str, Any] | None] = [_usage(300 + 25 * (n % 150), 0) for n in range(2000)]
    results = Results(mode="test")
    record_long_chat(LongChatRun(usages, errors=0, compactions=13, wall_s=1.0), results)
    assert results.value("input_peak_ratio") == pytest.approx(1.0)
    # the same bounded run, whose literal ratio only says where message 100 sits in its cycle
    assert results.value("input_growth_ratio") == pytest.approx(
        (300 + 25 * (1999 % 150)) / (300 + 25 * (99 % 150))
    )
