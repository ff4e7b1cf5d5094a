"""End to end: Telegram-shaped updates through the real application, against the loopback fakes."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from bot.app_commands import ADMIN_COMMANDS, MENU_COMMANDS
from bot.flood import PriorityRateLimiter
from bot.i18n import LANGUAGES, language_of, t, telegram_code
from bot.ordering import ChatOrderedProcessor
from testkit.fake_openai import FakeOpenAI, Reply
from testkit.fake_telegram import FakeTelegram
from testkit.running import RunningBot
from tests.conftest import ADMIN_ID, eventually


def _assistant_requests(ai: FakeOpenAI) -> list[dict[str, Any]]:
    """Bodies of /responses requests that are answers (not classifications)."""
    return [
        r.body
        for r in ai.requests_to("/v1/responses")
        if r.body is not None and "format" not in (r.body.get("text") or {})
    ]


def _classifier_requests(ai: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        r.body
        for r in ai.requests_to("/v1/responses")
        if r.body is not None and "format" in (r.body.get("text") or {})
    ]


async def test_private_text_is_classified_streamed_and_answered(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot(typing_delay_seconds=0.3)
    ai.script(Reply(text="Hello **there**, friend", latency=0.6, token_delay=0.05))
    tg.private_text("hi bot", chat_id=1001)

    [final] = await tg.wait_for("sendMessage")
    assert final.params["chat_id"] == 1001
    assert final.params["text"] == "Hello there, friend"
    bold = [e for e in final.params["entities"] if e["type"] == "bold"]
    assert bold and bold[0]["offset"] == 6 and bold[0]["length"] == 5

    # the classifier ran first, with structured output, outside the conversation
    [classify] = _classifier_requests(ai)
    assert classify["store"] is False and "conversation" not in classify
    assert classify["text"]["format"]["type"] == "json_schema"
    assert FakeOpenAI.input_texts(classify) == ["hi bot"]
    # then the answer, streamed, in the chat's conversation, with the default instructions
    [answer] = _assistant_requests(ai)
    assert answer["stream"] is True
    conv = answer["conversation"]
    assert conv.startswith("conv_") and conv in ai.conversations
    assert answer["model"] == bot.settings.assistant_model
    assert "helpful" in answer["instructions"]
    # partial text was shown as drafts before the final message, with typing first
    drafts = tg.calls_to("sendMessageDraft")
    assert drafts, "the answer was not streamed"
    assert drafts[0].at < final.at
    assert all(d.params["chat_id"] == 1001 for d in drafts)
    assert len({d.params["draft_id"] for d in drafts}) == 1
    assert tg.calls_to("sendChatAction")[0].params["action"] == "typing"

    # the transcript holds both sides and the label
    async def both_sides() -> bool:
        return len(await bot.storage.transcript.recent(_key(1001), 10)) == 2

    await eventually(both_sides)
    entries = await bot.storage.transcript.recent(_key(1001), 10)
    assert [(e.role, e.text, e.label) for e in entries] == [
        ("user", "hi bot", "general"),
        ("assistant", "Hello **there**, friend", None),
    ]


def _key(chat_id: int, thread_id: int = 0) -> Any:
    from storage import ChatKey

    return ChatKey(chat_id, thread_id)


async def test_command_menu_is_registered_in_both_languages(
    tg: FakeTelegram, start_bot: Any
) -> None:
    tg.private_text("/start", chat_id=ADMIN_ID)  # the admin has talked to the bot before
    await start_bot()
    calls = [c for c in tg.calls_to("setMyCommands") if not c.failed]
    public = {
        c.params.get("language_code"): [x["command"] for x in c.params["commands"]]
        for c in calls
        if c.params.get("scope", {"type": "default"})["type"] == "default"
    }
    # English is the default menu; every other language has its own, under Telegram's code
    assert set(public) == {None} | {telegram_code(lang) for lang in LANGUAGES if lang != "en"}
    assert {None, "es", "pt", "de", "uk"} <= set(public)
    assert all(commands == list(MENU_COMMANDS) for commands in public.values())
    assert "newassistant" not in public["es"]
    admin = [c for c in calls if c.params.get("scope", {}).get("type") == "chat"]
    assert {c.params["scope"]["chat_id"] for c in admin} == {ADMIN_ID}
    assert "newassistant" in [x["command"] for x in admin[0].params["commands"]]
    assert all(
        [x["command"] for x in c.params["commands"]] == list(MENU_COMMANDS + ADMIN_COMMANDS)
        for c in admin
    )
    for call in calls:  # each menu in its own language: "pt" is Brazilian Portuguese
        lang = language_of(call.params.get("language_code"))
        described = {x["command"]: x["description"] for x in call.params["commands"]}
        assert described == {c: t(lang, f"cmd_{c}") for c in described}
    es = next(c for c in calls if c.params.get("language_code") == "es")
    assert es.params["commands"][2]["description"].startswith("Empezar")


async def test_conversation_is_reused_and_survives_a_restart(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    first = await start_bot()
    tg.private_text("one", chat_id=7)
    await tg.wait_for("sendMessage", 1)
    tg.private_text("two", chat_id=7)
    await tg.wait_for("sendMessage", 2)
    await first.stop()

    await start_bot()  # same database file
    tg.private_text("three", chat_id=7)
    await tg.wait_for("sendMessage", 3)
    conversations = {b["conversation"] for b in _assistant_requests(ai)}
    assert len(conversations) == 1
    assert len(ai.requests_to("/v1/conversations")) == 1
    [conv] = conversations
    said = [t for item in ai.conversations[conv] for t in FakeOpenAI.input_texts({"input": [item]})]
    assert [s for s in said if not s.startswith("Echo")] == ["one", "two", "three"]


async def test_new_starts_a_fresh_conversation(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.private_text("before", chat_id=8)
    await tg.wait_for("sendMessage", 1)
    tg.private_text("/new", chat_id=8)
    await tg.wait_for("sendMessage", 2)
    assert "fresh conversation" in tg.sent_texts(8)[1]
    tg.private_text("after", chat_id=8)
    await tg.wait_for("sendMessage", 3)
    first, second = (b["conversation"] for b in _assistant_requests(ai))
    assert first != second


async def test_vanished_conversation_is_replaced_and_the_user_told(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    tg.private_text("remember me", chat_id=9)
    await tg.wait_for("sendMessage", 1)
    [old] = {b["conversation"] for b in _assistant_requests(ai)}
    ai.forget_conversation(old)

    tg.private_text("still there?", chat_id=9)
    await tg.wait_for("sendMessage", 2)
    reply = tg.sent_texts(9)[1]
    assert "started a new one" in reply and "Echo: still there?" in reply
    record = await bot.storage.chats.get(_key(9))
    assert record is not None and record.conversation_id not in (None, old)
    assert record.conversation_id in ai.conversations


async def test_group_needs_a_mention_or_a_reply(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    group = -1002001
    tg.group_text("just chatting among humans", chat_id=group)
    tg.group_text("@test_ai_bot what is 2+2?", chat_id=group)
    [answer] = await tg.wait_for("sendMessage", 1)
    await asyncio.sleep(0.3)
    assert len(_assistant_requests(ai)) == 1  # the unaddressed message cost nothing
    assert FakeOpenAI.input_texts(_assistant_requests(ai)[0])[-1] == "[Bea] what is 2+2?"
    assert answer.params["reply_parameters"]["message_id"] > 0
    bot_message_id = tg.messages_in(group)[-1]["message_id"]

    tg.group_text("and 3+3?", chat_id=group, reply_to_message_id=bot_message_id)
    await tg.wait_for("sendMessage", 2)
    assert len(_assistant_requests(ai)) == 2
    assert tg.sent_texts(group)[1] == "Echo: [Bea] and 3+3?"


@pytest.mark.slow
async def test_group_streams_by_editing_one_message_throttled(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(stream_edit_interval_seconds=0.5)
    words = [f"word{i} " for i in range(40)]
    ai.script(Reply(text="".join(words), chunks=words, token_delay=0.05))  # ~2 s of streaming
    tg.group_text("@test_ai_bot tell me a story", chat_id=-1003)
    await tg.wait_for("sendMessage", 1)

    async def complete() -> bool:
        return bool(tg.messages_in(-1003)[-1]["text"] == "".join(words).strip())

    await eventually(complete, timeout=60)
    edits = tg.calls_to("editMessageText")
    assert tg.calls_to("sendMessageDraft") == []  # drafts are for private chats only
    # The stream takes at least 40 x 0.05 s: at least one edit while streaming, then the final.
    assert len(edits) >= 2
    # Throttled, not one edit per delta: each edit after the previous one's answer plus the
    # interval (a wait the bot makes, so a slow machine only makes the gaps longer). The final
    # edit does not wait for the interval.
    gaps = [b.at - a.at for a, b in itertools.pairwise(edits)][:-1]
    assert all(gap >= 0.45 for gap in gaps), gaps
    assert len(tg.sent_texts(-1003)) == 1  # one message, edited in place
    assert tg.messages_in(-1003)[-1]["text"] == "".join(words).strip()


async def test_forum_topics_are_separate_conversations(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    forum = -1005
    tg.group_text("@test_ai_bot in topic ten", chat_id=forum, message_thread_id=10)
    await tg.wait_for("sendMessage", 1)
    tg.group_text("@test_ai_bot in topic twenty", chat_id=forum, message_thread_id=20)
    await tg.wait_for("sendMessage", 2)
    tg.group_text("@test_ai_bot again ten", chat_id=forum, message_thread_id=10)
    sent = await tg.wait_for("sendMessage", 3)
    assert [c.params.get("message_thread_id") for c in sent] == [10, 20, 10]
    convs = [b["conversation"] for b in _assistant_requests(ai)]
    assert convs[0] == convs[2] != convs[1]


async def test_user_outside_the_allow_list_is_refused_without_openai(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(allowed_user_ids="555")
    tg.private_text("let me in", chat_id=31, language_code="es")
    [refusal] = await tg.wait_for("sendMessage")
    assert "no tienes permiso" in refusal.params["text"]
    await asyncio.sleep(0.2)
    assert ai.requests == []
    # admins are always allowed, listed users too
    tg.private_text("admin here", chat_id=ADMIN_ID)
    tg.private_text("listed", chat_id=555)
    await tg.wait_for("sendMessage", 3)
    assert len(_assistant_requests(ai)) == 2


async def test_one_chat_in_order_while_other_chats_run_concurrently(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """Concurrency is proven by a barrier, not a stopwatch: no answer is given until 21 answer
    requests (chat 100's first and one from each of 20 other chats) are in flight at once. Were
    chats served one after another, the 2nd request would never come and the wait would fail."""
    await start_bot(openai_timeout_seconds=120)  # held requests must not time out meanwhile
    others = range(200, 220)
    in_flight = len(others) + 1
    barrier = asyncio.Event()
    arrived: list[str] = []

    def held(body: dict[str, Any]) -> Reply:
        question = FakeOpenAI.input_texts(body)[-1]
        arrived.append(question)
        if len(arrived) == in_flight:
            barrier.set()
        return Reply(text="Echo: " + question, gate=barrier)

    ai.default_reply = held
    for i in range(4):
        tg.private_text(f"a{i}", chat_id=100)
    for chat in others:
        tg.private_text("hello", chat_id=chat)
    await asyncio.wait_for(barrier.wait(), 60)  # deadlock guard only
    # while held, chat 100 had exactly one request out: its later messages waited their turn
    assert sorted(arrived[:in_flight]) == sorted(["a0"] + ["hello"] * len(others))
    await tg.wait_for("sendMessage", 24, timeout=60)
    assert tg.sent_texts(100) == [f"Echo: a{i}" for i in range(4)]
    assert all(tg.sent_texts(chat) == ["Echo: hello"] for chat in others)
    # chat 100's answers never overlapped: each request came after the previous answer went out
    chat_requests = [
        r
        for r in ai.requests_to("/v1/responses")
        if r.body and r.body.get("stream") and FakeOpenAI.input_texts(r.body)[-1].startswith("a")
    ]
    finals = [c for c in tg.calls_to("sendMessage") if c.params["chat_id"] == 100]
    assert len(chat_requests) == len(finals) == 4
    for request, previous_final in zip(chat_requests[1:], finals, strict=False):
        assert request.at >= previous_final.at


async def test_ten_thousand_character_answer_arrives_whole_and_in_order(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    long_answer = "\n\n".join(
        f"Paragraph {p}: " + " ".join(f"token{p}_{i}" for i in range(100)) for p in range(11)
    )
    assert len(long_answer) > 10_000
    ai.script(Reply(text=long_answer))
    tg.private_text("write a lot", chat_id=300)
    await tg.wait_for("sendMessage", 3, timeout=15)
    await asyncio.sleep(0.3)
    texts = tg.sent_texts(300)
    assert len(texts) == 3
    assert all(len(t) <= 4096 for t in texts)
    assert " ".join(texts).split() == long_answer.split()
    assert all(t.startswith("Paragraph") for t in texts)


@pytest.mark.slow
async def test_flood_control_is_honoured_and_the_message_still_delivered(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.fail_next("sendMessage", status=429, retry_after=1)
    tg.private_text("hello under load", chat_id=400)
    calls = await tg.wait_for("sendMessage", 2, timeout=10)
    assert calls[0].failed and not calls[1].failed
    assert calls[1].at - calls[0].at >= 0.9
    assert tg.sent_texts(400) == ["Echo: hello under load"]


@pytest.mark.slow
async def test_a_flood_wait_holds_every_chat_and_typing_is_dropped_not_queued(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """A 429 stops every call for its retry_after (bot/flood.py): another chat's answer waits
    it out, and its typing indicator, due during the wait, is dropped rather than sent late."""
    bot: RunningBot = await start_bot(typing_delay_seconds=0)
    tg.fail_next("sendMessage", status=429, retry_after=4)
    tg.private_text("first", chat_id=401)
    [refused] = await tg.wait_for("sendMessage", where=lambda c: c.failed)
    gate = asyncio.Event()
    ai.script(Reply(text="second answer", gate=gate))
    tg.private_text("second", chat_id=402)
    limiter = bot.app.bot.rate_limiter
    assert isinstance(limiter, PriorityRateLimiter)

    async def typing_dropped() -> bool:
        return limiter.dropped >= 1

    await eventually(typing_dropped)  # chat 402's typing, due during the wait
    gate.set()
    await tg.wait_for("sendMessage", 3, where=lambda c: not c.failed or c is refused)
    assert tg.sent_texts(401) == ["Echo: first"] and tg.sent_texts(402) == ["second answer"]
    finals = [c for c in tg.calls if c.method == "sendMessage" and not c.failed]
    assert all(c.at - refused.at >= 3.9 for c in finals)  # nothing went out during the wait
    typing = [c for c in tg.calls if c.method == "sendChatAction" and c.at > refused.at]
    assert all(c.at - refused.at >= 3.9 for c in typing)


@pytest.mark.slow
async def test_openai_failing_then_recovering(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    ai.script(Reply.server_error(503), Reply.server_error(500), Reply(text="recovered"))
    tg.private_text("are you there", chat_id=500)
    await tg.wait_for("sendMessage")
    assert tg.sent_texts(500) == ["recovered"]


async def test_openai_down_gives_a_short_message_in_the_users_language(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(openai_max_retries=1)
    ai.script(*[Reply.server_error(500) for _ in range(2)])
    tg.private_text("hola", chat_id=501, language_code="es")
    await tg.wait_for("sendMessage")
    [text] = tg.sent_texts(501)
    assert text.startswith("Lo siento, el servicio de IA no responde")
    assert "Traceback" not in text and "500" not in text
    assert tg.calls_to("sendMessageDraft") == []


async def test_stream_cut_midway_is_marked_interrupted(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    ai.script(Reply(text="one two three four five six", cut_after=3, token_delay=0.02))
    tg.private_text("count", chat_id=502)
    await tg.wait_for("sendMessage")
    [text] = tg.sent_texts(502)
    assert text.startswith("one") and "interrupted" in text


async def test_classifier_routes_refuse_and_handoff(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot(classifier_mode="sequential")  # no answer request for these two
    tg.private_text("/start", chat_id=ADMIN_ID)  # bots only reach users who started them
    await tg.wait_for("sendMessage", 1)
    labels = {"you idiot": "abusive", "I want a human": "human"}
    ai.classifier = lambda body: labels.get(FakeOpenAI.input_texts(body)[-1], "general")
    tg.private_text("you idiot", chat_id=600)
    await tg.wait_for("sendMessage", 2)
    assert "can't help with that" in tg.sent_texts(600)[0]
    tg.private_text("I want a human", chat_id=600, first_name="Carla")
    await tg.wait_for("sendMessage", 4)
    assert "passed your message to a person" in tg.sent_texts(600)[1]
    [_, note] = tg.sent_texts(ADMIN_ID)
    assert "Carla" in note and "I want a human" in note
    assert _assistant_requests(ai) == []  # neither route called the assistant
    entries = await bot.storage.transcript.recent(_key(600), 10)
    assert [e.label for e in entries] == ["abusive", "human"]


async def test_classifier_failure_or_timeout_falls_back_to_answering(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(classifier_timeout_seconds=0.5)
    ai.classifier = lambda body: Reply(text="{not json", status=200)
    tg.private_text("malformed label", chat_id=700)
    await tg.wait_for("sendMessage", 1)
    ai.classifier = lambda body: Reply(text='{"label": "general"}', latency=3.0)
    tg.private_text("slow classifier", chat_id=700)
    await tg.wait_for("sendMessage", 2)
    assert tg.sent_texts(700) == ["Echo: malformed label", "Echo: slow classifier"]


async def test_history_shows_recent_exchanges_newest_last(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.private_text("/history", chat_id=800, language_code="es")
    await tg.wait_for("sendMessage", 1)
    assert tg.sent_texts(800)[0] == "Todavía no hay mensajes aquí."
    for word in ("first", "second"):
        tg.private_text(word, chat_id=800, language_code="es")
    await tg.wait_for("sendMessage", 3)
    tg.private_text("/history", chat_id=800, language_code="es")
    await tg.wait_for("sendMessage", 4)
    history = tg.sent_texts(800)[3]
    assert history.index("Tú: first") < history.index("Asistente: Echo: first")
    assert history.index("Asistente: Echo: first") < history.index("Tú: second")
    assert history.rstrip().endswith("Echo: second")


async def test_start_and_help_in_spanish(tg: FakeTelegram, start_bot: Any) -> None:
    await start_bot()
    tg.private_text("/start", chat_id=900, language_code="es-419", first_name="Lucía")
    tg.private_text("/help", chat_id=900, language_code="en")
    await tg.wait_for("sendMessage", 2)
    start, help_text = tg.sent_texts(900)
    assert start.startswith("¡Hola Lucía!") and "/new" in start
    assert "@test_ai_bot" in help_text and "/history" in help_text


async def test_rejected_entities_fall_back_to_plain_text(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.fail_next(
        "sendMessage",
        status=400,
        retry_after=None,
        description="Bad Request: can't parse entities: unsupported start tag",
    )
    ai.script(Reply(text="some **bold** claim"))
    tg.private_text("format please", chat_id=950)
    calls = await tg.wait_for("sendMessage", 2)
    assert calls[0].failed and calls[0].params.get("entities")
    assert not calls[1].failed and "entities" not in calls[1].params
    assert tg.sent_texts(950) == ["some bold claim"]


async def test_a_group_edit_with_rejected_entities_falls_back_to_plain_text(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """Groups stream into one message; when the final edit's entities are refused (400 "can't
    parse entities"), the same message is edited again as plain text, not sent anew."""
    # One preview, then no further edit until the final one (the interval is long).
    await start_bot(stream_edit_interval_seconds=60)
    step = asyncio.Semaphore(0)
    ai.script(Reply(text="some **bold** claim", chunks=["some ", "**bold** ", "claim"], step=step))
    group = -1090
    tg.group_text("@test_ai_bot format please", chat_id=group)
    [preview] = await tg.wait_for("sendMessage")  # the first delta, shown as the preview
    assert preview.params["text"].strip() == "some"
    tg.fail_next(
        "editMessageText",
        status=400,
        retry_after=None,
        description="Bad Request: can't parse entities: unsupported start tag",
    )
    step.release()
    step.release()  # the rest of the answer
    rejected, plain = await tg.wait_for("editMessageText", 2)
    assert rejected.failed and rejected.params.get("entities")
    assert not plain.failed and "entities" not in plain.params
    assert plain.params["message_id"] == preview.result["message_id"]
    await eventually(lambda: _shows(tg, group, "some bold claim"))
    assert len(tg.sent_texts(group)) == 1  # no second message
    [message] = tg.messages_in(group)
    assert message["text"] == "some bold claim" and "entities" not in message


async def _shows(tg: FakeTelegram, chat_id: int, text: str) -> bool:
    return [m["text"] for m in tg.messages_in(chat_id)] == [text]


async def test_secrets_never_reach_logs_or_chats(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, capfd: Any
) -> None:
    """With the bot's own logging set-up at DEBUG, an error run leaks neither secret."""
    import logging

    from bot.logs import configure_logging

    saved = logging.root.handlers[:], logging.root.level
    try:
        bot = await start_bot()
        configure_logging("DEBUG", bot.settings.secrets())
        ai.script(Reply.server_error(500), Reply.server_error(500), Reply.server_error(500))
        tg.private_text("trigger an error", chat_id=990)
        await tg.wait_for("sendMessage")
        logging.getLogger("test").error("token in a message: %s", bot.settings.secrets()[0])
        await bot.stop()
    finally:
        logging.root.handlers[:] = saved[0]
        logging.root.setLevel(saved[1])
    captured = capfd.readouterr()
    logged = captured.err + captured.out
    assert "token in a message: [REDACTED]" in logged
    assert "DEBUG telegram" in logged  # DEBUG lines were really written
    chats = json.dumps([c.params for c in tg.calls], default=str)
    for secret in bot.settings.secrets():
        assert secret not in logged
        assert secret not in chats


async def test_unsupported_media_gets_a_hint(tg: FakeTelegram, start_bot: Any) -> None:
    await start_bot()
    tg.push_update(
        {
            "message": {
                "message_id": 5000,
                "date": 1_790_000_000,
                "chat": {"id": 1200, "type": "private", "first_name": "Ana"},
                "from": {"id": 1200, "is_bot": False, "first_name": "Ana", "language_code": "es"},
                "sticker": {
                    "file_id": "stk",
                    "file_unique_id": "stku",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                },
            }
        }
    )
    [hint] = await tg.wait_for("sendMessage")
    assert hint.params["text"].startswith(
        "Puedo leer texto, fotos y notas de voz, pero todavía no stickers"
    )


async def test_unexpected_errors_reach_the_user_as_a_short_message(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    await bot.storage.conn.close()  # every storage call now fails
    tg.private_text("anyone home?", chat_id=1300)
    [sorry] = await tg.wait_for("sendMessage")
    assert sorry.params["text"] == "Sorry, something went wrong on my side. Please try again."


async def test_a_busy_chat_never_holds_the_other_chats_slots(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """With two working slots, five queued messages of one chat leave a slot for others: the
    busy chat's answers are held until the quick chat has its answer, so if the busy chat held
    both slots the quick one would never be answered (and the wait fails)."""
    bot: RunningBot = await start_bot(max_concurrent_chats=2, openai_timeout_seconds=120)
    quick_answered = asyncio.Event()

    def reply(body: dict[str, Any]) -> Reply:
        question = FakeOpenAI.input_texts(body)[-1]
        gate = quick_answered if question.startswith("busy") else None
        return Reply(text="Echo: " + question, gate=gate)

    ai.default_reply = reply
    for i in range(5):
        tg.private_text(f"busy {i}", chat_id=1400)
    processor = bot.app.update_processor
    assert isinstance(processor, ChatOrderedProcessor)

    async def all_five_in_line() -> bool:  # one answering (held), four waiting for their turn
        return processor.busy == 5 and len(_assistant_requests(ai)) == 1

    await eventually(all_five_in_line, timeout=30)
    tg.private_text("quick one", chat_id=1401)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 1401, timeout=30)
    assert [c for c in tg.calls_to("sendMessage") if c.params["chat_id"] == 1400] == []
    quick_answered.set()
    await tg.wait_for("sendMessage", 6, timeout=30)
    assert tg.sent_texts(1400) == [f"Echo: busy {i}" for i in range(5)]


async def test_a_fixed_reply_route(tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any) -> None:
    routes = (
        '{"general": {"action": "answer", "description": "anything"},'
        ' "hours": {"action": "reply", "description": "opening hours",'
        ' "text": "We are open 9-17, Monday to Friday."}}'
    )
    await start_bot(classifier_routes=routes)
    ai.classifier = lambda body: "hours"
    tg.private_text("when are you open?", chat_id=1500)
    await tg.wait_for("sendMessage")
    assert tg.sent_texts(1500) == ["We are open 9-17, Monday to Friday."]
    [classify] = _classifier_requests(ai)
    assert classify["text"]["format"]["schema"]["properties"]["label"]["enum"] == [
        "general",
        "hours",
    ]
    assert _assistant_requests(ai) == []
