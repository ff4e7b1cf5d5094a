"""The `long_chat` scenario (issue 11): one chat, thousands of messages, bounded context.

One private chat sends `Mode.long_chat_messages` messages in order (short texts, ten of them
photos with a caption among the first hundred); each waits for its answer before the next
goes. The bot is the real process; Telegram is the lean fake; OpenAI is the test fake
(``testkit/fake_openai.py``, spec validation off) because only it keeps conversations and
tells the truth about their size: input tokens from what the model reads, cached tokens by
OpenAI's prefix rule per ``prompt_cache_key``, a context window and server-side compaction.
The model's window is made small (CONTEXT_WINDOW) and the bot compacts well under it
(CONTEXT_COMPACT_TOKENS), so thousands of messages cross both many times.

The usage of every answer is read from the fake's stored responses, message by message.
"""

from __future__ import annotations

import io
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from bench.botproc import BenchError, BotProcess
from bench.fakes import LeanTelegram
from bench.report import Results
from bench.tracking import AnswerPlan, Tracker
from bot.config import DEFAULT_PRICES
from testkit.fake_openai import IMAGE_TOKENS, FakeOpenAI

LONG_CHAT_ID = 5_000_000
CONTEXT_WINDOW = 8_000
COMPACT_TOKENS = 4_000
#: 1-based numbers of the messages that are photos: ten among the first hundred.
PHOTO_MESSAGES = tuple(range(10, 60, 5))
#: The text whose input tokens `input_tokens_text20_after_photos` reports.
TEXT20_AFTER_PHOTOS = PHOTO_MESSAGES[-1] + 20
GROWTH_BASE = 100  # input_growth_ratio: last message / this one
MONTH_MESSAGES = 50 * 30
#: gpt-5.4-mini's price, the bot's own default (MODEL_PRICES, bot/config.py).
PRICE = DEFAULT_PRICES["gpt-5.4-mini"]
_ANSWER_TIMEOUT = 30.0
_MAX_LOST = 3  # answers that never came before the run is called a harness failure

_TEXTS = (
    "what time do you open tomorrow?",
    "thanks! and is parking free?",
    "remind me what we said about the order",
    "ok, can you add two more of those?",
    "how much is that in total?",
)


@dataclass
class LongChatRun:
    """What the fake saw of each message's answer, in order."""

    usages: list[dict[str, Any] | None]  # the answer's usage; None: no answer
    errors: int  # not answered, or answered with something other than the model's answer
    compactions: int  # compaction items the fake produced
    wall_s: float


def _photo(n: int) -> tuple[bytes, tuple[int, int]]:
    """A real JPEG (a gradient, a different size each time), larger than the bot's downscale."""
    size = (1280 + 8 * n, 960)
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue(), size


def _newest_answer(ai: FakeOpenAI, since: int) -> dict[str, Any] | None:
    """The usage of the last answer (a response in a conversation) stored after the first
    `since` responses."""
    fresh = len(ai.responses) - since
    for n, response in enumerate(reversed(ai.responses.values())):
        if n >= fresh:
            break
        if response.get("conversation"):
            usage = response.get("usage")
            return usage if isinstance(usage, dict) else None
    return None


async def _converse(
    telegram: LeanTelegram, ai: FakeOpenAI, bot: BotProcess, tracker: Tracker, count: int
) -> LongChatRun:
    usages: list[dict[str, Any] | None] = []
    errors = lost = 0
    plan = AnswerPlan(("Echo:",))  # the fake's default reply echoes the user's text
    started = time.monotonic()
    for n in range(1, count + 1):
        text = f"message {n}: {_TEXTS[n % len(_TEXTS)]}"
        msg = tracker.new(LONG_CHAT_ID, plan)
        since = len(ai.responses)
        if n in PHOTO_MESSAGES:
            image, size = _photo(n)
            telegram.private_photo(LONG_CHAT_ID, image, size, text, msg)
        else:
            telegram.private_text(LONG_CHAT_ID, text, msg)
        try:
            await tracker.wait_answered(tracker.answered + 1, _ANSWER_TIMEOUT)
        except TimeoutError:
            bot.check_alive()
            tracker.active.pop(LONG_CHAT_ID, None)
            usages.append(None)
            errors += 1
            lost += 1
            if lost >= _MAX_LOST:
                raise BenchError(
                    f"long chat: {lost} messages got no answer in {_ANSWER_TIMEOUT:g}s "
                    f"(at message {n}); bot log tail:\n{bot.tail()}"
                ) from None
            continue
        usage = _newest_answer(ai, since)
        usages.append(usage)
        if usage is None or f"Echo: {text}" not in msg.final_text:
            errors += 1
    return LongChatRun(usages, errors, len(ai.compacted), time.monotonic() - started)


