"""End to end: a chat of any length, and every way a response can end (issue 11, points 1, 2, 6).

The fake counts the conversation's real size against small windows (testkit/fake_openai.py):
past the window it answers the real 400 `context_length_exceeded` unless the request asks for
`truncation: "auto"`, and `context_management` compacts the conversation server side.
"""

from __future__ import annotations

from typing import Any

import pytest

from storage import ChatKey
from testkit.fake_openai import IMAGE_TOKENS, FakeOpenAI, Reply
from testkit.fake_telegram import FakeTelegram
from testkit.running import RunningBot
from tests.conftest import eventually
from tests.test_e2e_text import _assistant_requests
from tests.test_e2e_vision import make_image

USER = 5150
MODEL = "gpt-5.4-mini"  # the default assistant's model
CONTEXT_ERROR = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)


def _answer_usages(ai: FakeOpenAI) -> list[dict[str, Any]]:
    """`usage` of each stored answer (in a conversation), in the order they finished."""
    return [r["usage"] for r in ai.responses.values() if r.get("conversation")]


async def _statuses_become(bot: RunningBot, expected: list[str]) -> bool:
    """True once the transcript's assistant rows carry `expected` statuses (the row is written
    just after the final message is sent)."""

    async def check() -> bool:
        rows = await bot.storage.conn.execute_fetchall(
            "SELECT status FROM transcript WHERE role = 'assistant' ORDER BY id"
        )
        return [r[0] for r in rows] == expected

    await eventually(check)
    return True


async def _say(tg: FakeTelegram, text: str, count: int) -> str:
    """Send `text` privately and return the final answer (the `count`-th message sent)."""
    tg.private_text(text, chat_id=USER)
    await tg.wait_for("sendMessage", count, timeout=20)
    return tg.sent_texts(USER)[-1]


# --- point 1: bounded context ---------------------------------------------------------------


