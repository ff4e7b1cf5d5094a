"""An answer Telegram fails to take (5xx for a while) is not lost: it stays pending and is
delivered once Telegram recovers, in the chat's order, or at the next start.

Backoffs are shrunk (the processor's retry delays, the tenacity wait of final sends) so the
tests only wait for events, never for time to pass.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tenacity import wait_none

import bot.delivery
from bot.ordering import ChatOrderedProcessor
from storage import ChatKey
from testkit.botprocess import kill_process, start_process, stop_process
from testkit.fake_openai import FakeOpenAI, Reply
from testkit.fake_telegram import FakeTelegram
from testkit.running import RunningBot
from tests.conftest import eventually
from tests.test_e2e_vision import _data_url, make_image

DELAY_NOTE = "Sorry for the delay"


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.delivery.send_rendered.retry, "wait", wait_none())


async def _start(start_bot: Any, **settings: Any) -> RunningBot:
    running: RunningBot = await start_bot(**settings)
    processor = running.app.update_processor
    assert isinstance(processor, ChatOrderedProcessor)
    processor.retry_first_delay = processor.retry_max_delay = 0.01
    return running


def _answers(ai: FakeOpenAI) -> int:
    return len([r for r in ai.requests_to("/v1/responses") if r.body and r.body.get("stream")])


async def _states(running: RunningBot) -> list[str]:
    rows = await running.storage.conn.execute_fetchall("SELECT state FROM inbox ORDER BY update_id")
    return [r[0] for r in rows]


async def test_an_answer_telegram_refused_ten_times_is_delivered_once_it_recovers(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    running = await _start(start_bot)
    tg.fail_next("sendMessage", status=502, retry_after=None, count=10)
    tg.private_text("are you there?", chat_id=81)
    await eventually(lambda: _has(tg, 81, "Echo: are you there?"), timeout=30)
    await eventually(lambda: _equals(_states(running), ["done"]))
    texts = tg.sent_texts(81)
    assert texts[0].startswith(DELAY_NOTE)
    assert texts[1:] == ["Echo: are you there?"]  # once, after the note
    assert _answers(ai) == 1  # the answer written the first time was kept, not asked again
    entries = await running.storage.transcript.recent(ChatKey(81), 10)
    assert [(e.role, e.text) for e in entries] == [
        ("user", "are you there?"),
        ("assistant", "Echo: are you there?"),
    ]


async def test_a_redelivery_is_not_refused_by_the_rate_limit_its_first_run_passed(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    # One message a minute: the first run takes the user's only slot; its retries must deliver
    # the kept answer, not "too many messages".
    running = await _start(start_bot, rate_limit_per_minute=1)
    tg.fail_next("sendMessage", status=502, retry_after=None, count=10)
    tg.private_text("only one", chat_id=87)
    await eventually(lambda: _equals(_states(running), ["done"]), timeout=30)
    texts = tg.sent_texts(87)
    assert texts[0].startswith(DELAY_NOTE)
    assert texts[1:] == ["Echo: only one"]
    assert _answers(ai) == 1


async def test_a_later_message_of_the_chat_waits_behind_the_undelivered_one(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    running = await _start(start_bot)
    tg.fail_next("sendMessage", status=502, retry_after=None, count=10_000)
    tg.private_text("first", chat_id=82)
    await tg.wait_for("sendMessage", 8, timeout=30)  # the first try and one retry failed
    tg.private_text("second", chat_id=82)
    await tg.wait_for("sendMessage", 16, timeout=30)  # still failing, a few retries later
    tg.clear_failures("sendMessage")
    await eventually(lambda: _has(tg, 82, "Echo: second"), timeout=30)
    texts = tg.sent_texts(82)
    assert texts[0].startswith(DELAY_NOTE)
    assert texts[1:] == ["Echo: first", "Echo: second"]
    # not even a failed attempt at the second answer came before the first was delivered
    attempts = [str(c.params.get("text")) for c in tg.calls_to("sendMessage")]
    assert "Echo: second" not in attempts[: attempts.index("Echo: first")]
    await eventually(lambda: _equals(_states(running), ["done", "done"]))


async def test_a_long_answer_cut_between_parts_resumes_at_the_missing_part(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    running = await _start(start_bot)
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(12)]  # ~9,000 characters
    ai.script(Reply(text="\n\n".join(paragraphs)))
    tg.fail_next("sendMessage", status=502, retry_after=None, count=4, after=1)  # part 2 fails
    tg.private_text("tell me a long story", chat_id=86)
    await eventually(lambda: _equals(_states(running), ["done"]), timeout=30)
    first, note, *rest = tg.sent_texts(86)
    assert first.startswith("Paragraph 0:")
    assert note.startswith(DELAY_NOTE)
    assert rest and rest[0].startswith(tuple(f"Paragraph {i}:" for i in range(1, 12)))
    assert not any(text.startswith("Paragraph 0:") for text in rest)  # part 1 not sent again
    assert rest[-1].rstrip().endswith("word")
    assert _answers(ai) == 1


async def test_a_chat_that_blocked_the_bot_is_not_retried(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    running = await _start(start_bot)
    tg.fail_next(
        "sendMessage",
        status=403,
        retry_after=None,
        description="Forbidden: bot was blocked by the user",
        count=2,
    )
    tg.private_text("blocked you", chat_id=83)
    await eventually(lambda: _equals(_states(running), ["done"]), timeout=15)
    assert len(tg.calls_to("sendMessage")) == 2  # the answer and the error notice, no retry


async def test_past_the_replay_age_an_undelivered_message_is_given_up(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    running = await _start(start_bot, inbox_replay_max_age_seconds=0)
    tg.fail_next("sendMessage", status=502, retry_after=None, count=10_000)
    tg.private_text("too late", chat_id=84)
    await eventually(lambda: _equals(_states(running), ["expired"]), timeout=15)
    assert len(tg.calls_to("sendMessage")) == 4  # one send and its tenacity retries


@pytest.mark.slow
async def test_a_restart_while_telegram_fails_answers_at_the_next_start(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path
) -> None:
    tg.fail_next("sendMessage", status=502, retry_after=None, count=10_000)
    # a long grace: stopping must not wait for it (a retry waiting for Telegram stops waiting)
    process = await start_process(tg, ai, tmp_path, shutdown_grace_seconds="600")
    try:
        tg.private_text("answer me some day", chat_id=85)
        # the answer's send gave up (4 tries), then a retry 2 s later is under way
        await tg.wait_for("sendMessage", 9, timeout=60)
        log = await stop_process(process, timeout=60)  # 60 s: a deadlock guard only
    finally:
        if process.returncode is None:
            await kill_process(process)
    assert "left pending for the next start" in log
    with sqlite3.connect(tmp_path / "data" / "bot.sqlite3") as db:
        assert db.execute("SELECT state FROM inbox").fetchall() == [("pending",)]
    tg.clear_failures("sendMessage")
    process = await start_process(tg, ai, tmp_path)
    try:
        await eventually(lambda: _has(tg, 85, "Echo: answer me some day"), timeout=30)
    finally:
        await stop_process(process)
    texts = tg.sent_texts(85)
    assert texts[0].startswith(DELAY_NOTE)
    assert texts[1:] == ["Echo: answer me some day"]
    with sqlite3.connect(tmp_path / "data" / "bot.sqlite3") as db:
        assert db.execute("SELECT state FROM inbox").fetchall() == [("done",)]


async def _has(tg: FakeTelegram, chat_id: int, text: str) -> bool:
    return text in tg.sent_texts(chat_id)


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_an_albums_retry_answers_all_its_photos(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    # The album's first reply (the "one photo was skipped" notice) fails before the answer is
    # written: the retry runs the album's turn again, and must see all its parts, not only the
    # photo that led it.
    await _start(start_bot, album_quiet_seconds=0.3)
    photos = [make_image("JPEG", (40 + i, 30)) for i in range(2)]
    tg.fail_next("sendMessage", status=502, retry_after=None, count=4)  # one send, all tries
    for i, data in enumerate([*photos, b"not an image at all"]):
        tg.media_message(
            {"photo": tg.photo_sizes(data, 40 + i, 30)},
            chat_id=88,
            media_group_id="album-retry",
            caption="compare these" if i == 0 else None,
        )
    await eventually(lambda: _has_prefix(tg, 88, "Echo: compare these"), timeout=30)
    [request] = [r for r in ai.requests_to("/v1/responses") if r.body and r.body.get("stream")]
    images = [
        part["image_url"]
        for item in request.body["input"]  # type: ignore[index]
        for part in item.get("content", [])
        if isinstance(part, dict) and part.get("type") == "input_image"
    ]
    assert images == [_data_url("image/jpeg", data) for data in photos]


async def _has_prefix(tg: FakeTelegram, chat_id: int, prefix: str) -> bool:
    return any(text.startswith(prefix) for text in tg.sent_texts(chat_id))


async def test_a_retried_reply_without_the_model_puts_the_question_on_record_once(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    running = await _start(start_bot)
    ai.classifier = lambda body: "abusive"  # the refuse route: no answer, one fixed reply
    tg.fail_next("sendMessage", status=502, retry_after=None, count=8)  # two sends, all tries
    tg.private_text("you are useless", chat_id=89)
    await eventually(lambda: _equals(_states(running), ["done"]), timeout=30)
    texts = tg.sent_texts(89)
    assert texts[0].startswith(DELAY_NOTE) and len(texts) == 2
    entries = await running.storage.transcript.recent(ChatKey(89), 10)
    assert [(e.role, e.text) for e in entries] == [("user", "you are useless")]


async def test_a_voice_notes_retry_neither_transcribes_nor_quotes_again(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, quick_retries: None
) -> None:
    running = await _start(start_bot)
    voice = b"OggS\x00\x02" + bytes(20) + b"retried-voice"
    ai.transcripts[voice] = "are you there?"
    tg.fail_next("sendMessage", status=502, retry_after=None, count=10, after=1)  # the quote passes
    tg.media_message(tg.voice(voice, 2), chat_id=82)
    await eventually(lambda: _has(tg, 82, "Echo: are you there?"), timeout=30)
    await eventually(lambda: _equals(_states(running), ["done"]))
    texts = tg.sent_texts(82)
    assert texts[0] == "🎤 are you there?" and texts[1].startswith(DELAY_NOTE)
    assert texts[2:] == ["Echo: are you there?"]
    assert len(ai.requests_to("/v1/audio/transcriptions")) == 1 and _answers(ai) == 1
    assert len(tg.calls_to("getFile")) == 1
    entries = await running.storage.transcript.recent(ChatKey(82), 10)
    assert [(e.role, e.text) for e in entries] == [
        ("user", "🎤 are you there?"),
        ("assistant", "Echo: are you there?"),
    ]