async def run_long_chat(
    count: int,
    workdir: Path,
    results: Results,
    bot_env: Mapping[str, str],
    code_root: Path | None,
) -> None:
    tracker = Tracker()
    telegram = LeanTelegram(tracker)
    ai = FakeOpenAI(validate=False)
    ai.context_windows.clear()  # every model gets the small window
    ai.default_context_window = CONTEXT_WINDOW
    env = {"CONTEXT_COMPACT_TOKENS": str(COMPACT_TOKENS), **bot_env}
    bot = BotProcess(telegram, ai, workdir, extra_env=env, code_root=code_root)
    async with AsyncExitStack() as stack:
        await telegram.start()
        stack.push_async_callback(telegram.stop)
        await ai.start()
        stack.push_async_callback(ai.stop)
        await bot.start()
        stack.push_async_callback(bot.stop)
        run = await _converse(telegram, ai, bot, tracker, count)
        problems = bot.log_problems()
    record_long_chat(run, results)
    if problems:
        results.warnings.append(
            f"long chat: the bot logged {len(problems)} error line(s): {problems[0][:200]}"
        )


def _input(usage: dict[str, Any] | None) -> float:
    return float(usage["input_tokens"]) if usage else math.nan


def _cached(usage: dict[str, Any]) -> float:
    details = usage.get("input_tokens_details") or {}
    return float(details.get("cached_tokens") or 0)


def _at(usages: Sequence[dict[str, Any] | None], number: int) -> float:
    """Input tokens of message `number` (1-based); NaN if the run was shorter or unanswered."""
    return _input(usages[number - 1]) if 0 < number <= len(usages) else math.nan


def _cost(input_tokens: float, cached: float, output: float) -> float:
    uncached = input_tokens - cached
    return (uncached * PRICE.input + cached * PRICE.cached_input + output * PRICE.output) / 1e6


def before_month(
    answered: Sequence[dict[str, Any]], first_input: float, per_text: float, per_photo: float
) -> tuple[float, float]:
    """(USD without caching, USD with the fake's caching rule) for a month of MONTH_MESSAGES
    messages when nothing is ever compacted: each turn re-reads the whole history, which grows
    by `per_text` tokens a text turn and `per_photo` a photo turn (the same ten photos)."""
    output = sum(float(u["output_tokens"]) for u in answered) / max(1, len(answered))
    plain = cached_total = 0.0
    previous = 0.0
    current = first_input
    for n in range(1, MONTH_MESSAGES + 1):
        cached = math.floor(previous / 128) * 128 if current >= 1024 else 0.0
        plain += _cost(current, 0.0, output)
        cached_total += _cost(current, cached, output)
        previous = current
        current += per_photo if n in PHOTO_MESSAGES else per_text
    return plain, cached_total


