"""The duplicate window: `python -m bench.experiments.duplicate_window [messages]`.

Telegram has no idempotency key, so a crash (kill -9) after Telegram accepted an answer's final
message but before the bot recorded it as delivered makes the next start answer that message
again. This measures how long that window is: from the fake Bot API receiving the final
`sendMessage` (`Call.at`) to the return of the one write that marks the inbox row done
(`TranscriptRepository.append_answer`: question, answer, usage and the inbox mark in one
transaction, committed when it returns). "to write start" is the part before that write is
handed to SQLite.

The real application runs in-process against the test fakes (`bench.experiments.inprocess`):
fakes and bot share one event loop, so the fake's own work of answering the call (writing the
HTTP response) is inside the measured time; the figures are an upper bound. Two runs: messages
one after another (an idle bot), and all at once in as many chats (a loaded one).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

from bench.experiments.inprocess import in_process_bot
from bench.tracking import percentile
from storage import ChatKey

DEFAULT_MESSAGES = 200


async def _measure(messages: int) -> dict[str, dict[str, float]]:
    async with in_process_bot(
        telegram_rate_limit_per_second=100_000, max_concurrent_chats=messages
    ) as (tg, _ai, bot):
        transcript = bot.storage.transcript
        write = transcript.append_answer
        started: dict[int, float] = {}
        committed: dict[int, float] = {}
        progress = asyncio.Event()

        async def timed_write(key: ChatKey, *args: Any, **kwargs: Any) -> None:
            started[key.chat_id] = time.monotonic()
            await write(key, *args, **kwargs)
            committed[key.chat_id] = time.monotonic()
            progress.set()

        async def until(done: Any) -> None:
            while not done():
                progress.clear()
                await progress.wait()

        transcript.append_answer = timed_write  # type: ignore[method-assign]

        async def run(first_chat: int, at_once: bool) -> dict[str, float]:
            chats = range(first_chat, first_chat + messages)
            for chat in chats:
                tg.private_text("hello", chat_id=chat)
                if not at_once:
                    await until(lambda: chat in committed)  # noqa: B023 (awaited at once)
            await until(lambda: all(chat in committed for chat in chats))
            final = {
                c.params["chat_id"]: c.at
                for c in tg.calls_to("sendMessage")
                if not c.failed and c.params["chat_id"] in committed
            }
            window = [(committed[c] - final[c]) * 1e6 for c in chats]
            before = [(started[c] - final[c]) * 1e6 for c in chats]
            return {
                "median_us": statistics.median(window),
                "p99_us": percentile(window, 99),
                "max_us": max(window),
                "to_write_start_median_us": statistics.median(before),
            }

        return {
            "one at a time": await run(200_000, at_once=False),
            f"{messages} at once": await run(400_000, at_once=True),
        }


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MESSAGES
    results = asyncio.run(_measure(messages))
    print(f"final sendMessage received -> inbox row done (committed), {messages} messages")
    print(f"{'run':16s} {'median':>9s} {'p99':>9s} {'max':>9s} {'to write start':>15s}")
    for name, r in results.items():
        print(
            f"{name:16s} {r['median_us']:6.0f} µs {r['p99_us']:6.0f} µs {r['max_us']:6.0f} µs"
            f" {r['to_write_start_median_us']:12.0f} µs"
        )


if __name__ == "__main__":
    main()
