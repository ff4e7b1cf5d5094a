"""Unit tests of one turn (bot/answering.py's Answerer), in process: a recording fake Bot and
in-memory stand-ins for the stores and the AI services (tests/unit_fakes.py)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from telegram.error import Forbidden

from bot.ai import AIUnavailable, ConversationGone, Identity
from bot.answering import IMAGE_LIMIT_NOTE, Answerer, Incoming
from bot.config import Settings
from bot.delivery import Destination
from bot.formatting import render_markdown, split_rendered
from bot.i18n import t
from bot.inbox import KeptAnswer, UpdateFacts
from bot.stopping import Stops
from storage import Assistant, ChatKey, Question, TokenUsage
from testkit.fake_telegram import TOKEN
from tests.unit_fakes import (
    MemoryAssistants,
    MemoryAssistantService,
    MemoryBot,
    MemoryChats,
    MemoryClassifier,
    MemoryConversations,
    MemoryTranscript,
    MemoryUsage,
    NoTools,
    as_bot,
)

USER = 501
ADMIN = 9
ROUTES = {
    "general": {"action": "answer", "description": "anything"},
    "abusive": {"action": "refuse", "description": "insults"},
    "hours": {"action": "reply", "description": "opening hours", "text": "Open 9 to 5."},
    "human": {"action": "handoff", "description": "wants a person"},
}
DEFAULT = Assistant(1, "Assistant", "Be helpful.", "model-a", is_default=True)


class MemoryLanguages:
    """Admins' Telegram languages: none known (their notices are in English)."""

    def code_of(self, user_id: int) -> str | None:
        return None


class Turn:
    """An Answerer wired to fakes, and what it did."""

    def __init__(
        self,
        *scripts: tuple[list[str], BaseException | None],
        label: str = "general",
        mode: str = "speculative",
        assistant: Assistant = DEFAULT,
        **overrides: object,
    ):
        values: dict[str, object] = {
            "classifier_mode": mode,
            "telegram_bot_token": TOKEN,
            "openai_api_key": "sk-unit",
            "admin_user_ids": str(ADMIN),
            "classifier_routes": json.dumps(ROUTES),
            # no typing indicator and no preview: the turn's calls are exactly the answer's
            "typing_delay_seconds": 10,
            "stream_first_preview_delay_seconds": 1,
            **overrides,
        }
        self.settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
        self.bot = MemoryBot()
        self.chats = MemoryChats()
        self.transcript = MemoryTranscript()
        self.usage = MemoryUsage()
        self.conversations = MemoryConversations()
        self.classifier = MemoryClassifier(label)
        self.assistant = MemoryAssistantService(*scripts)
        self.answerer = Answerer(
            self.settings,
            chats=cast(Any, self.chats),
            assistants=cast(Any, MemoryAssistants(assistant)),
            transcript=cast(Any, self.transcript),
            usage=cast(Any, self.usage),
            stops=Stops(),
            conversations=cast(Any, self.conversations),
            classifier=cast(Any, self.classifier),
            assistant=cast(Any, self.assistant),
            tools=cast(Any, NoTools()),
            http=cast(Any, None),
            languages=cast(Any, MemoryLanguages()),
            identity=Identity("test salt"),
        )

    async def text(
        self, text: str, *, update_id: int = 1, facts: UpdateFacts | None = None
    ) -> None:
        incoming = Incoming(
            key=ChatKey(USER),
            dest=Destination(USER, "private"),
            user_id=USER,
            user_name="Ana",
            lang="en",
            text=text,
            update_id=update_id,
            facts=facts,
        )
        await self.answerer.answer_text(as_bot(self.bot), incoming)

    def roles(self) -> list[tuple[str, str, str | None]]:
        return [(e.role, e.text, e.label) for e in self.transcript.entries]


async def test_answer_route_streams_the_answer_and_records_question_and_answer() -> None:
    turn = Turn((["Hello ", "**Ana**"], None))
    await turn.text("hi there", update_id=7)

    assert turn.classifier.seen == ["hi there"]
    [request] = turn.assistant.requests
    assert request["conversation_id"] == "conv_1" and request["model"] == "model-a"
    assert request["user_input"] == "hi there" and request["instructions"] == "Be helpful."
    [final] = turn.bot.of("send_message")
    assert final.text == "Hello Ana" and final.kwargs["entities"]  # Markdown -> a bold entity
    assert turn.roles() == [("user", "hi there", "general"), ("assistant", "Hello **Ana**", None)]
    assert turn.transcript.entries[-1].tokens == (11, 7)
    assert turn.transcript.entries[-1].update_id == 7
    assert turn.chats.records[ChatKey(USER)].conversation_id == "conv_1"  # stored for next time


async def test_refuse_route_answers_politely_without_the_assistant() -> None:
    turn = Turn(label="abusive", mode="sequential")
    await turn.text("you are useless")
    assert turn.bot.sent() == [t("en", "refused")]
    assert turn.assistant.requests == []
    assert turn.roles() == [("user", "you are useless", "abusive")]


async def test_a_speculative_answer_to_a_refused_message_never_shows() -> None:
    """Speculative: the answer starts with the classifier, but the label refuses: only the
    refusal goes out, the question is on record alone, and the stream's cost is counted."""
    turn = Turn((["You are ", "wrong!"], None), label="abusive")
    await turn.text("you are useless")
    assert len(turn.assistant.requests) == 1  # started at once
    assert turn.bot.sent() == [t("en", "refused")]
    assert turn.roles() == [("user", "you are useless", "abusive")]
    assert [user for user, _ in turn.usage.added] == [USER]