def record_long_chat(run: LongChatRun, results: Results) -> None:
    usages = run.usages
    count = len(usages)
    answered = [u for u in usages if u is not None]
    total_in = sum(_input(u) for u in answered)
    total_cached = sum(_cached(u) for u in answered)
    results.add("input_tokens_msg_2000", _at(usages, count))
    results.add("input_growth_ratio", _at(usages, count) / _at(usages, GROWTH_BASE))
    # The sawtooth compaction makes (message 2,000 / message 100) say where each sits in its
    # cycle; growth shows in the peaks: the second half's against the first's from message 100.
    half = count // 2
    start = min(GROWTH_BASE, half // 2)  # message 100, or a quarter in into a short run
    early = [_input(u) for u in usages[start - 1 : half] if u is not None]
    late = [_input(u) for u in usages[half:] if u is not None]
    peak = max(late, default=math.nan) / max(early, default=math.nan)
    results.add("input_peak_ratio", peak)
    results.add("cached_share", total_cached / total_in if total_in else math.nan)
    results.add("errors_long_chat", float(run.errors))
    results.add("input_tokens_text20_after_photos", _at(usages, TEXT20_AFTER_PHOTOS))
    inputs = [_input(u) for u in answered]
    last100 = [_input(u) for u in usages[-100:] if u is not None]
    results.extra(
        "long_chat_input_max",
        max(inputs, default=math.nan),
        "long chat: most input tokens of one answer",
    )
    results.extra(
        "long_chat_input_mean_last_100",
        sum(last100) / len(last100) if last100 else math.nan,
        "long chat: mean input tokens of the last 100 answers",
    )
    second_half = [_input(u) for u in usages[count // 2 :] if u is not None]
    results.extra(
        "long_chat_input_max_second_half",
        max(second_half, default=math.nan),
        f"long chat: most input tokens of one answer, messages {count // 2 + 1:,}-{count:,}",
    )
    results.extra("long_chat_compactions", float(run.compactions), "long chat: compactions")
    results.extra(
        "long_chat_messages_per_s", count / run.wall_s, "long chat: messages answered per second"
    )
    month = answered[:MONTH_MESSAGES]
    scale = MONTH_MESSAGES / max(1, len(month))
    after = scale * sum(_cost(_input(u), _cached(u), float(u["output_tokens"])) for u in month)
    results.extra(
        "long_chat_usd_month_after",
        after,
        f"long chat: USD for {MONTH_MESSAGES:,} answers, measured (first {len(month):,} of "
        f"this run{'' if scale == 1 else ', scaled'}), gpt-5.4-mini prices",
    )
    # Growth without compaction, from this run's first turns (before the first compaction):
    # the median rise of input tokens from one text to the next.
    rises = [b - a for a, b in itertools.pairwise(inputs[: PHOTO_MESSAGES[0] - 1]) if b > a]
    per_text = sorted(rises)[len(rises) // 2] if rises else math.nan
    per_photo = per_text + IMAGE_TOKENS["auto"]  # IMAGE_DETAIL=auto
    plain, cached = before_month(answered, inputs[0] if inputs else math.nan, per_text, per_photo)
    results.extra(
        "long_chat_tokens_per_text_turn",
        per_text,
        "long chat: input tokens one text turn adds to the history (median rise, messages 1-9)",
    )
    results.extra(
        "long_chat_usd_month_before",
        cached,
        f"long chat: USD for {MONTH_MESSAGES:,} answers without compaction (analytic: history "
        "re-read each turn, fake's caching rule), gpt-5.4-mini prices",
    )
    results.extra(
        "long_chat_usd_month_before_uncached",
        plain,
        "long chat: the same without any prompt caching",
    )
    results.notes["input_growth_ratio"] = (
        f"long chat: one private chat, {count:,} messages in order (photos at messages "
        f"{', '.join(map(str, PHOTO_MESSAGES))}), each waiting for its answer; model window "
        f"{CONTEXT_WINDOW:,} tokens, CONTEXT_COMPACT_TOKENS={COMPACT_TOKENS:,}; the test fake's "
        f"token accounting; input tokens of message {count:,} / message {GROWTH_BASE}"
        + ("" if count == 2000 else f" (this mode sends {count:,}, not 2,000)")
    )
    results.notes["cached_share"] = (
        "long chat: sum of cached_tokens / sum of input_tokens over every answer (the classifier's "
        "requests not included)"
    )
