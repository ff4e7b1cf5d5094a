"""End to end: input Telegram would not send but a forged update (or a local Bot API server)
can, and a database that was lost: refused, sanitised or warned about, never a crash.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

import pytest

from storage import AssistantChanges, ChatKey, Question, Storage, TokenUsage
from testkit.botprocess import start_process
from testkit.fake_openai import FakeOpenAI
from testkit.fake_telegram import FakeTelegram
from testkit.running import RunningBot
from tests.conftest import ADMIN_ID, eventually
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


async def _inbox_state(storage: Storage, update_id: int) -> str | None:
    """The inbox row's state, read from SQLite (the bot itself never needs to ask)."""
    rows = await storage.run_sql("SELECT state FROM inbox WHERE update_id = ?", (update_id,))
    return next((str(r[0]) for r in rows), None)


async def _is_done(storage: Storage, update_id: int) -> bool:
    return await _inbox_state(storage, update_id) == "done"


async def test_forged_and_stale_buttons_are_refused_and_change_nothing(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot: RunningBot = await start_bot()
    services = bot.services
    await _admin_says(tg, "/newassistant Edit Me | Old.", 1)
    before = await services.storage.assistants.by_name("Edit Me")
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
    edited = await services.storage.assistants.by_name("Edit Me")
    assert edited is not None
    assert (edited.model, edited.reasoning_effort, edited.tools) == (
        services.settings.assistant_model_choices[0],
        "low",
        (),
    )
    assert edited.instructions == before.instructions and edited.name == before.name
    edits = [
        e.details for e in await services.storage.audit.recent() if e.action == "assistant.edit"
    ]
    assert edits == [{"reasoning_effort": "low"}, {"model": edited.model}]

    # delete: an id beyond 64 bits (an OverflowError in SQLite before), one that does not exist
    await _admin_says(tg, "/deleteassistant Edit Me", 3)
    confirm = _with_buttons(tg)
    await refused(confirm, "del:yes:" + "9" * 30)
    await refused(confirm, "del:yes:424242")
    assert await services.storage.assistants.by_name("Edit Me") is not None

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
    second = await services.storage.assistants.by_name("Second")
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


async def test_lone_surrogates_in_texts_and_names_are_answered_and_recorded(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """JSON can escape a lone surrogate ("\\ud800") that no UTF-8 text holds: the person is
    still answered, and the message recorded (inbox, transcript) with U+FFFD in its place."""
    bot: RunningBot = await start_bot()
    services = bot.services
    sent = tg.private_text("hi \ud800 there", chat_id=3200, first_name="Ana\udfff")
    tg.private_text("/start", chat_id=3201, first_name="Bo\ud800b")
    group = tg.group_text(
        "@test_ai_bot and \udc00 here", chat_id=-1003202, first_name="Cy\ud83d", user_id=3203
    )
    await tg.wait_for("sendMessage", 3)
    assert tg.sent_texts(3200) == ["Echo: hi \ufffd there"]
    assert tg.sent_texts(3201)[0].startswith("Hi Bo\ufffdb!")
    assert tg.sent_texts(-1003202) == ["Echo: [Cy\ufffd] and \ufffd here"]
    for update in (sent, group):  # recorded right after the final send (a group's is an edit)
        await eventually(functools.partial(_is_done, services.storage, update["update_id"]))
    private = await services.storage.transcript.recent(ChatKey(3200), 2)
    assert [(e.role, e.text) for e in private] == [
        ("user", "hi \ufffd there"),
        ("assistant", "Echo: hi \ufffd there"),
    ]
    [question, _] = await services.storage.transcript.recent(ChatKey(-1003202), 2)
    assert question.text == "and \ufffd here"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_every_write_path_stores_lone_surrogates_as_replacement_characters(
    tmp_path: Path,
) -> None:
    """The storage boundary (storage/sql.py), whatever the text came from: inbox, transcript,
    the answer with its usage, chats, assistants, audit."""
    db = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        bad = "x\ud800y"
        usage = db.usage
        transcript = db.transcript
        chats, assistants = db.chats, db.assistants
        inbox, audit = db.inbox, db.audit
        key = ChatKey(7)
        assert await inbox.accept(1, 7, 0, "{}")
        assert await inbox.accept(2, 7, 0, '{"text": "' + bad + '"}')
        await transcript.append(key, "user", bad, user_id=7)
        await transcript.append_answer(
            key,
            Question(bad, bad, 1.0),
            bad,
            user_id=7,
            conversation_id=bad,
            usage=TokenUsage(1, 0, 2),
            update_id=1,
        )
        await chats.ensure(key, "private")
        await chats.set_camera_context(key, bad)
        created = await assistants.create(bad, bad, "m")
        await assistants.update(created.id, AssistantChanges(vision_instructions=bad))
        await audit.record(1, "assistant.edit", bad, instructions=bad)

        fixed = "x\ufffdy"
        [pending], _ = await inbox.take_pending(3600)
        assert (pending.update_id, pending.payload) == (2, '{"text": "' + fixed + '"}')
        assert await _inbox_state(db, 1) == "done"  # the answer's write marked it
        assert [e.text for e in await transcript.recent(key, 5)] == [fixed] * 3
        assert (await usage.today(7)).budget_tokens == 3
        db.drop_caches()
        record = await chats.get(key)
        assert record is not None and record.camera_context == fixed
        stored = await assistants.by_name(fixed)
        assert stored is not None
        assert (stored.instructions, stored.vision_instructions) == (fixed, fixed)
        [entry] = await audit.recent()
        assert (entry.target, entry.details) == (fixed, {"instructions": fixed})
    finally:
        await db.close()


def _text_update(chat_id: int, user_id: int, text: str, **message: Any) -> dict[str, Any]:
    """A message update as a forged client could write it (any ids)."""
    private = chat_id > 0
    chat = {"id": chat_id, "type": "private" if private else "supergroup"}
    chat.update({"first_name": "Eve"} if private else {"title": "Forged", "is_forum": True})
    body = {
        "message_id": 1,
        "from": {"id": user_id, "is_bot": False, "first_name": "Eve", "language_code": "en"},
        "chat": chat,
        "date": 1_700_000_000,
        "text": text,
        **message,
    }
    return {"message": body}


async def test_ids_beyond_64_bits_are_dropped_with_one_log_line(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No Telegram id is that large and SQLite could not record one: such an update is dropped
    before any work (never answered unrecorded), and the bot goes on."""
    caplog.set_level(logging.INFO)
    bot: RunningBot = await start_bot()
    huge = 2**64
    tg.push_update(_text_update(huge, huge, "chat and user"))
    tg.push_update(_text_update(3301, 3301, "message id", message_id=huge))
    tg.push_update(
        _text_update(
            -1003302, 3302, "@test_ai_bot topic", message_thread_id=huge, is_topic_message=True
        )
    )
    tg.private_text("/allow 99999999999999999999", chat_id=ADMIN_ID)  # an admin's typo
    tg.private_text("/allow ²", chat_id=ADMIN_ID)
    tg.private_text("still here?", chat_id=3303)
    await tg.wait_for("sendMessage", 3)
    assert tg.sent_texts(3303) == ["Echo: still here?"]
    assert tg.sent_texts(ADMIN_ID) == ["Usage: /allow <numeric user id>"] * 2
    assert bot.storage.access.allowed == set()
    tg.push_update({"update_id": huge, **_text_update(3304, 3304, "update id")})
    dropped = "dropped: an id beyond 64 bits"
    deadline = asyncio.get_running_loop().time() + 10
    while sum(dropped in r.getMessage() for r in caplog.records) < 4:
        assert asyncio.get_running_loop().time() < deadline, "the updates were not dropped"
        await asyncio.sleep(0.02)
    assert len(tg.calls_to("sendMessage")) == 3 and len(ai.requests_to("/v1/responses")) == 2
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert sum(dropped in r.getMessage() for r in caplog.records) == 4


NEW_DATABASE = "⚠️ I started with a new, empty database"


async def test_a_new_database_warns_every_admin_once(
    tg: FakeTelegram, start_bot: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A lost database takes the /allow rules with it, and a bot that was limited would answer
    everyone: the start that creates the database tells each admin (English, then Spanish) and
    logs a warning; the next start on that database does not."""
    tg.private_text("/help", chat_id=ADMIN_ID)  # the admin has a chat with the bot
    url = f"sqlite:///{tmp_path / 'lost.sqlite3'}"
    first: RunningBot = await start_bot(database_url=url, admin_user_ids=f"{ADMIN_ID},4343")
    assert first.services.storage.created
    await tg.wait_for("sendMessage", 3)  # the two warnings (one fails), the /help answer
    warning = tg.sent_texts(ADMIN_ID)[0]
    assert warning.startswith(NEW_DATABASE) and "I now answer everyone" in warning
    assert "\n\n⚠️ He arrancado con una base de datos nueva" in warning
    assert tg.sent_texts(ADMIN_ID)[1].startswith("In private chats")  # then the /help answer
    [unreachable] = [c for c in tg.calls_to("sendMessage") if c.failed]
    assert unreachable.params["chat_id"] == 4343  # never started the bot: logged, skipped
    warned = [r for r in caplog.records if "is new: runtime /allow" in r.getMessage()]
    assert [r.levelname for r in warned] == ["WARNING"]
    await first.stop()

    caplog.clear()
    again: RunningBot = await start_bot(database_url=url, admin_user_ids=f"{ADMIN_ID},4343")
    assert not again.services.storage.created
    tg.private_text("/help", chat_id=ADMIN_ID)
    await tg.wait_for("sendMessage", 4)
    assert [t for t in tg.sent_texts(ADMIN_ID) if t.startswith(NEW_DATABASE)] == [warning]
    assert not [r for r in caplog.records if "is new: runtime /allow" in r.getMessage()]


async def test_a_new_database_of_a_limited_bot_says_who_may_talk(
    tg: FakeTelegram, start_bot: Any, tmp_path: Path
) -> None:
    tg.private_text("/help", chat_id=ADMIN_ID)
    await start_bot(
        database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}", allowed_user_ids="11,12,13"
    )
    await tg.wait_for("sendMessage", 2)
    warning = tg.sent_texts(ADMIN_ID)[0]
    assert warning.startswith(NEW_DATABASE)
    assert "I answer only ALLOWED_USER_IDS (3 user(s)) and the admins" in warning
    assert "Solo respondo a ALLOWED_USER_IDS (3 usuario(s)) y a los admins" in warning


async def test_a_new_database_without_admins_sends_nothing(
    tg: FakeTelegram, start_bot: Any, tmp_path: Path
) -> None:
    await start_bot(database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}", admin_user_ids="")
    tg.private_text("/help", chat_id=ADMIN_ID)
    await tg.wait_for("sendMessage")
    assert [c.params["chat_id"] for c in tg.calls_to("sendMessage")] == [ADMIN_ID]
    assert not tg.sent_texts(ADMIN_ID)[0].startswith(NEW_DATABASE)


@pytest.mark.slow
async def test_a_database_created_by_check_still_warns_at_the_first_start(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, tmp_path: Path
) -> None:
    """`python -m app --check` after a loss creates the database without telling anyone: the
    notice stays owed, and the first real start gives it (once)."""
    path = tmp_path / "checked.sqlite3"
    check = await start_process(tg, ai, tmp_path, "--check", database_url=f"sqlite:///{path}")
    output, _ = await asyncio.wait_for(check.communicate(), 60)
    assert check.returncode == 0, output.decode()
    assert path.is_file() and tg.calls_to("sendMessage") == []
    tg.private_text("/help", chat_id=ADMIN_ID)
    first: RunningBot = await start_bot(database_url=f"sqlite:///{path}")
    assert not first.services.storage.created  # this start did not create it...
    await tg.wait_for("sendMessage", 2)
    assert tg.sent_texts(ADMIN_ID)[0].startswith(NEW_DATABASE)  # ...but still warns
    await first.stop()
    again: RunningBot = await start_bot(database_url=f"sqlite:///{path}")
    tg.private_text("/help", chat_id=ADMIN_ID)
    await tg.wait_for("sendMessage", 3)  # the warning and two /help answers
    assert [t for t in tg.sent_texts(ADMIN_ID) if t.startswith(NEW_DATABASE)] == [
        tg.sent_texts(ADMIN_ID)[0]
    ]
    await again.stop()
