"""In-memory stand-ins for unit tests: a Bot that records its calls, and the stores and AI
services a turn uses. No HTTP, no SQLite, no subprocess: a unit test runs in milliseconds.

`MemoryBot` has the few Bot methods bot/ code calls (send_message, send_message_draft,
edit_message_text, send_chat_action, send_photo); pass it where a `telegram.Bot` is expected
with `as_bot(fake)`. A call can be made to fail: `bot.fail("send_message", error, when=...)`,
or held in flight: `gate = bot.hold("send_message")` (recorded, answered once `gate.set()`).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from telegram import Bot, Chat, Message, MessageEntity

from bot.ai import AIError
from bot.ai.assistant import Citation, GeneratedImage, Usage
from storage import Assistant, ChatKey, ChatRecord, Question, TokenUsage
from storage.usage import DailyUsage

WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@dataclass(slots=True)
class Call:
    method: str
    chat_id: int
    text: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Failure:
    method: str
    error: BaseException
    when: Callable[[Call], bool]
    times: int


class MemoryBot:
    """Records every call; answers like Telegram would (message ids count up)."""

    username = "unit_test_bot"

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._failures: list[_Failure] = []
        self._held: dict[str, asyncio.Event] = {}
        self._next_id = 1000

    def hold(self, method: str) -> asyncio.Event:
        """Calls of `method` are recorded, then wait for the returned event before answering
        (a call in flight, as over a slow network)."""
        gate = self._held[method] = asyncio.Event()
        return gate

    async def _answer_when_released(self, method: str) -> None:
        gate = self._held.get(method)
        if gate is not None:
            await gate.wait()

    def fail(
        self,
        method: str,
        error: BaseException,
        *,
        when: Callable[[Call], bool] = lambda call: True,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` matching `when` raise `error`."""
        self._failures.append(_Failure(method, error, when, times))

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        for failure in self._failures:
            if failure.times > 0 and failure.method == call.method and failure.when(call):
                failure.times -= 1
                raise failure.error

    def _message(self, chat_id: int, text: str, message_id: int | None = None) -> Message:
        if message_id is None:
            self._next_id += 1
            message_id = self._next_id
        kind = Chat.PRIVATE if chat_id > 0 else Chat.SUPERGROUP
        return Message(message_id, WHEN, Chat(chat_id, kind), text=text)

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        entities: Sequence[MessageEntity] | None = None,
        message_thread_id: int | None = None,
        reply_parameters: object = None,
        reply_markup: object = None,
    ) -> Message:
        self._record(
            Call(
                "send_message",
                chat_id,
                text,
                {"entities": entities, "thread": message_thread_id, "reply": reply_parameters},
            )
        )
        await self._answer_when_released("send_message")
        return self._message(chat_id, text)

    async def send_photo(
        self,
        chat_id: int,
        photo: object,
        *,
        caption: str | None = None,
        caption_entities: Sequence[MessageEntity] | None = None,
        message_thread_id: int | None = None,
        reply_parameters: object = None,
    ) -> Message:
        self._record(Call("send_photo", chat_id, caption or "", {"reply": reply_parameters}))
        return self._message(chat_id, "")

    async def send_message_draft(
        self, chat_id: int, draft_id: int, text: str, *, message_thread_id: int | None = None
    ) -> bool:
        self._record(Call("send_message_draft", chat_id, text, {"draft_id": draft_id}))
        return True

    async def edit_message_text(
        self,
        text: str,
        *,
        chat_id: int,
        message_id: int,
        entities: Sequence[MessageEntity] | None = None,
    ) -> Message:
        self._record(
            Call(
                "edit_message_text", chat_id, text, {"message_id": message_id, "entities": entities}
            )
        )
        return self._message(chat_id, text, message_id)

    async def send_chat_action(
        self, chat_id: int, action: str, *, message_thread_id: int | None = None
    ) -> bool:
        self._record(Call("send_chat_action", chat_id, action))
        return True

    def of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def sent(self, chat_id: int | None = None) -> list[str]:
        """Texts of the messages sent (not drafts, not edits), in order."""
        return [c.text for c in self.of("send_message") if chat_id is None or c.chat_id == chat_id]


def as_bot(fake: MemoryBot) -> Bot:
    return cast(Bot, fake)


# --- stores ------------------------------------------------------------------------------------


class MemoryChats:
    def __init__(self) -> None:
        self.records: dict[ChatKey, ChatRecord] = {}

    async def ensure(self, key: ChatKey, chat_type: str) -> ChatRecord:
        record = self.records.get(key)
        if record is None:
            record = self.records[key] = ChatRecord(key, chat_type, None, None)
        return record

    async def get(self, key: ChatKey) -> ChatRecord | None:
        return self.records.get(key)

    async def set_conversation(self, key: ChatKey, conversation_id: str | None) -> None:
        self.records[key] = replace(self.records[key], conversation_id=conversation_id)


