"""Unit tests of bot/delivery.py's StreamingReply, send_rendered and topic_of on a recording
fake Bot."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Chat, Message
from telegram.error import BadRequest, Forbidden

from bot.ai.assistant import GeneratedImage
from bot.answering import _deliver
from bot.delivery import Destination, StreamingReply, send_rendered, topic_of
from bot.flood import QUEUED_CALL
from bot.formatting import Rendered, render_markdown
from tests.unit_fakes import WHEN, MemoryBot, as_bot

PRIVATE = Destination(501, "private")
GROUP = Destination(-100501, "supergroup", reply_to=33)
LONG = "\n\n".join(f"Paragraph {i}: " + "word " * 150 for i in range(14))  # ~10,700 chars


def _reply(bot: MemoryBot, dest: Destination) -> StreamingReply:
    return StreamingReply(
        as_bot(bot), dest, draft_interval=0.01, edit_interval=0.01, typing_delay=10
    )


async def _until(check: object, rounds: int = 1000) -> None:
    """Let the preview task run until `check()` holds (loop turns, not wall-clock gaps)."""
    for _ in range(rounds):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("the preview never went out")


async def test_private_chat_shows_a_draft_then_sends_the_final_message() -> None:
    bot = MemoryBot()
    reply = _reply(bot, PRIVATE)
    reply.start()
    reply.feed("Hello ")
    reply.feed("**world**")
    await _until(lambda: bot.of("send_message_draft"))
    await reply.finish(reply.text)

    assert [c.method for c in bot.calls] == ["send_message_draft", "send_message"]
    assert bot.of("send_message_draft")[0].text == "Hello **world**"  # raw, as it streams
    final = bot.of("send_message")[0]
    assert final.text == "Hello world" and final.kwargs["entities"]
    assert reply.delivered == 1


async def test_group_preview_message_is_edited_into_the_final_answer() -> None:
    bot = MemoryBot()
    reply = _reply(bot, GROUP)
    reply.feed("Hel")
    await _until(lambda: bot.of("send_message"))
    await reply.finish("Hello **all**")

    [preview] = bot.of("send_message")
    assert preview.text == "Hel" and preview.kwargs["reply"] is not None  # replies in groups
    edit = bot.of("edit_message_text")[-1]
    assert edit.text == "Hello all" and edit.kwargs["entities"]
    assert edit.kwargs["message_id"] == 1001  # the preview's id: edited, not sent anew
    assert len(bot.of("send_message")) == 1 and reply.delivered == 1


async def test_entities_telegram_rejects_are_sent_again_as_plain_text() -> None:
    bot = MemoryBot()
    bot.fail(
        "send_message",
        BadRequest("Can't parse entities: unsupported start tag"),
        when=lambda call: bool(call.kwargs["entities"]),
    )
    await send_rendered(as_bot(bot), PRIVATE, render_markdown("**bold** move"))
    first, second = bot.of("send_message")
    assert first.kwargs["entities"] and second.kwargs["entities"] is None
    assert first.text == second.text == "bold move"


async def test_a_rejected_edit_of_the_group_preview_falls_back_to_plain_text() -> None:
    bot = MemoryBot()
    reply = _reply(bot, GROUP)
    reply.feed("Hi")
    await _until(lambda: bot.of("send_message"))
    bot.fail(
        "edit_message_text",
        BadRequest("Can't parse entities"),
        when=lambda call: bool(call.kwargs["entities"]),
    )
    await reply.finish("Hi **there**")
    *_, rejected, plain = bot.of("edit_message_text")
    assert rejected.kwargs["entities"] and plain.kwargs["entities"] is None
    assert plain.text == "Hi there" and reply.delivered == 1


async def test_a_long_answer_is_split_into_several_messages() -> None:
    bot = MemoryBot()
    reply = _reply(bot, PRIVATE)
    await reply.finish(LONG)
    texts = bot.sent()
    assert len(texts) == 3 and all(len(text) <= 4096 for text in texts)
    assert "".join(texts).replace("\n", "") == render_markdown(LONG).text.replace("\n", "")
    assert reply.delivered == 3


async def test_delivered_counts_the_parts_telegram_took_before_it_failed() -> None:
    calls = 0

    def second_part(_: object) -> bool:
        nonlocal calls
        calls += 1
        return calls == 2

    bot = MemoryBot()
    bot.fail("send_message", Forbidden("bot was blocked by the user"), when=second_part)
    reply = _reply(bot, PRIVATE)
    with pytest.raises(Forbidden):
        await reply.finish(LONG)
    assert reply.delivered == 1  # the retry resumes at the second part
    assert len(bot.sent()) == 2  # the first went out, the second was refused


async def test_only_group_answers_reply_to_the_message() -> None:
    bot = MemoryBot()
    await send_rendered(as_bot(bot), Destination(501, "private", reply_to=33), Rendered("hi"))
    await send_rendered(as_bot(bot), GROUP, Rendered("hi"))
    private, group = bot.of("send_message")
    assert private.kwargs["reply"] is None  # a private chat is the conversation itself
    assert group.kwargs["reply"].message_id == 33


async def test_a_preview_already_showing_the_answer_is_the_answer() -> None:
    bot = MemoryBot()
    reply = _reply(bot, GROUP)
    reply.feed("Done.")
    await _until(lambda: bot.of("send_message"))
    bot.fail("edit_message_text", BadRequest("Message is not modified"))
    [final] = await reply.finish("Done.")
    assert final.message_id == 1001 and reply.delivered == 1
    assert bot.sent() == ["Done."]  # the preview; nothing sent again


def test_a_topic_message_is_in_its_topic() -> None:
    group = Chat(-100, Chat.SUPERGROUP)
    assert topic_of(Message(7, WHEN, group, message_thread_id=42, is_topic_message=True)) == 42


def test_a_reply_thread_in_a_plain_group_is_no_topic() -> None:
    # message_thread_id names the thread of replies here; answers stay in the chat itself
    group = Chat(-100, Chat.SUPERGROUP)
    message = Message(7, WHEN, group, message_thread_id=42, is_topic_message=False)
    assert topic_of(message) is None


def test_no_message_no_topic() -> None:
    assert topic_of(None) is None
    assert topic_of(Message(7, WHEN, Chat(-100, Chat.SUPERGROUP))) is None


async def test_a_drawn_image_does_not_repeat_a_group_preview_still_in_flight() -> None:
    """The photo's caption carries the text only when no preview message shows it: a preview
    whose sendMessage is still in flight when the answer ends counts as shown (it lands)."""
    bot = MemoryBot()
    in_flight = bot.hold("send_message")
    reply = _reply(bot, GROUP)
    reply.feed("Here is the poster.")
    await _until(lambda: bot.of("send_message"))  # the preview is sent, not yet answered
    drawn = GeneratedImage("ig_1", b"\x89PNG...")
    answer = "Here is the poster."
    delivering = asyncio.create_task(_deliver(as_bot(bot), GROUP, reply, answer, [drawn]))
    for _ in range(50):  # the delivery decides while the preview is in flight
        await asyncio.sleep(0)
    in_flight.set()
    await delivering
    [photo] = bot.of("send_photo")
    shown = [photo.text, *bot.sent(GROUP.chat_id)]
    assert [text for text in shown if text] == ["Here is the poster."]


async def test_a_preview_still_waiting_for_a_slot_is_withdrawn_when_the_answer_ends() -> None:
    """Under Telegram's limits the final supersedes a draft still queued in the limiter (its
    QueuedCall waiting): the final goes without waiting for that slot, the draft never goes."""
    bot = MemoryBot()
    slot = asyncio.Event()

    async def draft_waiting_for_a_slot(*args: object, **kwargs: object) -> bool:
        queued = QUEUED_CALL.get()
        assert queued is not None  # the preview marks its call
        queued.waiting = True  # as PriorityRateLimiter does while the call queues
        await slot.wait()
        raise AssertionError("a withdrawn draft was sent")

    bot.send_message_draft = draft_waiting_for_a_slot  # type: ignore[method-assign]
    reply = _reply(bot, PRIVATE)
    reply.feed("Sure, that works.")
    for _ in range(20):
        await asyncio.sleep(0)
    # returns although the slot never frees (the timeout only guards against a hang)
    await asyncio.wait_for(reply.finish("Sure, that works."), 10)
    assert bot.sent(PRIVATE.chat_id) == ["Sure, that works."]


async def test_a_preview_granted_its_slot_lands_before_the_final() -> None:
    """A preview the limiter let through may be on the wire: the final waits for it."""
    bot = MemoryBot()
    on_the_wire = bot.hold("send_message")  # the group's first preview, granted, in flight
    reply = _reply(bot, GROUP)
    reply.feed("Here it comes")
    await _until(lambda: bot.of("send_message"))
    finishing = asyncio.create_task(reply.finish("Here it comes, whole."))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not finishing.done()  # waits for the preview in flight
    on_the_wire.set()
    await finishing
    assert [c.method for c in bot.calls] == ["send_message", "edit_message_text"]
