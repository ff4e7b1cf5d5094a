"""End to end: images the assistant draws (OpenAI's built-in image_generation tool), sent as
photos, counted in the usage and the daily budget, limited per user per day, edited by a
follow-up in the same conversation, and never drawn for a discarded speculative answer."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from bot.answering import IMAGE_LIMIT_NOTE
from bot.i18n import t
from bot.tools import IMAGE_OUTPUT_TOKENS
from storage import ChatKey
from testkit.fake_openai import FakeOpenAI, Reply, wrap_label
from testkit.fake_telegram import Call, FakeTelegram
from testkit.running import RunningBot
from tests.conftest import ADMIN_ID, eventually

USER = 8181
POSTER = b"\x89PNG\r\n\x1a\n" + b"poster pixels " * 64
BLUE = b"\x89PNG\r\n\x1a\n" + b"blue poster pixels " * 64
TOOL = {"type": "image_generation", "quality": "auto", "output_format": "png"}


def _answer_requests(ai: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        r.body
        for r in ai.requests_to("/v1/responses")
        if r.body is not None and "format" not in (r.body.get("text") or {})
    ]


def _upload(call: Call) -> bytes:
    [upload] = call.files.values()
    return upload.data


async def _photos(tg: FakeTelegram, chat: int, count: int = 1) -> list[Call]:
    return await tg.wait_for("sendPhoto", count, where=lambda c: c.params["chat_id"] == chat)


async def test_a_drawn_image_is_sent_as_a_photo_with_the_text_as_caption_and_counted(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot: RunningBot = await start_bot(assistant_tools="image_generation")
    ai.script(Reply.image("a poster for a Saturday market", POSTER, "Here is your **poster**!"))
    tg.private_text("Draw a poster for our Saturday market", chat_id=USER)
    [photo] = await _photos(tg, USER)
    assert _upload(photo) == POSTER  # uploaded (multipart), not a URL
    assert photo.params["caption"] == "Here is your poster!"
    assert [e["type"] for e in photo.params["caption_entities"]] == ["bold"]
    assert tg.calls_to("sendMessage") == []  # the text is the caption
    [request] = _answer_requests(ai)
    assert TOOL in request["tools"] and ai.drawn == ["a poster for a Saturday market"]

    async def recorded() -> bool:
        return (await bot.storage.usage.today(USER)).images == 1

    await eventually(recorded)
    today = await bot.storage.usage.today(USER)
    # the image's output tokens (not in the response's usage) count in the daily budget
    assert today.output_tokens >= IMAGE_OUTPUT_TOKENS["auto"]
    [_question, answer] = await bot.storage.transcript.recent(ChatKey(USER), 2)
    assert answer.text == "🖼️ Here is your **poster**!"


async def test_a_long_text_goes_before_the_photo_and_no_text_means_no_caption(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(assistant_tools="image_generation")
    long_text = "A market poster, with stalls and bunting. " * 30  # ~1,290 characters
    ai.script(Reply.image("poster", POSTER, long_text), Reply.image("again", BLUE))
    tg.private_text("draw a market poster and describe it", chat_id=USER)
    [photo] = await _photos(tg, USER)
    [message] = tg.calls_to("sendMessage")
    assert message.params["text"] == long_text.strip() and message.at <= photo.at
    assert "caption" not in photo.params and _upload(photo) == POSTER
    tg.private_text("again", chat_id=USER)
    photos = await _photos(tg, USER, 2)
    assert "caption" not in photos[1].params and _upload(photos[1]) == BLUE
    assert len(tg.calls_to("sendMessage")) == 1  # no "empty answer" line for an image alone


async def test_past_the_daily_image_limit_the_tool_is_not_offered_admins_exempt(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(assistant_tools="image_generation", daily_image_limit=2)
    ai.default_reply = lambda body: Reply.image("a cat", POSTER, "A cat.")
    tg.private_text("draw a cat", chat_id=USER)
    await _photos(tg, USER)
    assert _photos_caption(tg, USER, 0) == "A cat."
    tg.private_text("draw another cat", chat_id=USER)
    await _photos(tg, USER, 2)
    note = t("en", "image_limit_reached", limit=2)
    assert _photos_caption(tg, USER, 1) == f"A cat.\n\n{note}"  # the last one says so
    tg.private_text("one more cat", chat_id=USER)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    assert len(tg.calls_to("sendPhoto")) == 2  # no third image
    third = _answer_requests(ai)[-1]
    assert "tools" not in third or TOOL not in third["tools"]
    assert FakeOpenAI.input_texts(third)[0] == IMAGE_LIMIT_NOTE  # the model is told why
    assert len(ai.drawn) == 2
    tg.private_text("/usage", chat_id=USER)  # /usage shows the day's images against the limit
    await tg.wait_for("sendMessage", 2, where=lambda c: c.params["chat_id"] == USER)
    assert t("en", "usage_images_of", images=2, limit=2) in tg.sent_texts(USER)[-1]

    for n in range(3):  # an admin draws past the limit, and is never told about it
        tg.private_text(f"draw cat {n}", chat_id=ADMIN_ID)
        await _photos(tg, ADMIN_ID, n + 1)
    assert all(TOOL in r["tools"] for r in _answer_requests(ai)[-3:])
    assert {_photos_caption(tg, ADMIN_ID, n) for n in range(3)} == {"A cat."}


def _photos_caption(tg: FakeTelegram, chat: int, n: int) -> str:
    calls = [c for c in tg.calls_to("sendPhoto") if c.params["chat_id"] == chat]
    return str(calls[n].params.get("caption", ""))


async def test_a_follow_up_edits_the_image_in_the_same_conversation(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(assistant_tools="image_generation")
    ai.script(
        Reply.image("a market poster", POSTER, "Here it is."),
        Reply.image("the same poster, in blue", BLUE, "Now in blue."),
    )
    tg.private_text("Draw a poster for our Saturday market", chat_id=USER)
    await _photos(tg, USER)
    tg.private_text("make it blue", chat_id=USER)
    photos = await _photos(tg, USER, 2)
    assert _upload(photos[1]) == BLUE and photos[1].params["caption"] == "Now in blue."
    first, second = _answer_requests(ai)
    assert first["conversation"] == second["conversation"]
    # the follow-up's model read the poster it drew (the item kept in the conversation)
    conv = second["conversation"]
    *_, follow_up = [
        rid for rid, r in ai.responses.items() if (r.get("conversation") or {}).get("id") == conv
    ]
    drawn = [i for i in ai.contexts[follow_up] if i.get("type") == "image_generation_call"]
    assert [base64.b64decode(i["result"]) for i in drawn] == [POSTER]


async def test_a_discarded_speculative_answer_sends_no_photo_and_leaves_no_trace(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(assistant_tools="image_generation")
    release = asyncio.Event()

    def classify(body: dict[str, Any]) -> Reply:
        schema = body["text"]["format"]["schema"]
        return Reply(text=json.dumps(wrap_label(schema, "abusive")), gate=release)

    ai.classifier = classify
    ai.script(Reply.image("something nasty", POSTER, "Here."))
    tg.private_text("draw something nasty, idiot", chat_id=USER)
    start = len(ai.responses)

    async def drawn() -> bool:
        return len(ai.responses) > start  # the answer with its image is complete at OpenAI

    await eventually(drawn)
    release.set()
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    assert tg.sent_texts(USER) == [t("en", "refused")]
    assert tg.calls_to("sendPhoto") == []
    conv = _answer_requests(ai)[0]["conversation"]
    assert ai.conversations[conv] == []  # the drawing and the question are gone


async def test_without_the_tool_nothing_is_drawn(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    ai.script(Reply.image("a poster", POSTER, "I can't draw here, but picture this..."))
    tg.private_text("Draw a poster for our Saturday market", chat_id=USER)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    assert tg.sent_texts(USER) == ["I can't draw here, but picture this..."]
    assert tg.calls_to("sendPhoto") == [] and ai.drawn == []
    [request] = _answer_requests(ai)
    assert not any(t.get("type") == "image_generation" for t in request.get("tools") or [])


async def test_in_a_group_the_photo_answers_the_message_that_asked(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(assistant_tools="image_generation")
    group = -1002020
    ai.script(Reply.image("a market poster", POSTER, "Here is the poster."))
    asked = tg.group_text("@test_ai_bot draw a poster for our Saturday market", chat_id=group)
    [photo] = await _photos(tg, group)
    assert _upload(photo) == POSTER
    assert photo.params["reply_parameters"]["message_id"] == asked["message"]["message_id"]
    # the text once: as the caption, or (when a preview message showed it) as that message
    shown = [str(photo.params.get("caption", "")), *tg.sent_texts(group)]
    assert [s for s in shown if s] == ["Here is the poster."]
