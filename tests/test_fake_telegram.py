"""Self-test of the fake Telegram Bot API against the real python-telegram-bot 22.8."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot as PTBBot
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from testkit.fake_telegram import (
    TOKEN,
    Call,
    FakeTelegram,
    parse_html,
    parse_markdown_v2,
    utf16_len,
)
from tests.conftest import eventually


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as tg:
        yield tg


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[PTBBot]:
    async with PTBBot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


def _no_violations(fake: FakeTelegram) -> None:
    assert fake.violations == [], fake.summary()


async def test_get_me(fake: FakeTelegram, bot: PTBBot) -> None:
    me = await bot.get_me()
    assert me.id == 987654321 and me.is_bot and me.username == "test_ai_bot"
    assert bot.username == "test_ai_bot"  # Bot.initialize() called getMe
    assert [c.method for c in fake.calls] == ["getMe", "getMe"]
    _no_violations(fake)


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    other = PTBBot("1:wrong", base_url=fake.base_url, base_file_url=fake.base_file_url)
    with pytest.raises(InvalidToken):
        await other.initialize()
    await other.shutdown()


async def _start_app(
    fake: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any], poll_timeout: int = 1
) -> None:
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=poll_timeout)


async def _stop_app(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    assert app.updater is not None
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


def _build_app(fake: FakeTelegram) -> Application[Any, Any, Any, Any, Any, Any]:
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )


async def _waiting_poll(fake: FakeTelegram) -> bool:
    """A getUpdates call has arrived and is not answered yet (a long poll waiting)."""
    return any(c.result is None and not c.failed for c in fake.calls_to("getUpdates"))


async def test_application_long_polling_roundtrip(fake: FakeTelegram) -> None:
    received: list[tuple[str, float]] = []
    commands: list[list[str]] = []

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        received.append((update.effective_message.text or "", time.monotonic()))
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        commands.append(list(context.args or []))

    app = _build_app(fake)
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    # Long polls of 30 s: an update that waited for the poll's timeout would miss the 10 s
    # deadline below, so arriving in time proves the push woke the waiting poll.
    await _start_app(fake, app, poll_timeout=30)
    try:
        # Push while a long poll is waiting: that very poll must deliver the update.
        await eventually(lambda: _waiting_poll(fake))
        [waiting] = [c for c in fake.calls_to("getUpdates") if c.result is None and not c.failed]
        update = fake.private_text("hello there", chat_id=1001)
        [reply] = await fake.wait_for("sendMessage", timeout=10)
        assert received and received[0][0] == "hello there"
        assert [u["update_id"] for u in waiting.result] == [update["update_id"]]
        assert reply.params == {"chat_id": 1001, "text": "echo: hello there"}
        assert reply.result["message_id"] == update["message"]["message_id"] + 1
        fake.private_text("/start deep_link", chat_id=1001)
        fake.private_text("/start@test_ai_bot", chat_id=1001)
        await fake.wait_for("getUpdates", where=lambda c: bool(c.result) and len(c.result) >= 1)

        async def both_commands() -> bool:
            return len(commands) == 2

        await eventually(both_commands, timeout=10)
        assert commands == [["deep_link"], []]
    finally:
        await _stop_app(app)
    methods = {c.method for c in fake.calls}
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage"} <= methods
    # PTB confirms everything it fetched on shutdown (offset = last update_id + 1).
    assert fake.calls_to("getUpdates")[-1].params["offset"] == update["update_id"] + 3
    assert not any(c.failed for c in fake.calls), fake.summary()
    _no_violations(fake)


async def test_send_message_shapes_and_recording(fake: FakeTelegram, bot: PTBBot) -> None:
    fake.private_text("hi", chat_id=1001)
    text = "Hello 👋 bold"
    entities = [MessageEntity(MessageEntity.BOLD, offset=utf16_len("Hello 👋 "), length=4)]
    msg = await bot.send_message(1001, text, entities=entities)
    assert msg.message_id == 2  # shared counter with the user's message
    assert msg.from_user is not None and msg.from_user.id == 987654321 and msg.from_user.is_bot
    assert msg.chat.id == 1001 and msg.chat.type == "private" and msg.chat.first_name == "Ana"
    assert msg.text == text and msg.entities == tuple(entities)
    assert isinstance(msg.date.timestamp(), float)
    [call] = fake.calls_to("sendMessage")
    assert call.params["entities"] == [{"type": "bold", "offset": 9, "length": 4}]
    assert call.params["chat_id"] == 1001
    assert fake.sent_texts(1001) == [text]
    assert [m["text"] for m in fake.messages_in(1001)] == [text]
    _no_violations(fake)


async def test_send_message_errors(fake: FakeTelegram, bot: PTBBot) -> None:
    fake.private_text("hi", chat_id=1001)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1001, "x" * 4097)
    await bot.send_message(1001, "x" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1001, "😀" * 2049)  # 4098 UTF-16 code units
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1001, "  \n ")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(555, "who?")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(1001, "abc", entities=[MessageEntity("bold", 2, 5)])
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: Character '\.' is reserved"):
        await bot.send_message(1001, "Done.", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=r"(?i)Can't find end of Bold entity at byte offset 0"):
        await bot.send_message(1001, "*bold", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=r'(?i)Unsupported start tag "x"'):
        await bot.send_message(1001, "a <x> b", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(1001, "re", reply_parameters=ReplyParameters(message_id=999))
    ok = await bot.send_message(
        1001, "re", reply_parameters=ReplyParameters(999, allow_sending_without_reply=True)
    )
    assert ok.reply_to_message is None
    failed = [c for c in fake.calls_to("sendMessage") if c.failed]
    assert len(failed) == 9 and all(c.error for c in failed)
    assert fake.sent_texts(1001) == ["x" * 4096, "re"]
    _no_violations(fake)


async def test_parse_modes_produce_plain_text_and_entities(fake: FakeTelegram, bot: PTBBot) -> None:
    fake.private_text("hi", chat_id=1001)
    msg = await bot.send_message(
        1001, r"*Bold* and _it_ \- [link](https://example.com) `x\.y`", parse_mode="MarkdownV2"
    )
    assert msg.text == "Bold and it - link x.y"  # escapes apply inside code too
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [
        ("bold", 0, 4), ("italic", 9, 2), ("text_link", 14, 4), ("code", 19, 3)
    ]  # fmt: skip
    msg = await bot.send_message(
        1001, '<b>a &amp; b</b> <pre><code class="language-py">x=1</code></pre>', parse_mode="HTML"
    )
    assert msg.text == "a & b x=1"
    assert [e.to_dict() for e in msg.entities] == [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "pre", "offset": 6, "length": 3, "language": "py"},
    ]
    _no_violations(fake)


def test_parsers_directly() -> None:
    assert parse_markdown_v2(">quote\n>more\nafter") == (
        "quote\nmore\nafter",
        [{"type": "blockquote", "offset": 0, "length": 10}],
    )
    assert parse_markdown_v2("||spoiler|| __u__ ~s~") == (
        "spoiler u s",
        [
            {"type": "spoiler", "offset": 0, "length": 7},
            {"type": "underline", "offset": 8, "length": 1},
            {"type": "strikethrough", "offset": 10, "length": 1},
        ],
    )
    assert parse_markdown_v2("```python\nprint(1)\n```")[1] == [
        {"type": "pre", "language": "python", "offset": 0, "length": 9}
    ]
    with pytest.raises(ValueError, match=r"(?i)Unmatched end tag"):
        parse_html("<b>x</i>")
    with pytest.raises(ValueError, match=r'(?i)start tag "b"'):
        parse_html("<b>x")


async def test_message_draft_private_only(fake: FakeTelegram, bot: PTBBot) -> None:
    fake.private_text("hi", chat_id=1001)
    fake.group_text("hi all", chat_id=-1002001)
    assert await bot.send_message_draft(1001, draft_id=7, text="Thinking") is True
    assert await bot.send_message_draft(1001, draft_id=7, text="") is True  # placeholder
    with pytest.raises(BadRequest, match=r"(?i)TEXTDRAFT_PEER_INVALID"):
        await bot.send_message_draft(-1002001, draft_id=7, text="nope")
    with pytest.raises(BadRequest):
        await bot.send_message_draft(1001, draft_id=0, text="zero")
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message_draft(1001, draft_id=7, text="y" * 4097)
    drafts = fake.calls_to("sendMessageDraft")
    assert [(c.params.get("text"), c.failed) for c in drafts][:2] == [
        ("Thinking", False),
        ("", False),
    ]
    assert drafts[0].params["draft_id"] == 7
    assert fake.messages_in(1001) == []  # drafts are not messages
    _no_violations(fake)


async def test_edit_message_text(fake: FakeTelegram, bot: PTBBot) -> None:
    fake.group_text("hey", chat_id=-1002001)
    sent = await bot.send_message(-1002001, "draft 1")
    assert sent.chat.type == "supergroup" and sent.chat.title
    edited = await bot.edit_message_text("final", chat_id=-1002001, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "final" and edited.edit_date is not None
    assert [m["text"] for m in fake.messages_in(-1002001)] == ["final"]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("final", chat_id=-1002001, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=-1002001, message_id=4242)
    with pytest.raises(BadRequest, match=r"(?i)can't be edited"):
        await bot.edit_message_text("x", chat_id=-1002001, message_id=1)  # the user's message
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.edit_message_text("z" * 5000, chat_id=-1002001, message_id=sent.message_id)
    # same text, new entities -> a real modification
    await bot.edit_message_text(
        "final",
        chat_id=-1002001,
        message_id=sent.message_id,
        entities=[MessageEntity("italic", 0, 5)],
    )
    assert fake.messages_in(-1002001)[0]["entities"] == [
        {"type": "italic", "offset": 0, "length": 5}
    ]
    assert await bot.delete_message(-1002001, sent.message_id) is True
    assert fake.messages_in(-1002001) == []
    _no_violations(fake)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_next_retry_after(fake: FakeTelegram, bot: PTBBot) -> None:
    fake.private_text("hi", chat_id=1001)
    fake.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(1001, "first try")
    assert info.value.retry_after in (1, dt.timedelta(seconds=1))  # int until PTB_TIMEDELTA
    msg = await bot.send_message(1001, "second try")
    assert msg.text == "second try"
    calls = fake.calls_to("sendMessage")
    assert [c.failed for c in calls] == [True, False]
    assert calls[0].error == "Too Many Requests: retry after 1"
    assert fake.sent_texts(1001) == ["second try"]
    fake.fail_next("sendChatAction", status=400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_chat_action(1001, "typing")
    assert await bot.send_chat_action(1001, "typing") is True
    _no_violations(fake)


async def test_get_file_and_download(fake: FakeTelegram, bot: PTBBot) -> None:
    payload = bytes(range(256)) * 10
    info = fake.add_file(payload)
    assert info["file_size"] == len(payload)
    file = await bot.get_file(info["file_id"])
    assert file.file_size == len(payload) and file.file_path
    assert await file.download_as_bytearray() == bytearray(payload)
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")
    _no_violations(fake)


async def test_group_text_mentions_topics_and_replies(fake: FakeTelegram, bot: PTBBot) -> None:
    first = fake.group_text("@test_ai_bot what is 2+2? /help@test_ai_bot", chat_id=-1002001)
    msg = first["message"]
    assert msg["chat"] == {"id": -1002001, "type": "supergroup", "title": msg["chat"]["title"]}
    assert msg["entities"] == [
        {"type": "mention", "offset": 0, "length": 12},
        {"type": "bot_command", "offset": 26, "length": 17},
    ]
    parsed = Update.de_json(first, bot)
    assert parsed.message is not None
    assert parsed.message.parse_entities([MessageEntity.MENTION]) == {
        parsed.message.entities[0]: "@test_ai_bot"
    }
    answer = await bot.send_message(
        -1002001, "4", reply_parameters=ReplyParameters(msg["message_id"])
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.message_id == msg["message_id"]
    follow = fake.group_text("and 3+3?", chat_id=-1002001, reply_to_message_id=answer.message_id)
    reply_to = follow["message"]["reply_to_message"]
    assert reply_to["from"]["id"] == 987654321 and reply_to["text"] == "4"
    # forum topics
    topic = fake.group_text("in a topic", chat_id=-1003003, message_thread_id=77)
    assert topic["message"]["chat"]["is_forum"] is True
    assert topic["message"]["is_topic_message"] is True
    sent = await bot.send_message(-1003003, "topic answer", message_thread_id=77)
    assert sent.message_thread_id == 77 and sent.is_topic_message
    assert [m["text"] for m in fake.messages_in(-1003003, message_thread_id=77)] == ["topic answer"]
    assert fake.messages_in(-1003003, message_thread_id=5) == []
    _no_violations(fake)


async def test_commands_stored(fake: FakeTelegram, bot: PTBBot) -> None:
    cmds = [BotCommand("new", "Start a fresh conversation"), BotCommand("help", "Help")]
    assert await bot.set_my_commands(cmds) is True
    assert await bot.set_my_commands(
        [BotCommand("neu", "Neues Gespräch")],
        language_code="de",
        scope=BotCommandScopeAllPrivateChats(),
    )
    assert await bot.get_my_commands() == tuple(cmds)
    assert fake.commands_for() == [c.to_dict() for c in cmds]
    assert fake.commands_for({"type": "all_private_chats"}, "de") == [
        {"command": "neu", "description": "Neues Gespräch"}
    ]
    [first, _] = fake.calls_to("setMyCommands")
    assert first.params["commands"][0] == {
        "command": "new",
        "description": "Start a fresh conversation",
    }
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    assert await bot.delete_my_commands() is True
    assert fake.commands_for() is None
    _no_violations(fake)


async def test_reactions_keyboards_and_callbacks(fake: FakeTelegram) -> None:
    pressed: list[str] = []

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        pressed.append(update.callback_query.data or "")
        await update.callback_query.answer("thanks")
        await update.callback_query.edit_message_reply_markup(None)

    app = _build_app(fake)
    app.add_handler(CallbackQueryHandler(on_button))
    await _start_app(fake, app)
    try:
        bot = app.bot
        user_msg = fake.private_text("rate me", chat_id=1001)["message"]
        assert await bot.set_message_reaction(1001, user_msg["message_id"], ReactionTypeEmoji("👍"))
        with pytest.raises(BadRequest, match=r"(?i)REACTION_INVALID"):
            await bot.set_message_reaction(1001, user_msg["message_id"], "✅")
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="up")]])
        sent = await bot.send_message(1001, "rated?", reply_markup=keyboard)
        assert fake.messages_in(1001)[0]["reply_markup"] == keyboard.to_dict()
        fake.callback_query(1001, sent.message_id, "up")
        await fake.wait_for("editMessageReplyMarkup")
        assert pressed == ["up"]
        assert "reply_markup" not in fake.messages_in(1001)[0]
        assert fake.calls_to("answerCallbackQuery")[0].params["text"] == "thanks"
    finally:
        await _stop_app(app)
    assert fake.reactions[(1001, user_msg["message_id"])] == [{"type": "emoji", "emoji": "👍"}]
    _no_violations(fake)


@pytest.mark.filterwarnings("ignore:Please use:telegram.warnings.PTBUserWarning")
async def test_spec_validation(fake: FakeTelegram, bot: PTBBot) -> None:
    fake.private_text("hi", chat_id=1001)
    # unknown method -> 404 (PTB maps it to InvalidToken / EndPointNotFound)
    with pytest.raises(Exception, match=r"(?i)Not Found|not found"):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 1001})
    assert fake.violations == ["sendTelepathy: no such method in Bot API 10.1"]
    fake.violations.clear()
    # missing required parameter -> 400
    with pytest.raises(BadRequest, match=r'(?i)"action" is required'):
        await bot.do_api_request("sendChatAction", api_kwargs={"chat_id": 1001})
    # unknown parameter and wrong type -> violations, but the call goes through like on Telegram
    await bot.send_message(1001, "x", api_kwargs={"frobnicate": True})
    await bot.do_api_request(
        "sendMessage", api_kwargs={"chat_id": 1001, "text": "y", "reply_parameters": [1]}
    )
    assert fake.violations == [
        "sendMessage: unknown parameter 'frobnicate'",
        "sendMessage: reply_parameters: expected ReplyParameters, got list",
    ]
    fake.violations.clear()
    # generic methods are validated and answered in the documented shape
    chat = await bot.get_chat(1001)
    assert chat.id == 1001 and chat.type == "private"
    member = await bot.get_chat_member(1001, 1001)
    assert member.status == "member" and member.user.id == 1001
    assert await bot.pin_chat_message(1001, 1) is True
    _no_violations(fake)


def _raw_post(url: str, body: bytes, content_type: str) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def test_json_bodies_and_raw_http(fake: FakeTelegram) -> None:
    fake.private_text("hi", chat_id=1001)
    url = f"{fake.base_url}{TOKEN}/SENDMESSAGE"  # method names are case-insensitive
    body = json.dumps(
        {
            "chat_id": "1001",
            "text": "json body",
            "entities": [{"type": "bold", "offset": 0, "length": 4}],
        }
    ).encode()
    status, answer = await asyncio.to_thread(_raw_post, url, body, "application/json")
    assert status == 200 and answer["ok"] is True
    assert answer["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    status, answer = await asyncio.to_thread(
        _raw_post, f"{fake.base_url}{TOKEN}/nope", b"", "application/json"
    )
    assert (status, answer) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    fake.violations.clear()


@pytest.mark.slow
async def test_long_polling_semantics(fake: FakeTelegram, bot: PTBBot) -> None:
    # returns immediately with pending updates, honours limit and offset
    u1 = fake.private_text("one")
    u2 = fake.private_text("two")
    got = await bot.get_updates(timeout=5, limit=1)
    assert [u.update_id for u in got] == [u1["update_id"]]
    got = await bot.get_updates(offset=u1["update_id"] + 1, timeout=5)
    assert [u.update_id for u in got] == [u2["update_id"]]

    # waits until an update is pushed: the poll is already waiting (recorded, unanswered) when
    # the update arrives, and answers with it rather than with [] at its timeout
    polls = len(fake.calls_to("getUpdates"))
    waited: list[bool] = []

    async def push_once_waiting() -> None:
        await fake.wait_for("getUpdates", polls + 1)
        waited.append(await _waiting_poll(fake))
        fake.private_text("three")

    pusher = asyncio.create_task(push_once_waiting())
    # 30 s poll, 10 s deadline: only a poll woken by the push answers in time
    got = await asyncio.wait_for(bot.get_updates(offset=u2["update_id"] + 1, timeout=30), 10)
    await pusher
    assert waited == [True]
    assert [u.message.text for u in got if u.message] == ["three"]
    assert len(fake.calls_to("getUpdates")) == polls + 1  # that one poll delivered it
    # times out with [] when nothing comes (not before its timeout: a wait in the fake, so a
    # slow machine can only make it longer)
    started = time.monotonic()
    assert await bot.get_updates(offset=got[-1].update_id + 1, timeout=1) == ()
    assert time.monotonic() - started >= 0.9
    # message_reaction is not delivered unless allowed_updates asks for it
    fake.push_update(
        {
            "message_reaction": {
                "chat": {"id": 1001, "type": "private", "first_name": "Ana"},
                "message_id": 1,
                "date": int(time.time()),
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
                "user": {"id": 1001, "is_bot": False, "first_name": "Ana"},
            }
        }
    )
    assert await bot.get_updates(timeout=0) == ()
    assert len(fake.dropped_updates) == 1
    # a second poller (another bot instance: PTB's getUpdates pool holds one connection)
    # terminates the first one with 409
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await fake.wait_for("getUpdates", where=lambda c: c.params.get("timeout") == 3)
    async with PTBBot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
        await first
    assert fake.calls_to("getUpdates")[-2].failed
    _no_violations(fake)


async def test_wait_for_timeout_message(fake: FakeTelegram, bot: PTBBot) -> None:
    await bot.get_me()
    with pytest.raises(AssertionError, match=r"(?i)waiting for 1 x sendMessage[\s\S]*getMe"):
        await fake.wait_for("sendMessage", timeout=0.1)
    calls: list[Call] = await fake.wait_for("getMe", count=2, timeout=0.1)
    assert len(calls) == 2
