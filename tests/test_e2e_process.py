"""The real entry point: `python -m app` as a process on the fakes, stopped by SIGTERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.botprocess import start_process, stop_process
from testkit.fake_openai import API_KEY, FakeOpenAI
from testkit.fake_telegram import TOKEN, FakeTelegram

#: Starts the bot as a separate process, or searches many inputs: deselect with -m "not slow".
pytestmark = pytest.mark.slow


async def test_process_answers_stops_on_sigterm_and_keeps_the_conversation(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path
) -> None:
    process = await start_process(tg, ai, tmp_path)
    try:
        tg.private_text("hello from a real process", chat_id=77)
        await tg.wait_for("sendMessage", 1, timeout=30)
    finally:
        log = await stop_process(process)
    assert tg.sent_texts(77) == ["Echo: hello from a real process"]
    assert (tmp_path / "data" / "bot.sqlite3").stat().st_mode & 0o777 == 0o600
    assert "answered chat=77" in log and "latency_ms=" in log
    assert TOKEN not in log and API_KEY not in log

    process = await start_process(tg, ai, tmp_path)
    try:
        tg.private_text("and again", chat_id=77)
        await tg.wait_for("sendMessage", 2, timeout=30)
    finally:
        await stop_process(process)
    answers = [r.body for r in ai.requests_to("/v1/responses") if r.body and r.body.get("stream")]
    assert len({b["conversation"] for b in answers if b}) == 1