class MemoryAssistants:
    def __init__(self, *assistants: Assistant) -> None:
        self.by_id = {a.id: a for a in assistants}

    async def get(self, assistant_id: int) -> Assistant | None:
        return self.by_id.get(assistant_id)

    async def default(self) -> Assistant | None:
        return next((a for a in self.by_id.values() if a.is_default), None)


@dataclass(slots=True)
class Entry:
    role: str
    text: str
    label: str | None = None
    conversation_id: str | None = None
    tokens: tuple[int, int] | None = None
    update_id: int | None = None


class MemoryTranscript:
    def __init__(self) -> None:
        self.entries: list[Entry] = []

    async def append(
        self, key: ChatKey, role: str, text: str, *, label: str | None = None,
        conversation_id: str | None = None, **_: object,
    ) -> int:  # fmt: skip
        self.entries.append(Entry(role, text, label, conversation_id))
        return len(self.entries)

    async def append_answer(
        self, key: ChatKey, question: Question | None, answer: str, *, conversation_id: str | None,
        usage: TokenUsage, update_id: int | None = None, **_: object,
    ) -> None:  # fmt: skip
        if question is not None:
            self.entries.append(Entry("user", question.text, question.label, conversation_id))
        self.entries.append(
            Entry(
                "assistant",
                answer,
                None,
                conversation_id,
                (usage.input_tokens, usage.output_tokens),
                update_id,
            )
        )


# --- AI services -------------------------------------------------------------------------------


class MemoryConversations:
    def __init__(self) -> None:
        self.created: list[str] = []
        self.error: AIError | None = None

    async def create(
        self, chat_id: int, thread_id: int = 0, items: Sequence[Mapping[str, Any]] = ()
    ) -> str:
        if self.error is not None:
            raise self.error
        conversation_id = f"conv_{len(self.created) + 1}"
        self.created.append(conversation_id)
        return conversation_id

    async def settled(self, response_id: str) -> dict[str, Any] | None:
        return None

    async def remove_turn(self, conversation_id: str, inputs: Sequence[tuple[str, str]]) -> int:
        return 0


class MemoryUsage:
    """Usage counted outside an answer's write (a discarded speculative answer)."""

    def __init__(self) -> None:
        self.added: list[tuple[int, TokenUsage]] = []
        #: Images each user drew today (DAILY_IMAGE_LIMIT).
        self.images: dict[int, int] = {}

    async def add(self, user_id: int, usage: TokenUsage) -> None:
        self.added.append((user_id, usage))

    async def today(self, user_id: int) -> DailyUsage:
        return DailyUsage(images=self.images.get(user_id, 0))


class MemoryClassifier:
    def __init__(self, label: str = "general") -> None:
        self.label = label
        self.seen: list[str] = []

    async def classify(self, text: str, *, safety_identifier: str | None = None) -> str:
        self.seen.append(text)
        return self.label


class ScriptedStream:
    """An answer stream: yields `deltas`, then raises `error` (if any)."""

    def __init__(self, deltas: Sequence[str], error: BaseException | None, usage: Usage) -> None:
        self._deltas = deltas
        self._error = error
        self.usage = usage
        self.status = "completed"
        self.incomplete_reason: str | None = None
        self.received_text = False
        self.citations: list[Citation] = []
        self.images: list[GeneratedImage] = []
        self.response_ids: list[str] = []

    def __aiter__(self) -> AsyncIterator[str]:
        return self._run()

    async def _run(self) -> AsyncIterator[str]:
        self.response_ids.append(f"resp_{id(self):x}")  # started at OpenAI
        for delta in self._deltas:
            self.received_text = True
            yield delta
        if self._error is not None:
            raise self._error


class MemoryAssistantService:
    """Each `answer()` takes the next script: (deltas, error raised after them)."""

    def __init__(self, *scripts: tuple[Sequence[str], BaseException | None]) -> None:
        self.scripts = list(scripts)
        self.requests: list[dict[str, Any]] = []

    def answer(self, **request: Any) -> ScriptedStream:
        self.requests.append(request)
        deltas, error = self.scripts.pop(0)
        return ScriptedStream(deltas, error, Usage(11, 7))


class NoTools:
    def definitions(self, enabled: object) -> list[dict[str, Any]]:
        return []

    def names(self) -> list[str]:
        return []

    async def call(self, *args: object, **kwargs: object) -> str:
        raise AssertionError("no tool is called in these tests")
