"""The scenarios and their sizes per mode. Each records its figures into `Results`.

Model timing used everywhere unless a scenario says otherwise: the classifier answers after
CLASSIFIER_LATENCY, the assistant's stream starts after MODEL_LATENCY and its deltas come
TOKEN_DELAY apart. Chats are private chats (answers stream as sendMessageDraft).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from bench.dbbench import run_db_bench
from bench.report import Results
from bench.rig import Rig, Window, calls_text, long_plan, short_plan
from bench.tracking import Msg, median, percentile

CLASSIFIER_LATENCY = 0.1
MODEL_LATENCY = 0.3
TOKEN_DELAY = 0.02
BURST_MODEL_LATENCY = 1.0
WARM_CHAT_BASE = 1_000_000
BURST_CHAT_BASE = 3_000_000
RSS_CHAT_BASE = 4_000_000
LIMITS_CHAT_BASE = 6_000_000
LIMITS_CHATS = 100
#: Telegram's limits as a bot runs by default (TELEGRAM_RATE_LIMIT_PER_SECOND and
#: TELEGRAM_GROUP_RATE_LIMIT_PER_MINUTE left as they are), instead of the harness's raised ones.
DEFAULT_LIMITS = {
    "TELEGRAM_RATE_LIMIT_PER_SECOND": "30",
    "TELEGRAM_GROUP_RATE_LIMIT_PER_MINUTE": "20",
}
RSS_TARGET_CHATS = 10_000

SCENARIOS = (
    "steady",
    "stream",
    "saturation",
    "burst",
    "limits",
    "interaction",
    "rss",
    "db",
    "long_chat",
)
MAIN_PROCESS = ("steady", "saturation", "stream")
#: Scenarios that run only when named with --scenario (they need PostgreSQL's server binaries
#: and take about a minute): not part of a default, --quick or --smoke run.
NAMED_ONLY = ("replicas",)


@dataclass(frozen=True)
class Mode:
    name: str
    repeat: int
    warm_chats: int
    preroll_s: float
    cpu_rate: float
    cpu_seconds: float
    steady_rate: float
    steady_seconds: float
    stream_rate: float
    stream_seconds: float
    long_tokens: int
    saturation_window: int
    saturation_seconds: float
    burst_chats: int
    rss_chats: int
    db_rows: int
    db_messages: int
    long_chat_messages: int
    replicas_chats: int
    replicas_seconds: float


MODES: Mapping[str, Mode] = {
    "smoke": Mode(
        "smoke",
        repeat=1,
        warm_chats=120,
        preroll_s=0.5,
        cpu_rate=30,
        cpu_seconds=1.5,
        steady_rate=100,
        steady_seconds=1.0,
        stream_rate=10,
        stream_seconds=1.5,
        long_tokens=200,
        saturation_window=64,
        saturation_seconds=1.5,
        burst_chats=200,
        rss_chats=400,
        db_rows=20_000,
        db_messages=500,
        long_chat_messages=120,
        replicas_chats=16,
        replicas_seconds=1.5,
    ),
    "quick": Mode(
        "quick",
        repeat=1,
        warm_chats=300,
        preroll_s=1.0,
        cpu_rate=30,
        cpu_seconds=5.0,
        steady_rate=100,
        steady_seconds=4.0,
        stream_rate=10,
        stream_seconds=4.0,
        long_tokens=200,
        saturation_window=128,
        saturation_seconds=4.0,
        burst_chats=1000,
        rss_chats=2000,
        db_rows=1_000_000,
        db_messages=3000,
        long_chat_messages=2000,
        replicas_chats=64,
        replicas_seconds=4.0,
    ),
    "full": Mode(
        "full",
        repeat=3,
        warm_chats=600,
        preroll_s=2.0,
        cpu_rate=30,
        cpu_seconds=15.0,
        steady_rate=100,
        steady_seconds=15.0,
        stream_rate=10,
        stream_seconds=10.0,
        long_tokens=200,
        saturation_window=256,
        saturation_seconds=10.0,
        burst_chats=1000,
        rss_chats=RSS_TARGET_CHATS,
        db_rows=1_000_000,
        db_messages=20_000,
        long_chat_messages=2000,
        replicas_chats=64,
        replicas_seconds=10.0,
    ),
}

Profiler = Callable[[int, str], AbstractAsyncContextManager[None]]


def _no_profile(pid: int, name: str) -> AbstractAsyncContextManager[None]:
    return nullcontext()


def _ms(values: Iterator[float]) -> list[float]:
    return [1000 * v for v in values if not math.isnan(v)]


def _timeout(count: int) -> float:
    return 60.0 + count / 10


def _check(rig: Rig, results: Results, what: str) -> None:
    if rig.tracker.unexpected:
        results.warnings.append(
            f"{what}: {rig.tracker.unexpected} final message(s) were not the model's answer "
            "(error replies?); see the bot log"
        )
        rig.tracker.unexpected = 0
    problems = rig.bot.log_problems()
    if problems:
        results.warnings.append(
            f"{what}: the bot logged {len(problems)} error line(s): {problems[0][:200]}"
        )


def _warn_if_harness_bound(results: Results, what: str, window: Window) -> None:
    if window.harness_cpu_pct > 85:
        results.warnings.append(
            f"{what}: the harness (fakes + load) used {window.harness_cpu_pct:.0f}% of a core; "
            "the figure may be limited by the fakes, not the bot"
        )


# ------------------------------------------------------------------ main process: warm chats


async def run_main_process(
    mode: Mode,
    selected: set[str],
    workdir: Path,
    results: Results,
    bot_env: Mapping[str, str],
    profile: Profiler = _no_profile,
) -> None:
    async with Rig(workdir / "main", bot_env=bot_env) as rig:
        results.extra("bot_rss_mb_started", rig.bot.rss_mb(), "bot RSS right after start-up, MB")
        warm = list(range(WARM_CHAT_BASE, WARM_CHAT_BASE + mode.warm_chats))
        rig.openai.classifier_latency = 0.0
        mark = rig.mark()
        await rig.closed_loop(
            warm, len(warm), 64, short_plan(0.0, 0.0), reuse=False, max_wait=_timeout(len(warm))
        )
        window = await rig.window_since(mark, [])
        results.extra(
            "cpu_ms_per_new_chat_reply",
            1000 * window.cpu_s / len(warm),
            f"bot CPU per first reply of a new chat (warm-up of {len(warm)} chats, cold "
            "process, conversation created)",
        )
        _check(rig, results, "warm-up")
        for _ in range(mode.repeat):
            if "steady" in selected:
                await _cpu_pass(rig, mode, warm, results, profile)
                await _overhead_pass(rig, mode, warm, results)
            # Saturation before the long streams: right after them this bot (at the time of
            # writing) answers markedly slower for a while, which is reported separately.
            if "saturation" in selected:
                await _saturation_pass(rig, mode, warm, results)
            if "stream" in selected:
                await _stream_passes(rig, mode, warm, results, profile)
                await _first_text_pass(rig, warm, results)
        results.extra(
            "bot_rss_mb_main_end",
            rig.bot.rss_mb(),
            f"bot RSS at the end of the main run ({len(warm)} chats), MB",
        )


async def _cpu_pass(
    rig: Rig, mode: Mode, warm: list[int], results: Results, profile: Profiler
) -> None:
    rig.openai.classifier_latency = CLASSIFIER_LATENCY
    plan = short_plan(MODEL_LATENCY, TOKEN_DELAY)
    max_wait = _timeout(round(mode.cpu_rate * mode.cpu_seconds))
    await rig.paced(warm, mode.cpu_rate, mode.preroll_s, plan, max_wait=max_wait)  # not measured
    async with profile(rig.bot.pid, "reply"):
        mark = rig.mark()
        threads = rig.bot.thread_cpu()
        msgs = await rig.paced(warm, mode.cpu_rate, mode.cpu_seconds, plan, max_wait=max_wait)
        window = await rig.window_since(mark, msgs)
        main_thread, other_threads = (
            b - a for a, b in zip(threads, rig.bot.thread_cpu(), strict=True)
        )
    results.add("cpu_ms_per_reply", 1000 * window.cpu_s / len(msgs))
    results.profiled["reply"] = len(msgs)
    results.extra(
        "cpu_ms_per_reply_other_threads",
        1000 * other_threads / len(msgs),
        f"of which outside the event-loop thread (aiosqlite's SQL thread...), ms "
        f"(event-loop thread: {1000 * main_thread / len(msgs):.1f} ms)",
    )
    _connections(results, window, len(msgs), "")
    results.extra(
        "bot_cpu_pct_at_30_per_s",
        window.bot_cpu_pct,
        f"bot CPU use during that window ({mode.cpu_rate:g} msg/s), % of one core",
    )
    results.notes["cpu_ms_per_reply"] = (
        f"bot-process CPU (utime+stime from /proc) over a window of {len(msgs)} texts sent at "
        f"{mode.cpu_rate:g}/s to existing chats, until every answer is in, divided by the "
        f"replies; classifier {CLASSIFIER_LATENCY * 1000:.0f} ms, model first token "
        f"{MODEL_LATENCY * 1000:.0f} ms, 3 deltas {TOKEN_DELAY * 1000:.0f} ms apart; "
        "everything the bot does (polling, classify, stream, draft, final, SQL, logs) counts"
    )
    _warn_if_harness_bound(results, "cpu pass", window)
    _check(rig, results, "cpu pass")


def _connections(results: Results, window: Window, replies: int, suffix: str) -> None:
    results.extra(
        f"openai_connections_per_reply{suffix}",
        window.per_reply("openai_connections", replies),
        "new TCP connections to OpenAI per reply (keep-alive reuse would make it ~0)",
    )
    results.extra(
        f"telegram_connections_per_reply{suffix}",
        window.per_reply("telegram_connections", replies),
        "new TCP connections to Telegram per reply",
    )
    results.extra(
        f"http_calls_per_reply{suffix}",
        window.per_reply("openai_requests", replies)
        + window.per_reply("telegram_requests", replies),
        "HTTP requests per reply, both APIs; Bot API calls per reply: "
        + calls_text(window, replies),
    )


def _overheads(msgs: list[Msg]) -> tuple[list[float], list[float], list[float]]:
    inbound = _ms(m.first_request - m.pushed for m in msgs)
    outbound = _ms(m.final - m.last_delta for m in msgs)
    total = _ms((m.first_request - m.pushed) + (m.final - m.last_delta) for m in msgs)
    return total, inbound, outbound


async def _overhead_pass(rig: Rig, mode: Mode, warm: list[int], results: Results) -> None:
    rig.openai.classifier_latency = CLASSIFIER_LATENCY
    plan = short_plan(MODEL_LATENCY, TOKEN_DELAY)
    count = round(mode.steady_rate * mode.steady_seconds)
    overflow = rig.overflow
    mark = rig.mark()
    msgs = await rig.paced(
        warm, mode.steady_rate, mode.steady_seconds, plan, max_wait=_timeout(count)
    )
    window = await rig.window_since(mark, msgs)
    total, inbound, outbound = _overheads(msgs)
    if rig.overflow > overflow:
        results.warnings.append(
            f"overhead pass: the bot fell behind {mode.steady_rate:g} msg/s: "
            f"{rig.overflow - overflow} of {count} texts went to new chats because all "
            f"{len(warm)} existing chats still waited for an answer"
        )
    results.add("overhead_p50_ms", percentile(total, 50))
    results.add("overhead_p99_ms", percentile(total, 99))
    results.extra(
        "overhead_in_p50_ms",
        percentile(inbound, 50),
        "update queued -> first /responses request (the classifier's), p50, ms",
    )
    results.extra("overhead_in_p99_ms", percentile(inbound, 99), "same, p99, ms")
    results.extra(
        "overhead_poll_p50_ms",
        percentile(_ms(m.handed - m.pushed for m in msgs), 50),
        "update queued -> handed out by getUpdates, p50, ms",
    )
    results.extra(
        "overhead_out_p50_ms",
        percentile(outbound, 50),
        "model's last delta -> final sendMessage, p50, ms",
    )
    results.extra("overhead_out_p99_ms", percentile(outbound, 99), "same, p99, ms")
    results.extra(
        "classify_to_answer_p50_ms",
        percentile(_ms(m.answer_request - m.classified for m in msgs), 50),
        "classifier answered -> streamed answer requested, p50, ms (not in the overhead key)",
    )
    results.extra(
        "harness_cpu_pct_at_100_per_s",
        window.harness_cpu_pct,
        "harness process (both fakes + load) CPU at 100 msg/s, % of one core",
    )
    results.extra(
        "bot_cpu_pct_at_100_per_s",
        window.bot_cpu_pct,
        f"bot CPU use at {mode.steady_rate:g} msg/s, % of one core",
    )
    results.extra(
        "wall_ms_per_reply_100_per_s_p50",
        percentile(_ms(m.final - m.pushed for m in msgs), 50),
        "update queued -> final message at 100 msg/s, p50, ms (includes the model)",
    )
    results.notes["overhead_p50_ms"] = results.notes["overhead_p99_ms"] = (
        f"{count} texts at {mode.steady_rate:g}/s to existing chats; per message (update queued "
        "in the fake's getUpdates -> first POST /responses for it) + (model's last delta "
        "written -> final sendMessage received), both stamped by the fakes on one monotonic "
        "clock"
    )
    _warn_if_harness_bound(results, "overhead pass", window)
    _check(rig, results, "overhead pass")


async def _stream_passes(
    rig: Rig, mode: Mode, warm: list[int], results: Results, profile: Profiler
) -> None:
    rig.openai.classifier_latency = CLASSIFIER_LATENCY
    short = short_plan(MODEL_LATENCY, TOKEN_DELAY)
    long = long_plan(mode.long_tokens, MODEL_LATENCY, TOKEN_DELAY)
    count = round(mode.stream_rate * mode.stream_seconds)
    max_wait = _timeout(count) + mode.long_tokens * TOKEN_DELAY
    async with profile(rig.bot.pid, "stream-short"):
        mark = rig.mark()
        short_msgs = await rig.paced(
            warm, mode.stream_rate, mode.stream_seconds, short, max_wait=max_wait
        )
        short_w = await rig.window_since(mark, short_msgs)
    async with profile(rig.bot.pid, "stream-long"):
        mark = rig.mark()
        long_msgs = await rig.paced(
            warm, mode.stream_rate, mode.stream_seconds, long, max_wait=max_wait
        )
        long_w = await rig.window_since(mark, long_msgs)
    extra_tokens = len(long.deltas) - len(short.deltas)
    results.profiled.update({"stream-short": len(short_msgs), "stream-long": len(long_msgs)})
    results.profiled["extra_tokens"] = extra_tokens
    per_reply_short = short_w.cpu_s / len(short_msgs)
    per_reply_long = long_w.cpu_s / len(long_msgs)
    per_token_us = 1e6 * (per_reply_long - per_reply_short) / extra_tokens
    results.add("cpu_us_per_streamed_token", per_token_us)
    results.add(
        "concurrent_streams_per_core", 1e6 / (per_token_us * 50) if per_token_us > 0 else math.inf
    )
    partial = _ms(m.first_partial - m.first_delta for m in long_msgs)
    results.add("first_partial_ms", percentile(partial, 50))
    results.extra("first_partial_p99_ms", percentile(partial, 99), "same, p99, ms")
    results.extra(
        "previews_per_long_reply",
        median([float(m.previews) for m in long_msgs]),
        f"drafts sent per {mode.long_tokens}-token answer (median)",
    )
    results.extra(
        "cpu_ms_per_long_reply",
        1000 * per_reply_long,
        f"bot CPU per {mode.long_tokens}-token streamed reply, ms",
    )
    results.extra(
        "cpu_ms_per_short_reply_10_per_s",
        1000 * per_reply_short,
        "bot CPU per 3-token reply in the same pacing, ms",
    )
    results.extra(
        "max_concurrent_streams",
        float(rig.openai.max_active_streams),
        "most answer streams open at once so far",
    )
    results.notes["cpu_us_per_streamed_token"] = (
        f"two passes of {count} texts at {mode.stream_rate:g}/s to existing chats: "
        f"{mode.long_tokens}-delta Markdown answers vs 3-delta answers, deltas "
        f"{TOKEN_DELAY * 1000:.0f} ms apart; (CPU per long reply - CPU per short reply) / "
        f"{extra_tokens} extra deltas; drafts (every STREAM_DRAFT_INTERVAL_SECONDS) and the "
        "longer final render are part of it"
    )
    results.notes["concurrent_streams_per_core"] = "derived: 1e6 / (cpu_us_per_streamed_token * 50)"
    results.notes["first_partial_ms"] = (
        "long-answer pass: first delta written by the fake OpenAI -> first sendMessageDraft "
        "received by the fake Telegram, median"
    )
    _warn_if_harness_bound(results, "stream pass", long_w)
    _check(rig, results, "stream passes")


FIRST_TEXT_CLASSIFIER_LATENCY = 0.4
FIRST_TEXT_MODEL_LATENCY = 0.8
FIRST_TEXT_MESSAGES = 20


async def _first_text_pass(rig: Rig, warm: list[int], results: Results) -> None:
    """What a person feels: update available -> first visible text, with a classifier of
    400 ms and the answer's first token 800 ms after its request."""
    rig.openai.classifier_latency = FIRST_TEXT_CLASSIFIER_LATENCY
    plan = long_plan(40, FIRST_TEXT_MODEL_LATENCY, TOKEN_DELAY)
    msgs = await rig.paced(
        warm, 4, FIRST_TEXT_MESSAGES / 4, plan, max_wait=_timeout(FIRST_TEXT_MESSAGES) + 5
    )
    first = _ms(min(m.first_partial, m.final) - m.pushed for m in msgs)
    results.add("first_text_ms_classifier_400", percentile(first, 50))
    results.extra("first_text_p99_ms_classifier_400", percentile(first, 99), "same, p99, ms")
    results.notes["first_text_ms_classifier_400"] = (
        f"{len(msgs)} texts at 4/s to existing chats; classifier "
        f"{FIRST_TEXT_CLASSIFIER_LATENCY * 1000:.0f} ms, the answer's first token "
        f"{FIRST_TEXT_MODEL_LATENCY * 1000:.0f} ms after its request, 40 deltas; update "
        "available -> first sendMessageDraft or sendMessage received, median"
    )
    rig.openai.classifier_latency = CLASSIFIER_LATENCY
    _check(rig, results, "first-text pass")