async def test_a_chat_past_the_window_stays_bounded_by_server_side_compaction(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """30 turns of ~130 tokens each through a 3,000-token window: every message is answered,
    the server compacts the conversation, and the input per message stays near the threshold
    instead of filling the window."""
    ai.set_context_window(MODEL, 3_000)
    await start_bot(context_compact_tokens=1_200, rate_limit_per_minute=0)
    for i in range(30):
        text = f"message {i}: " + "tell me more about the garden " * 8
        assert (await _say(tg, text, i + 1)).startswith(f"Echo: message {i}:")

    bodies = _assistant_requests(ai)
    assert all(
        b["context_management"] == [{"type": "compaction", "compact_threshold": 1_200}]
        and b["truncation"] == "auto"
        for b in bodies
    )
    assert len(ai.compacted) >= 2  # compacted more than once as the chat went on
    inputs = [u["input_tokens"] for u in _answer_usages(ai)]
    assert len(inputs) == 30
    # without compaction the input would climb to the window (truncation alone keeps ~3,000)
    assert max(inputs[10:]) < 1_200 + 400, inputs


async def test_without_compaction_truncation_still_answers_every_message(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """CONTEXT_COMPACT_TOKENS=0: no compaction asked, truncation "auto" drops the oldest items
    at the window, and no message fails."""
    ai.set_context_window(MODEL, 1_500)
    await start_bot(context_compact_tokens=0, rate_limit_per_minute=0)
    for i in range(20):
        text = f"note {i}: " + "the shop opens at nine on saturdays " * 6
        assert (await _say(tg, text, i + 1)).startswith(f"Echo: note {i}:")
    bodies = _assistant_requests(ai)
    assert all("context_management" not in b and b["truncation"] == "auto" for b in bodies)
    assert ai.compacted == {}
    assert max(u["input_tokens"] for u in _answer_usages(ai)) <= 1_500


# --- point 3: photos do not haunt the context -----------------------------------------------


async def test_photos_are_compacted_away_so_later_texts_do_not_pay_for_them(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """10 photos (765 tokens each at detail auto, on every later turn while they stay in the
    conversation), then 20 texts: compaction folds the photos into one small item, so the 20th
    text costs a fraction of what the photos alone would."""
    await start_bot(context_compact_tokens=3_000, rate_limit_per_minute=0)
    sent = 0
    for i in range(10):
        photo = tg.photo_sizes(make_image("JPEG", (64 + i, 48)), 64 + i, 48)
        tg.media_message({"photo": photo}, chat_id=USER, caption=f"photo {i}")
        sent += 1
        await tg.wait_for("sendMessage", sent, timeout=20)
    for i in range(20):
        sent += 1
        assert (await _say(tg, f"text {i}", sent)) == f"Echo: text {i}"
    usages = _answer_usages(ai)
    assert len(usages) == 30
    twentieth = usages[-1]["input_tokens"]
    # bounded by the threshold, where the ten photos alone would be 7,650 tokens on every turn
    assert twentieth < 3_000 < 10 * IMAGE_TOKENS["auto"], twentieth
    # the photos went into compaction items (the last ones wait for the next compaction)
    folded = [part for items in ai.compacted.values() for item in items
              for part in (item.get("content") or []) if isinstance(part, dict)]  # fmt: skip
    assert sum(part.get("type") == "input_image" for part in folded) >= 5


# --- point 2: never bricked -----------------------------------------------------------------


async def _recovers_in_the_same_message(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, overflow: Reply, transport: str
) -> None:
    bot = await start_bot(openai_transport=transport)
    for i in range(3):
        assert (await _say(tg, f"hello {i}", i + 1)) == f"Echo: hello {i}"
    [old_conversation] = ai.conversations
    ai.script(overflow)
    answer = await _say(tg, "and the opening hours?", 4)
    # answered within the same message, with one line saying older context was condensed
    assert answer.startswith("(This chat had grown too long for me")
    assert answer.endswith("Echo: and the opening hours?")
    # the recent turns were condensed (standalone compaction) into a new, seeded conversation
    [compact] = ai.requests_to("/v1/responses/compact")
    assert compact.body is not None
    carried = FakeOpenAI.input_texts(compact.body)
    assert carried[:2] == ["hello 0", "Echo: hello 0"] and carried[-1] == "Echo: hello 2"
    new_conversation = next(c for c in ai.conversations if c != old_conversation)
    assert ai.conversations[new_conversation][0]["role"] == "user"  # seeded with the carry
    assert any(i["type"] == "compaction" for i in ai.conversations[new_conversation])
    record = await bot.storage.chats.get(ChatKey(USER))
    assert record is not None and record.conversation_id == new_conversation  # stored
    # the next message works normally, in the new conversation
    assert (await _say(tg, "thanks", 5)) == "Echo: thanks"
    assert _assistant_requests(ai)[-1]["conversation"] == new_conversation
    assert await _statuses_become(bot, ["completed"] * 5)


@pytest.mark.parametrize("transport", ["lean", "sdk"])
async def test_a_400_context_length_exceeded_is_recovered_in_the_same_message(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, transport: str
) -> None:
    overflow = Reply(
        status=400,
        error_type="invalid_request_error",
        error_code="context_length_exceeded",
        error_param="input",
        error_message=CONTEXT_ERROR,
    )
    await _recovers_in_the_same_message(tg, ai, start_bot, overflow, transport)


@pytest.mark.parametrize("transport", ["lean", "sdk"])
async def test_an_overflow_reported_inside_the_stream_is_recovered_too(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, transport: str
) -> None:
    """The overflow as an `error` event after a 200 (the stream form of the same error)."""
    overflow = Reply.stream_error(code="context_length_exceeded", error_message=CONTEXT_ERROR)
    await _recovers_in_the_same_message(tg, ai, start_bot, overflow, transport)


async def test_a_message_too_large_for_any_window_is_refused_and_the_chat_goes_on(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """The fake's own window, not a script: a message that alone does not fit the model's
    window is refused with one clear line (truncation cannot help, nor can a new
    conversation), and the next message is answered as usual."""
    ai.set_context_window(MODEL, 700)
    bot = await start_bot(max_text_chars=4_000)
    assert (await _say(tg, "hi", 1)) == "Echo: hi"
    answer = await _say(tg, "please read this: " + "word " * 700, 2)
    assert answer == "That message is too long for me to read. Please send a shorter one."
    assert (await _say(tg, "ok, short then", 3)) == "Echo: ok, short then"
    assert await _statuses_become(bot, ["completed", "completed"])


# --- point 6: every way a response can end -------------------------------------------------


async def test_max_output_tokens_cuts_the_answer_and_says_how_to_go_on(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot(max_output_tokens=20)
    ai.script(Reply(text="The market opens at eight. " * 10))
    answer = await _say(tg, "when?", 1)
    [body] = _assistant_requests(ai)
    assert body["max_output_tokens"] == 20
    kept, note = answer.split("\n\n")
    assert kept == ("The market opens at eight. " * 10)[:80]  # what the model wrote (20 x 4)
    assert note == '[the answer reached its length limit: say "continue" for the rest]'
    assert await _statuses_become(bot, ["incomplete"])


async def test_a_content_filter_stop_keeps_the_text_and_says_why(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    ai.script(Reply.incomplete("Here is the first part.", "content_filter"))
    answer = await _say(tg, "tell me", 1)
    assert answer == (
        "Here is the first part.\n\n[the rest of this answer was withheld by the content"
        " filter: try asking differently]"
    )
    assert await _statuses_become(bot, ["incomplete"])


async def test_a_response_failed_mid_stream_keeps_what_was_written(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    ai.script(Reply.failed("The first half of a good answer", code="server_error"))
    answer = await _say(tg, "explain", 1)
    assert answer == (
        "The first half of a good answer\n\n[the AI service failed while answering: please"
        " ask again]"
    )
    assert await _statuses_become(bot, ["failed"])
    assert (await _say(tg, "again", 2)) == "Echo: again"  # the conversation goes on


async def test_a_failure_before_any_text_says_the_service_failed(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    ai.script(Reply.failed(code="server_error"), Reply.stream_error(code="rate_limit_exceeded"))
    assert (await _say(tg, "one", 1)).startswith("Sorry, the AI service isn't answering")
    assert (
        await _say(tg, "two", 2)
    ) == "The AI service is busy right now. Please try again in a minute."


async def test_an_error_event_after_some_text_keeps_it(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    ai.script(Reply.stream_error("Half of it", code="server_error"))
    answer = await _say(tg, "go", 1)
    assert answer.startswith("Half of it\n\n[the AI service failed while answering")
    assert await _statuses_become(bot, ["failed"])


async def test_a_refusal_is_shown_in_the_models_words_and_recorded_as_such(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    ai.script(Reply.refused("I can't help with picking that lock."))
    assert (await _say(tg, "how do I open my neighbour's door?", 1)) == (
        "I can't help with picking that lock."
    )
    assert await _statuses_become(bot, ["refused"])
