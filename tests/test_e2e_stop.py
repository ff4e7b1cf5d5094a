"""End to end: the Stop button of a streaming answer (bot/stopping.py, handlers/stop.py)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from bot.i18n import t
from testkit.fake_openai import FakeOpenAI, Reply
from testkit.fake_telegram import FakeTelegram
from testkit.running import RunningBot
from tests.conftest import eventually

GROUP = -1009001
ASKER, OTHER, ADMIN_OF_GROUP = 3101, 3102, 3103
WORDS = " ".join(f"word{n}" for n in range(200))


def _stop_data(message: dict[str, Any]) -> str | None:
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            if str(button.get("callback_data", "")).startswith("stop:"):
                return str(button["callback_data"])
    return None


async def _stop_button(tg: FakeTelegram, chat_id: int) -> tuple[int, str]:
    """(message id, callback data) of the Stop button showing in the chat."""
    found: list[tuple[int, str]] = []

    async def shown() -> bool:
        found[:] = [
            (int(m["message_id"]), data)
            for m in tg.messages_in(chat_id)
            if (data := _stop_data(m)) is not None
        ]
        return bool(found)

    await eventually(shown)
    return found[0]


async def test_in_a_group_the_asker_stops_the_answer_and_the_chat_goes_on(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot: RunningBot = await start_bot()
    step = asyncio.Semaphore(0)
    ai.script(Reply(text=WORDS, step=step))  # streams one word per release
    tg.group_text("@test_ai_bot tell me everything", chat_id=GROUP, user_id=ASKER)
    for _ in range(5):
        step.release()
    message_id, data = await _stop_button(tg, GROUP)
    tg.group_text("@test_ai_bot and then?", chat_id=GROUP, user_id=ASKER)  # waits its turn

    tg.callback_query(GROUP, message_id, data, user_id=OTHER)  # not theirs
    [refused] = await tg.wait_for("answerCallbackQuery")
    assert refused.params["text"] == t("en", "stop_not_yours")

    tg.callback_query(GROUP, message_id, data, user_id=ASKER)
    await tg.wait_for("answerCallbackQuery", 2)

    # the streamed message becomes the final answer: what was written, marked, no button
    async def stopped() -> bool:
        first = next(m for m in tg.messages_in(GROUP) if m["message_id"] == message_id)
        return str(first["text"]).endswith(t("en", "answer_stopped"))

    await eventually(stopped)
    first = next(m for m in tg.messages_in(GROUP) if m["message_id"] == message_id)
    assert str(first["text"]).startswith("word0 word1") and "word199" not in first["text"]
    assert _stop_data(first) is None

    # the chat's turn is free at once: the next message is answered
    async def next_answered() -> bool:
        return any(m["text"] == "Echo: [Bea] and then?" for m in tg.messages_in(GROUP))

    await eventually(next_answered)
    # on record with its status, and the conversation ends with what the group saw
    rows = list(
        await bot.storage.conn.execute_fetchall(
            "SELECT text, status FROM transcript WHERE role = 'assistant' ORDER BY id"
        )
    )
    assert rows[0][1] == "stopped" and str(rows[0][0]).startswith("word0")
    conv = next(c for c in ai.conversations.values() if c)
    assistant = [i for i in conv if i.get("role") == "assistant"]
    assert "word0" in str(assistant[0]["content"])


async def test_a_group_admin_may_stop_someone_elses_answer(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.chat_admins[(GROUP, ADMIN_OF_GROUP)] = "administrator"
    step = asyncio.Semaphore(0)
    ai.script(Reply(text=WORDS, step=step))
    tg.group_text("@test_ai_bot go on", chat_id=GROUP, user_id=ASKER)
    step.release()
    message_id, data = await _stop_button(tg, GROUP)
    tg.callback_query(GROUP, message_id, data, user_id=ADMIN_OF_GROUP)
    [press] = await tg.wait_for("answerCallbackQuery")
    assert press.params["text"] == t("en", "stop_done")


async def test_in_a_private_chat_a_long_answer_gets_a_stop_message_removed_at_the_end(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(stop_button_after_seconds=0.1)
    step = asyncio.Semaphore(0)
    ai.script(Reply(text=WORDS, step=step))
    tg.private_text("write a lot", chat_id=ASKER)
    step.release()
    message_id, data = await _stop_button(tg, ASKER)
    tg.callback_query(ASKER, message_id, data, user_id=ASKER)

    async def finished() -> bool:
        texts = [str(m["text"]) for m in tg.messages_in(ASKER)]
        return any(text.endswith(t("en", "answer_stopped")) for text in texts)

    await eventually(finished)
    await tg.wait_for("deleteMessage")
    messages = tg.messages_in(ASKER)
    assert len(messages) == 1 and _stop_data(messages[0]) is None  # the Stop message is gone
    assert str(messages[0]["text"]).startswith("word0")


async def test_a_short_private_answer_shows_no_stop_message(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()  # STOP_BUTTON_AFTER_SECONDS=2: a quick answer never shows it
    tg.private_text("hi", chat_id=ASKER)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == ASKER)
    assert [m["text"] for m in tg.messages_in(ASKER)] == ["Echo: hi"]


async def test_a_press_after_the_answer_ended_says_so(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    step = asyncio.Semaphore(0)
    ai.script(Reply(text="one two three", step=step))
    tg.group_text("@test_ai_bot hi", chat_id=GROUP, user_id=ASKER)
    step.release()
    _, data = await _stop_button(tg, GROUP)
    pressed_on = copy.deepcopy(next(m for m in tg.messages_in(GROUP) if _stop_data(m)))
    for _ in range(5):
        step.release()

    async def ended() -> bool:
        return any(m["text"] == "one two three" for m in tg.messages_in(GROUP))

    await eventually(ended)
    # pressed as the answer ended: Telegram delivers the press with the message as it was
    user = {"id": ASKER, "is_bot": False, "first_name": "Bea", "language_code": "en"}
    tg.push_update(
        {
            "callback_query": {
                "id": "77",
                "from": user,
                "message": pressed_on,
                "chat_instance": "1",
                "data": data,
            }
        }
    )
    [late] = await tg.wait_for("answerCallbackQuery")
    assert late.params["text"] == t("en", "stop_too_late")