async def _saturation_pass(rig: Rig, mode: Mode, warm: list[int], results: Results) -> None:
    rig.openai.classifier_latency = 0.0
    answered, window = await rig.saturate(
        warm,
        mode.saturation_window,
        short_plan(0.0, 0.0),
        ramp=mode.preroll_s,
        seconds=mode.saturation_seconds,
        max_wait=_timeout(mode.saturation_window),
    )
    results.add("replies_per_s", answered / window.wall_s)
    _connections(results, window, answered, "_at_saturation")
    results.extra(
        "bot_cpu_pct_at_saturation", window.bot_cpu_pct, "bot CPU use at saturation, % of one core"
    )
    results.extra(
        "cpu_ms_per_reply_at_saturation",
        1000 * window.cpu_s / max(1, answered),
        "bot CPU per reply at saturation (latency 0), ms",
    )
    results.notes["replies_per_s"] = (
        f"closed loop, {mode.saturation_window} texts outstanding over existing chats, classifier "
        f"and model latency 0, 3 deltas at once; answers counted over "
        f"{mode.saturation_seconds:g} s after a {mode.preroll_s:g} s ramp"
    )
    _warn_if_harness_bound(results, "saturation", window)
    _check(rig, results, "saturation")


# ------------------------------------------------------------------ fresh processes