async def test_reply_route_sends_its_fixed_text() -> None:
    turn = Turn(label="hours", mode="sequential")
    await turn.text("when are you open?")
    assert turn.bot.sent() == ["Open 9 to 5."]
    assert turn.assistant.requests == []
    assert turn.roles() == [("user", "when are you open?", "hours")]


async def test_handoff_tells_the_admins_and_the_user() -> None:
    turn = Turn(label="human")
    await turn.text("I want to talk to a person")
    [to_admin] = turn.bot.sent(ADMIN)
    assert "Ana (id 501)" in to_admin and "I want to talk to a person" in to_admin
    assert turn.bot.sent(USER) == [t("en", "handoff_user")]
    assert turn.roles() == [("user", "I want to talk to a person", "human")]


async def test_a_lost_conversation_is_replaced_and_the_answer_says_so() -> None:
    turn = Turn(([], ConversationGone("gone")), (["Fresh start."], None))
    await turn.text("remember me?")

    assert turn.conversations.created == ["conv_1", "conv_2"]
    assert [r["conversation_id"] for r in turn.assistant.requests] == ["conv_1", "conv_2"]
    assert turn.chats.records[ChatKey(USER)].conversation_id == "conv_2"
    assert turn.bot.sent() == [f"{t('en', 'context_reset')}\n\nFresh start."]
    assert turn.transcript.entries[-1].conversation_id == "conv_2"


async def test_an_ai_error_gets_its_message_and_the_question_stays_on_record() -> None:
    turn = Turn(([], AIUnavailable("down")))
    await turn.text("are you there?")
    assert turn.bot.sent() == [t("en", "ai_unavailable")]
    assert turn.roles() == [("user", "are you there?", "general")]


async def test_a_conversation_that_cannot_be_created_gets_the_error_message() -> None:
    turn = Turn()
    turn.conversations.error = AIUnavailable("down")
    await turn.text("hello?")
    assert turn.bot.sent() == [t("en", "ai_unavailable")]
    assert turn.roles() == [("user", "hello?", "general")]
    assert turn.assistant.requests == []


async def test_an_empty_answer_says_so() -> None:
    turn = Turn((["  "], None))
    await turn.text("say nothing")
    assert turn.bot.sent() == [t("en", "empty_answer")]
    assert turn.roles() == [
        ("user", "say nothing", "general"),
        ("assistant", t("en", "empty_answer"), None),
    ]


async def test_an_empty_text_is_answered_without_any_model() -> None:
    turn = Turn()
    await turn.text("   ")
    assert turn.bot.sent() == [t("en", "empty_text")]
    assert turn.classifier.seen == [] and turn.transcript.entries == []


async def test_a_late_answer_starts_with_the_delay_note_once() -> None:
    turn = Turn((["First."], None), (["Second."], None))
    facts = UpdateFacts(1, 0.0, late=True)  # replayed after a restart
    await turn.text("still there?", facts=facts)
    assert turn.bot.sent() == [t("en", "delayed"), "First."]
    assert not facts.owes_delay_note
    assert facts.answered  # the answer's write marked its inbox row: no second write
    facts.retrying()  # run again (its reply failed after the note went out)
    await turn.text("still there?", facts=facts)
    assert turn.bot.sent() == [t("en", "delayed"), "First.", "Second."]


async def test_a_retry_delivers_only_the_parts_telegram_did_not_take_and_asks_nobody() -> None:
    long = "\n\n".join(f"Paragraph {i}: " + "word " * 150 for i in range(14))
    parts = [p.text for p in split_rendered(render_markdown(long))]
    assert len(parts) >= 3
    question = Question("tell me everything", "general", 1.0)
    facts = UpdateFacts(1, 0.0, retries=1)
    facts.keep_answer(KeptAnswer(long, question, "conv_9", TokenUsage(5, 0, 3), delivered=1))
    turn = Turn()
    await turn.text("tell me everything", facts=facts)
    assert turn.bot.sent() == parts[1:]
    assert turn.assistant.requests == [] and turn.classifier.seen == []
    assert turn.roles() == [("user", "tell me everything", "general"), ("assistant", long, None)]
    assert turn.transcript.entries[-1].conversation_id == "conv_9" and facts.answered


@pytest.mark.parametrize(("drawn_today", "offered"), [(1, True), (2, False)])
async def test_image_generation_is_offered_until_the_daily_limit(
    drawn_today: int, offered: bool
) -> None:
    painter = Assistant(
        1, "Painter", "Draw.", "model-a", is_default=True, tools=("image_generation",)
    )
    turn = Turn((["Sure."], None), assistant=painter, daily_image_limit=2)
    turn.usage.images[USER] = drawn_today
    await turn.text("draw a cat")
    [request] = turn.assistant.requests
    noted = request["user_input"][0] == {"role": "developer", "content": IMAGE_LIMIT_NOTE}
    assert noted is not offered


async def test_a_reply_telegram_refuses_keeps_the_question_on_record() -> None:
    turn = Turn((["Hello."], None))
    turn.bot.fail("send_message", Forbidden("bot was blocked by the user"))
    with pytest.raises(Forbidden):
        await turn.text("hi")
    assert turn.roles() == [("user", "hi", "general")]
