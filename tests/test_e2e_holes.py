"""End to end: input Telegram would not send but a forged update (or a local Bot API server)
can, and a database that was lost: refused, sanitised or warned about, never a crash.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import ADMIN_ID, RunningBot
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.fake_telegram import FakeTelegram
from tests.test_e2e_vision import make_image

EXPIRED = "This button has expired. Start again with the command."


async def _admin_says(tg: FakeTelegram, text: str, count: int) -> dict[str, Any]:
    """The admin writes in their private chat; returns the bot's `count`-th message there."""
    tg.private_text(text, chat_id=ADMIN_ID)
    await tg.wait_for(
        "sendMessage", count, where=lambda c: c.params["chat_id"] == ADMIN_ID and not c.failed
    )
    return tg.messages_in(ADMIN_ID)[count - 1]


def _with_buttons(tg: FakeTelegram) -> dict[str, Any]:
    """The admin chat's newest bot message that has buttons."""
    return next(m for m in reversed(tg.messages_in(ADMIN_ID)) if m.get("reply_markup"))


def _press(tg: FakeTelegram, message: dict[str, Any], data: str) -> None:
    """The admin presses a button with `data` on `message`, whether the bot sent it or not."""
    tg.push_update(
        {
            "callback_query": {
                "id": f"press-{len(tg.calls)}",
                "from": {
                    "id": ADMIN_ID,
                    "is_bot": False,
                    "first_name": "Ad",
                    "language_code": "en",
                },
                "message": message,
                "chat_instance": "77",
                "data": data,
            }
        }
    )


async def _answered(tg: FakeTelegram, count: int) -> dict[str, Any]:
    """The `count`-th answerCallbackQuery's parameters."""
    calls = await tg.wait_for("answerCallbackQuery", count)
    return calls[count - 1].params


async def test_forged_and_stale_buttons_are_refused_and_change_nothing(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot: RunningBot = await start_bot()
    services = bot.services
    await _admin_says(tg, "/newassistant Edit Me | Old.", 1)
    before = await services.assistants.by_name("Edit Me")
    assert before is not None
    await _admin_says(tg, "/editassistant Edit Me", 2)
    menu = _with_buttons(tg)
    answers = 0

    async def refused(message: dict[str, Any], data: str) -> None:
        nonlocal answers
        _press(tg, message, data)
        answers += 1
        params = await _answered(tg, answers)
        assert params.get("text") == EXPIRED and params.get("show_alert") is True, (data, params)

    async def pressed(message: dict[str, Any], data: str) -> None:
        nonlocal answers
        _press(tg, message, data)
        answers += 1
        assert not (await _answered(tg, answers)).get("text"), data

    # the menu: a field it does not offer (the KeyError of issue 10), and one it never offers
    await refused(menu, "ea:f:bogus")
    await refused(menu, "ea:f:name")
    # models: an index beyond the configured choices
    await pressed(menu, "ea:f:model")
    await refused(_with_buttons(tg), "ea:model:99")
    await refused(_with_buttons(tg), "ea:model:00")
    await pressed(_with_buttons(tg), "ea:model:0")  # a real one still works: back to the menu
    # reasoning: a level that does not exist must not reset it to the default
    await pressed(_with_buttons(tg), "ea:f:reasoning")
    await refused(_with_buttons(tg), "ea:reason:bogus")
    await pressed(_with_buttons(tg), "ea:reason:low")
    # tools: one that does not exist
    await pressed(_with_buttons(tg), "ea:f:tools")
    await refused(_with_buttons(tg), "ea:tool:rm_rf")
    await pressed(_with_buttons(tg), "ea:tools:done")
    await pressed(_with_buttons(tg), "ea:done")
    edited = await services.assistants.by_name("Edit Me")
    assert edited is not None
    assert (edited.model, edited.reasoning_effort, edited.tools) == (
        services.settings.assistant_model_choices[0],
        "low",
        (),
    )
    assert edited.instructions == before.instructions and edited.name == before.name
    edits = [e.details for e in await services.audit.recent() if e.action == "assistant.edit"]
    assert edits == [{"reasoning_effort": "low"}, {"model": edited.model}]

    # delete: an id beyond 64 bits (an OverflowError in SQLite before), one that does not exist
    await _admin_says(tg, "/deleteassistant Edit Me", 3)
    confirm = _with_buttons(tg)
    await refused(confirm, "del:yes:" + "9" * 30)
    await refused(confirm, "del:yes:424242")
    assert await services.assistants.by_name("Edit Me") is not None

    # creation: an index beyond the choices; then a stale button of a flow that was replaced
    await _admin_says(tg, "/newassistant", 4)
    await _admin_says(tg, "Second", 5)
    await _admin_says(tg, "Be second.", 6)
    models = _with_buttons(tg)
    await refused(models, "na:model:7")
    await _admin_says(tg, "/editassistant Edit Me", 7)  # a new flow: the model buttons stay
    await pressed(models, "na:model:1")
    await tg.wait_for(
        "editMessageText", where=lambda c: "Create this assistant?" in c.params.get("text", "")
    )
    await pressed(_with_buttons(tg), "na:ok")
    await tg.wait_for("sendMessage", 8, where=lambda c: c.params["chat_id"] == ADMIN_ID)
    second = await services.assistants.by_name("Second")
    assert second is not None and second.model == services.settings.assistant_model_choices[1]

    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert sum("button refused" in r.getMessage() for r in caplog.records) == 9


async def test_captions_are_held_to_the_text_limit(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """Photos, image files and albums: a caption over MAX_TEXT_CHARS gets the short message a
    text would, once, before anything is downloaded or asked (a 100,000-character caption was
    answered in 25 messages)."""
    await start_bot()
    jpeg, png = make_image("JPEG"), make_image("PNG")
    tg.media_message({"photo": tg.photo_sizes(jpeg, 64, 48)}, chat_id=3100, caption="x" * 100_000)
    document = {**tg.add_file(png), "file_name": "scan.png", "mime_type": "image/png"}
    tg.media_message({"document": document}, chat_id=3101, caption="y" * 4097)
    for _ in range(2):  # each caption alone is within the limit, the album's together is not
        tg.media_message(
            {"photo": tg.photo_sizes(jpeg, 64, 48)},
            chat_id=3102,
            media_group_id="long-album",
            caption="z" * 2100,
        )
    await tg.wait_for("sendMessage", 3)
    assert tg.sent_texts(3100) == [
        "That message is too long for me (100000 characters; the limit is 4096)."
        " Please shorten it or split it."
    ]
    assert [t[:43] for t in tg.sent_texts(3101)] == ["That message is too long for me (4097 chara"]
    assert [t[:43] for t in tg.sent_texts(3102)] == ["That message is too long for me (4201 chara"]
    assert ai.requests == [] and tg.calls_to("getFile") == []
    # a caption within the limit is still answered
    tg.media_message({"photo": tg.photo_sizes(jpeg, 64, 48)}, chat_id=3100, caption="w" * 4096)
    await tg.wait_for("sendMessage", 2, where=lambda c: c.params["chat_id"] == 3100)
    assert tg.sent_texts(3100)[1].startswith("Echo: www")