async def run_burst(
    mode: Mode, workdir: Path, results: Results, bot_env: Mapping[str, str]
) -> None:
    async with Rig(workdir / "burst", bot_env=bot_env) as rig:
        # A few answers first, so one-time start-up work (connections, lazy imports) is done.
        rig.openai.classifier_latency = 0.0
        warm = list(range(BURST_CHAT_BASE - 50, BURST_CHAT_BASE))
        await rig.closed_loop(
            warm, len(warm), 16, short_plan(0.0, 0.0), reuse=False, max_wait=_timeout(len(warm))
        )
        await asyncio.sleep(0.3)
        rig.openai.classifier_latency = CLASSIFIER_LATENCY
        chats = list(range(BURST_CHAT_BASE, BURST_CHAT_BASE + mode.burst_chats))
        plan = short_plan(BURST_MODEL_LATENCY, TOKEN_DELAY)
        mark = rig.mark()
        started = time.monotonic()
        msgs = await rig.burst(chats, plan, max_wait=_timeout(len(chats)))
        wall = max(m.final for m in msgs) - started
        window = await rig.window_since(mark, msgs)
        results.add("wall_s_1000_chats_1s_model", wall)
        results.extra("burst_bot_cpu_s", window.cpu_s, "bot CPU spent on the burst, s")
        results.extra(
            "burst_max_concurrent_streams",
            float(rig.openai.max_active_streams),
            "answer streams open at once during the burst (MAX_CONCURRENT_CHATS bounds it)",
        )
        results.extra(
            "burst_first_answer_s",
            min(m.final for m in msgs) - started,
            "burst: seconds until the first chat is answered",
        )
        size = "" if mode.burst_chats == 1000 else f" ({mode.burst_chats} chats in this mode)"
        results.notes["wall_s_1000_chats_1s_model"] = (
            f"fresh bot (50 warm-up answers first); {mode.burst_chats} new private chats send one "
            f"text each, all queued at once{size}; classifier "
            f"{CLASSIFIER_LATENCY * 1000:.0f} ms, model first token {BURST_MODEL_LATENCY:g} s, "
            "3 deltas; seconds from queuing to the last final sendMessage"
        )
        _check(rig, results, "burst")


