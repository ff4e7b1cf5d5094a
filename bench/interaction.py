"""The `interaction` scenario (issue 14): what a speculative answer leaves behind, and how fast
Stop frees a chat.

The real bot runs as a process (`python -m app`) against the test fakes (testkit/): only the
fake OpenAI keeps conversations (so a discarded answer's trace can be looked for) and only the
fake Telegram has inline buttons to press. Both fakes' clocks are this process's monotonic one.

- `refused_leaves_no_trace`: messages in several private chats, every other one refused by the
  classifier, which answers after 0, 50 or 300 ms while the speculative answer streams (so some
  discarded answers are cut mid-stream and some had completed): the share of refused messages
  whose text appears in no conversation afterwards.
- `stop_to_free_ms`: a group answer streams (held after a few words); the asker's next message
  waits for the chat's turn; Stop is pressed: milliseconds from the press reaching Telegram to
  the next message's first request at OpenAI (the chat free again). Median of the presses.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.report import Results
from testkit.botprocess import start_process, stop_process
from testkit.fake_openai import FakeOpenAI, Reply, wrap_label
from testkit.fake_telegram import FakeTelegram

REFUSAL_CHATS = 6
REFUSAL_ROUNDS = 4  # per chat: answered, refused, answered, refused...
CLASSIFIER_DELAYS = (0.0, 0.05, 0.3)
STOPS = 5
GROUP = -1_007_000
ASKER = 7_001
_WAIT = 20.0


async def _until(check: Any, within: float = _WAIT) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("bench interaction: condition not met in time")
        await asyncio.sleep(0.005)


def _classifier(body: dict[str, Any]) -> Reply:
    text = FakeOpenAI.input_texts(body)[-1]
    label = "abusive" if "idiot" in text else "general"
    digits = [int(c) for c in text if c.isdigit()]
    delay = CLASSIFIER_DELAYS[sum(digits) % len(CLASSIFIER_DELAYS)]
    schema = body["text"]["format"]["schema"]
    return Reply(text=json.dumps(wrap_label(schema, label)), latency=delay)


def _answer(body: dict[str, Any]) -> Reply:
    text = FakeOpenAI.input_texts(body)[-1]
    return Reply(text=f"Echo: {text} " + "more words " * 20, latency=0.02, token_delay=0.01)


async def _refusals(tg: FakeTelegram, ai: FakeOpenAI) -> float:
    ai.classifier = _classifier
    ai.default_reply = _answer
    refused: list[str] = []
    for round_ in range(REFUSAL_ROUNDS):
        for chat in range(REFUSAL_CHATS):
            n = round_ * REFUSAL_CHATS + chat
            text = f"message {n}" if round_ % 2 == 0 else f"you idiot {n}"
            if round_ % 2:
                refused.append(text)
            tg.private_text(text, chat_id=8_000 + chat)
        want = (round_ + 1) * REFUSAL_CHATS
        await _until(lambda want=want: len(_finals(tg)) >= want)
    kept = json.dumps(list(ai.conversations.values()))
    return sum(text not in kept for text in refused) / len(refused)


def _finals(tg: FakeTelegram) -> list[Any]:
    return [
        c for c in tg.calls if c.method == "sendMessage" and not c.failed and c.result is not None
    ]


def _stop_data(tg: FakeTelegram, chat: int) -> tuple[int, str] | None:
    for message in tg.messages_in(chat):
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                data = str(button.get("callback_data", ""))
                if data.startswith("stop:"):
                    return int(message["message_id"]), data
    return None


async def _stops(tg: FakeTelegram, ai: FakeOpenAI) -> list[float]:
    ai.classifier = lambda body: "general"
    waits = []
    for n in range(STOPS):
        step = asyncio.Semaphore(3)  # three words, then held until stopped
        ai.script(Reply(text="word " * 200, step=step))
        tg.group_text(f"@test_ai_bot long {n}", chat_id=GROUP, user_id=ASKER)
        await _until(lambda: _stop_data(tg, GROUP) is not None)
        found = _stop_data(tg, GROUP)
        assert found is not None
        nxt = f"next {n}"
        tg.group_text(f"@test_ai_bot {nxt}", chat_id=GROUP, user_id=ASKER)
        await asyncio.sleep(0.1)  # the next message is waiting for the chat's turn
        pressed = time.monotonic()
        tg.callback_query(GROUP, found[0], found[1], user_id=ASKER)

        def started(nxt: str = nxt) -> list[float]:
            return [
                r.at
                for r in ai.requests_to("/v1/responses")
                if r.body is not None and nxt in json.dumps(r.body.get("input"))
            ]

        await _until(lambda: bool(started()))
        waits.append((min(started()) - pressed) * 1000)
        # answered: the group's message shows it (sent whole, or a preview edited into it)
        await _until(lambda nxt=nxt: any(nxt in str(m.get("text")) for m in tg.messages_in(GROUP)))
        await _until(lambda: _stop_data(tg, GROUP) is None)
    return waits


async def run_interaction(workdir: Path, results: Results) -> None:
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before anything runs)
    # A fresh database each run: the fake Telegram numbers its updates from the same id again,
    # and a database kept from an earlier run has those ids in its inbox (dropped as repeats).
    for stale in workdir.glob("bot.sqlite3*"):  # noqa: ASYNC240
        stale.unlink()
    async with FakeTelegram() as tg, FakeOpenAI(validate=False) as ai:
        process = await start_process(
            tg,
            ai,
            workdir,
            database_url=f"sqlite:///{workdir / 'bot.sqlite3'}",
            log_level="WARNING",
            rate_limit_per_minute="0",
            daily_token_budget="0",
            telegram_rate_limit_per_second="1000",
            telegram_group_rate_limit_per_minute="60000",
            stream_edit_interval_seconds="0.2",
        )
        try:
            await _until(lambda: any(c.method == "getUpdates" for c in tg.calls), 60)
            share = await _refusals(tg, ai)
            waits = await _stops(tg, ai)
        finally:
            await stop_process(process)
    results.add("refused_leaves_no_trace", share)
    results.add("stop_to_free_ms", statistics.median(waits))
    results.extra("stop_to_free_max_ms", max(waits), "the slowest of the Stop presses, ms")
    results.notes["refused_leaves_no_trace"] = (
        f"{REFUSAL_CHATS} private chats x {REFUSAL_ROUNDS} messages, every other one refused; "
        f"classifier after {', '.join(f'{d * 1000:.0f}' for d in CLASSIFIER_DELAYS)} ms while "
        "the speculative answer streams; share of refused texts found in no conversation after"
    )
    results.notes["stop_to_free_ms"] = (
        f"{STOPS} group answers held after 3 words, the asker's next message waiting; Stop "
        "pressed -> the next message's first request at OpenAI, median"
    )