async def run_limited_burst(workdir: Path, results: Results, bot_env: Mapping[str, str]) -> None:
    """LIMITS_CHATS new chats at once under Telegram's default limits: the final answers must
    not queue behind typing indicators and drafts (bot/flood.py)."""
    async with Rig(workdir / "limits", bot_env={**bot_env, **DEFAULT_LIMITS}) as rig:
        rig.openai.classifier_latency = 0.0
        warm = list(range(LIMITS_CHAT_BASE - 10, LIMITS_CHAT_BASE))
        await rig.closed_loop(
            warm, len(warm), 4, short_plan(0.0, 0.0), reuse=False, max_wait=_timeout(len(warm))
        )
        await asyncio.sleep(1.5)  # the limiter's bucket empties again
        rig.openai.classifier_latency = CLASSIFIER_LATENCY
        chats = list(range(LIMITS_CHAT_BASE, LIMITS_CHAT_BASE + LIMITS_CHATS))
        plan = short_plan(BURST_MODEL_LATENCY, TOKEN_DELAY)
        started = time.monotonic()
        msgs = await rig.burst(chats, plan, max_wait=_timeout(len(chats)) + 30)
        results.add("wall_s_100_chats_default_limits", max(m.final for m in msgs) - started)
        results.notes["wall_s_100_chats_default_limits"] = (
            f"fresh bot (10 warm-up answers first) at TELEGRAM_RATE_LIMIT_PER_SECOND=30; "
            f"{LIMITS_CHATS} new private chats send one text each, all queued at once; classifier "
            f"{CLASSIFIER_LATENCY * 1000:.0f} ms, model first token {BURST_MODEL_LATENCY:g} s, 3 "
            "deltas; seconds from queuing to the last final sendMessage (the limit alone allows "
            f"about {BURST_MODEL_LATENCY + LIMITS_CHATS / 30:.1f})"
        )
        _check(rig, results, "limits")


async def run_rss(mode: Mode, workdir: Path, results: Results, bot_env: Mapping[str, str]) -> None:
    async with Rig(workdir / "rss", bot_env=bot_env) as rig:
        rig.openai.classifier_latency = 0.0
        plan = short_plan(0.0, 0.0)
        start_rss = rig.bot.rss_mb()
        total = mode.rss_chats
        half = total // 2
        chats = list(range(RSS_CHAT_BASE, RSS_CHAT_BASE + total))
        await rig.closed_loop(chats[:half], half, 64, plan, reuse=False, max_wait=_timeout(half))
        await asyncio.sleep(0.3)
        rss_half = rig.bot.rss_mb()
        await rig.closed_loop(
            chats[half:], total - half, 64, plan, reuse=False, max_wait=_timeout(total - half)
        )
        await asyncio.sleep(0.3)
        rss_end = rig.bot.rss_mb()
        slope = (rss_end - rss_half) / (total - half)
        if total >= RSS_TARGET_CHATS:
            value, how = rss_end, f"measured after {total:,} chats"
        else:
            value = rss_end + (RSS_TARGET_CHATS - total) * max(0.0, slope)
            how = (
                f"measured {rss_end:.1f} MB after {total:,} chats and extrapolated linearly to "
                f"{RSS_TARGET_CHATS:,} with the slope between {half:,} and {total:,} chats "
                f"({1000 * slope:.2f} MB per 1,000 chats); run without --quick to measure it"
            )
        results.add("rss_mb_10k_chats", value)
        results.extra("rss_mb_at_start", start_rss, "bot RSS right after start-up, MB")
        results.extra(
            "rss_mb_per_1000_chats",
            1000 * slope,
            f"RSS growth per 1,000 more chats ({half:,} -> {total:,}), MB",
        )
        results.notes["rss_mb_10k_chats"] = (
            f"VmRSS of a fresh bot process after new private chats were each answered once "
            f"(64 outstanding, model latency 0); {how}"
        )
        _check(rig, results, "rss")


async def run_db(mode: Mode, cache_dir: Path, results: Results) -> None:
    result = await run_db_bench(cache_dir, mode.db_rows, mode.db_messages)
    results.add("db_ms_per_message_1m_chats", result.ms_per_message)
    results.extra(
        "db_ms_per_message_p99", result.ms_per_message_p99, "storage time per message, p99, ms"
    )
    results.extra(
        "db_ms_per_new_chat_message",
        result.ms_new_chat,
        "storage time for a new chat's first message (insert + conversation), ms",
    )
    if result.build_s:
        results.extra(
            "db_build_s",
            result.build_s,
            f"seconds to build the {result.rows:,}-chat database (cached after)",
        )
    size = "" if result.rows == 1_000_000 else " (not 1,000,000: smaller in this mode)"
    results.notes["db_ms_per_message_1m_chats"] = (
        f"storage package alone, in the harness process: {result.rows:,} chats stored{size}, "
        f"{result.file_mb:.0f} MB file; per message chats.ensure + assistants.default + "
        "transcript.append_answer (question, answer, usage) on a random existing chat, "
        f"sequential, mean of {result.messages:,} messages (wall time, aiosqlite thread hops "
        "included)"
    )
