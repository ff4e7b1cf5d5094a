"""One user turn, start to finish: classification, route, streamed answer, transcript.

A turn is a text, photos or a document with an optional caption (the caption is the question),
or what was heard in a voice note. All go through the same classifier, routes and conversation,
so a follow-up text about a photo or a PDF is answered with it in context.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from telegram import Bot, MessageEntity
from telegram.error import TelegramError

from bot.ai import (
    AIError,
    AnswerStream,
    AssistantService,
    Classifier,
    ContextTooLong,
    ConversationGone,
    ConversationService,
    Identity,
    StreamInterrupted,
    ToolRunner,
)
from bot.ai.assistant import GeneratedImage
from bot.ai.conversations import input_signatures
from bot.config import Settings
from bot.delivery import (
    CAPTION_LIMIT,
    Destination,
    StreamingReply,
    send_photo,
    send_plain,
    send_rendered,
)
from bot.documents import ReadDocument
from bot.formatting import Rendered, render_markdown, split_rendered, utf16_len, with_sources
from bot.i18n import t
from bot.images import PreparedImage
from bot.inbox import KeptAnswer, UpdateFacts
from bot.routing import Route, notify_admins, route_for
from bot.stopping import Stops
from bot.tools import IMAGE_OUTPUT_TOKENS, ToolContext, ToolRegistry
from storage import (
    Assistant,
    AssistantRepository,
    ChatKey,
    ChatRecord,
    ChatRepository,
    LanguageRepository,
    Question,
    TokenUsage,
    TranscriptEntry,
    TranscriptRepository,
    UsageRepository,
)

log = logging.getLogger(__name__)

#: What a conversation that outgrew the model's window carries into the new one: the chat's
#: last messages from the transcript, at most this many and this many characters (about a
#: thousand tokens), condensed by OpenAI's standalone compaction.
CARRY_MESSAGES = 10
CARRY_CHARS = 4_000

#: What the model is told on a turn without the image_generation tool because the user drew
#: DAILY_IMAGE_LIMIT images today (model-facing, so in English).
IMAGE_LIMIT_NOTE = (
    "Image generation is not available to this user until midnight UTC: they reached today's "
    "image limit. If they ask for an image, say so briefly."
)

#: The line that ends an incomplete answer, by `incomplete_details.reason`.
_INCOMPLETE_NOTES = {
    "max_output_tokens": "answer_cut_length",
    "content_filter": "answer_cut_filter",
}


class _Stopped(Exception):
    """The asker pressed Stop."""


class _Gate:
    """Between a speculative answer and the user: text is held and tools wait until `open()`
    (the label says answer); then the held text goes out and the rest flows through."""

    def __init__(self, reply: StreamingReply) -> None:
        self._reply = reply
        self._held: list[str] = []
        self._open = asyncio.Event()

    def feed(self, delta: str) -> None:
        if self._open.is_set():
            self._reply.feed(delta)
        else:
            self._held.append(delta)

    def open(self) -> None:
        self._open.set()
        for delta in self._held:
            self._reply.feed(delta)
        self._held.clear()

    def tools(self, run: ToolRunner) -> ToolRunner:
        """`run`, waiting for `open()`: a discarded answer never runs a tool."""

        async def gated(name: str, arguments: str) -> str:
            await self._open.wait()
            return await run(name, arguments)

        return gated


@dataclass(slots=True)
class _Run:
    """What the answer's stream task leaves for the turn: its stream, the conversation it ran
    in (a recovery may replace it) and the line that says so."""

    conversation_id: str
    stream: AnswerStream | None = None
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """A user's turn, already parsed out of the Telegram update."""

    key: ChatKey
    dest: Destination
    user_id: int
    user_name: str
    lang: str
    text: str
    update_id: int
    chat_title: str | None = None
    #: The inbox's facts of the update (late? retried? an answer kept?); None when it does not
    #: follow it.
    facts: UpdateFacts | None = None


@dataclass(frozen=True, slots=True)
class ModelTurn:
    """What the assistant is asked: the input items, the model, and how the turn is logged."""

    user_input: str | list[dict[str, Any]]
    model: str | None
    transcript_text: str
    with_images: bool = False


def _speaker(incoming: Incoming, text: str) -> str:
    """In groups several people talk to one conversation: say who is speaking."""
    if incoming.dest.is_private:
        return text
    return f"[{incoming.user_name}] {text}"


class Answerer:
    """Answers users' turns (texts, photos): built once at start-up with only what a turn uses."""

    def __init__(
        self,
        settings: Settings,
        *,
        chats: ChatRepository,
        assistants: AssistantRepository,
        transcript: TranscriptRepository,
        usage: UsageRepository,
        stops: Stops,
        conversations: ConversationService,
        classifier: Classifier,
        assistant: AssistantService,
        tools: ToolRegistry,
        http: httpx.AsyncClient,
        languages: LanguageRepository,
        identity: Identity,
    ) -> None:
        self._settings = settings
        self._identity = identity
        self._languages = languages
        self._chats = chats
        self._assistants = assistants
        self._transcript = transcript
        self._usage = usage
        self._stops = stops
        self._conversations = conversations
        self._classifier = classifier
        self._assistant = assistant
        self._tools = tools
        self._http = http

    async def conversation_for(self, key: ChatKey, chat_type: str) -> tuple[ChatRecord, str]:
        """The chat's record and conversation id; the conversation is created (and stored) on
        first use."""
        record = await self._chats.ensure(key, chat_type)
        if record.conversation_id:
            return record, record.conversation_id
        return record, await self.new_conversation(key)

    async def new_conversation(self, key: ChatKey, seed: Sequence[Mapping[str, Any]] = ()) -> str:
        """Create the chat's (topic's) conversation on OpenAI, holding `seed`'s items first, and
        store it as the chat's one."""
        conversation_id = await self._conversations.create(key.chat_id, key.thread_id, seed)
        await self._chats.set_conversation(key, conversation_id)
        return conversation_id

    async def condensed_conversation(self, key: ChatKey, model: str) -> str:
        """A new conversation for a chat whose conversation no longer fits the model's window,
        stored as the chat's one: seeded with its last messages (CARRY_MESSAGES, CARRY_CHARS)
        condensed by standalone compaction (`/responses/compact`), or as they are should the
        compaction fail."""
        carried = _carried_items(await self._transcript.recent(key, CARRY_MESSAGES))
        seed: list[Any] = carried
        if carried:
            try:
                seed = await self._conversations.compact(model, carried)
            except AIError as exc:
                log.warning(
                    "chat %s: compaction failed, carrying the messages: %s", key.chat_id, exc
                )
        return await self.new_conversation(key, seed)

    async def answer_text(self, bot: Bot, incoming: Incoming) -> None:
        """Answer a text message."""
        text = incoming.text.strip()
        if not text:
            await send_plain(bot, incoming.dest, t(incoming.lang, "empty_text"))
            return
        await self._handle_turn(
            bot, incoming, text, ModelTurn(_speaker(incoming, text), None, text)
        )

    async def answer_images(
        self,
        bot: Bot,
        incoming: Incoming,
        images: Sequence[PreparedImage],
        camera_context: str | None,
    ) -> None:
        """Answer photos (one, or an album) with the caption as the question."""
        settings = self._settings
        caption = incoming.text.strip()
        if caption:
            question = caption
        elif len(images) == 1:
            question = t(incoming.lang, "vision_default_prompt")
        else:
            question = t(incoming.lang, "vision_default_prompt_many", count=len(images))
        if camera_context:
            question = (
                f"{t(incoming.lang, 'camera_context_line', context=camera_context)}\n\n{question}"
            )
        content: list[dict[str, Any]] = [
            {"type": "input_text", "text": _speaker(incoming, question)}
        ]
        content += [
            {"type": "input_image", "image_url": image.data_url(), "detail": settings.image_detail}
            for image in images
        ]
        icon = "📷" if len(images) == 1 else f"📷×{len(images)}"
        turn = ModelTurn(
            [{"role": "user", "content": content}],
            settings.vision_model,
            f"{icon} {caption}".rstrip(),
            with_images=True,
        )
        await self._handle_turn(bot, incoming, caption, turn)

    async def answer_document(self, bot: Bot, incoming: Incoming, document: ReadDocument) -> None:
        """Answer a PDF or text file with the caption as the question (a default question
        without one): a PDF as an `input_file` with its bytes inline, a text file as text."""
        caption = incoming.text.strip()
        question = caption or t(incoming.lang, "document_default_prompt")
        part: dict[str, Any]
        if document.kind == "pdf":
            part = {
                "type": "input_file",
                "filename": document.file_name,
                "file_data": document.data_url(),
            }
        else:
            part = {"type": "input_text", "text": f"{document.file_name}:\n{document.text}"}
        content = [part, {"type": "input_text", "text": _speaker(incoming, question)}]
        transcript = (
            f"📄 {document.file_name}: {caption}" if caption else f"📄 {document.file_name}"
        )
        turn = ModelTurn([{"role": "user", "content": content}], None, transcript)
        await self._handle_turn(bot, incoming, caption, turn)

    async def answer_heard(self, bot: Bot, incoming: Incoming, heard: str) -> str | None:
        """Answer what was heard in a voice note, audio file or video note exactly like a typed
        message, after a quote of what was heard (so a misheard word shows). Returns the answer
        delivered, None when the route gave no answer."""
        facts = incoming.facts
        if facts is None or facts.kept is None:  # a retry delivering a kept answer quoted it
            await send_rendered(bot, incoming.dest, heard_quote(heard))
        turn = ModelTurn(_speaker(incoming, heard), None, f"🎤 {heard}")
        return await self._handle_turn(bot, incoming, heard, turn)

    async def _handle_turn(
        self, bot: Bot, incoming: Incoming, to_classify: str, turn: ModelTurn
    ) -> str | None:
        """Classify (when there is text), route, and record both sides in the transcript;
        the answer delivered, or None."""
        started = time.monotonic()
        facts = incoming.facts
        if facts is not None and facts.owes_delay_note:
            await send_plain(bot, incoming.dest, t(incoming.lang, "delayed"))
            facts.delay_noted()
        kept = facts.kept if facts is not None else None
        if kept is not None:  # written already, Telegram failed to take it: deliver, do not re-ask
            await self._deliver_kept(bot, incoming, kept)
            return kept.markdown
        classify = asyncio.create_task(self._classify(to_classify, incoming.user_id))
        try:
            record, conversation_id = await self.conversation_for(
                incoming.key, incoming.dest.chat_type
            )
        except AIError as exc:
            question = Question(turn.transcript_text, await classify, time.time())
            log.warning("chat %s: could not create a conversation: %s", incoming.key.chat_id, exc)
            error_notice = send_plain(bot, incoming.dest, t(incoming.lang, exc.user_key))
            await self._reply_and_record(incoming, question, None, error_notice)
            return None
        speculative = self._settings.classifier_mode == "speculative"
        if not speculative:
            await asyncio.wait([classify])
        route = route_for(self._settings, classify.result()) if classify.done() else None
        answer: str | None = None
        if route is None or route.action == "answer":
            # The question is written with its answer: one statement for the whole turn. With
            # the label still to come the answer starts at once, shown only if it is wanted.
            route, answer = await self._stream_answer(
                bot, incoming, turn, record, conversation_id, classify
            )
        if route.action != "answer":
            question = Question(turn.transcript_text, route.label, time.time())
            reply = self._reply_without_model(bot, incoming, route, turn.transcript_text)
            await self._reply_and_record(incoming, question, conversation_id, reply)
        log.info(
            "answered chat=%s thread=%s update=%s label=%s route=%s latency_ms=%.0f",
            incoming.key.chat_id,
            incoming.key.thread_id,
            incoming.update_id,
            route.label,
            route.action,
            (time.monotonic() - started) * 1000,
        )
        return answer

    async def _deliver_kept(self, bot: Bot, incoming: Incoming, kept: KeptAnswer) -> None:
        """A retry of an answer Telegram did not take: send the parts it did not accept yet."""
        parts = split_rendered(render_markdown(kept.markdown))
        for part in parts[kept.delivered :]:
            await send_rendered(bot, incoming.dest, part)
            kept.delivered += 1
        await self._write_answer(
            incoming,
            kept.question,
            kept.markdown,
            kept.conversation_id,
            kept.usage,
            kept.status,
        )
        log.info("answered chat=%s update=%s late", incoming.key.chat_id, incoming.update_id)

    async def _write_answer(
        self,
        incoming: Incoming,
        question: Question,
        answer: str,
        conversation_id: str,
        usage: TokenUsage,
        status: str = "completed",
    ) -> None:
        """The delivered answer on record, its inbox row done with it: the first thing after the
        final send returns (a crash before this write is answered again after a restart)."""
        await self._transcript.append_answer(
            incoming.key,
            question,
            answer,
            user_id=incoming.user_id,
            conversation_id=conversation_id,
            usage=usage,
            status=status,
            update_id=incoming.update_id,
        )
        if incoming.facts is not None:
            incoming.facts.marked_by_answer()

    async def _reply_without_model(
        self, bot: Bot, incoming: Incoming, route: Route, text: str
    ) -> None:
        """The routes that do not ask the assistant: a fixed reply, a refusal, a hand-off."""
        if route.action == "reply":
            await send_plain(bot, incoming.dest, route.text or "")
        elif route.action == "refuse":
            await send_plain(bot, incoming.dest, t(incoming.lang, "refused"))
        else:  # handoff
            who = f"{incoming.user_name} (id {incoming.user_id})"
            chat = incoming.chat_title  # None: a private chat, named in each admin's language
            await notify_admins(
                bot, self._settings, self._languages, user=who, chat=chat, text=text
            )
            await send_plain(bot, incoming.dest, t(incoming.lang, "handoff_user"))

    async def _reply_and_record(
        self,
        incoming: Incoming,
        question: Question,
        conversation_id: str | None,
        reply: Awaitable[object],
    ) -> None:
        """Send a reply that ends the turn without an answer, then put the question on record.

        When Telegram fails to take the reply and the inbox will retry the update, the question is
        recorded by the retry that delivers it: once, not once per attempt."""
        try:
            await reply
        except TelegramError as exc:
            if incoming.facts is None or not incoming.facts.will_retry(exc):
                await self._record_question(incoming, question, conversation_id)
            raise
        await self._record_question(incoming, question, conversation_id)

    async def _record_question(
        self, incoming: Incoming, question: Question, conversation_id: str | None
    ) -> None:
        """The user's message alone in the transcript (a turn without an assistant's answer)."""
        await self._transcript.append(
            incoming.key,
            "user",
            question.text,
            user_id=incoming.user_id,
            label=question.label,
            conversation_id=conversation_id,
            created_at=question.asked_at,
        )

    async def _classify(self, text: str, user_id: int) -> str:
        """The label of `text`; a turn without text (a photo alone) takes the default label."""
        if not text:
            return self._settings.default_label
        return await self._classifier.classify(
            text, safety_identifier=self._identity.safety_identifier(user_id)
        )

    def _tool_runner(self, incoming: Incoming, assistant: Assistant) -> ToolRunner:
        """Tools run with a plain user's context: this chat, this user, no storage, no secrets."""
        settings = self._settings
        context = ToolContext(
            chat_id=incoming.key.chat_id,
            user_id=incoming.user_id,
            lang=incoming.lang,
            http=self._http,
            weather_geocoding_url=settings.weather_geocoding_url,
            weather_forecast_url=settings.weather_forecast_url,
            timeout=settings.tool_timeout_seconds,
        )
        enabled = frozenset(assistant.tools)

        async def run(name: str, arguments: str) -> str:
            return await self._tools.call(name, arguments, context, enabled=enabled)

        return run

    async def _stream_answer(
        self,
        bot: Bot,
        incoming: Incoming,
        turn: ModelTurn,
        record: ChatRecord,
        conversation_id: str,
        label: asyncio.Task[str],
    ) -> tuple[Route, str | None]:
        """Stream the assistant's answer; the route taken and the answer delivered (None when
        there is none).

        `label` is the classifier's task. Sequential: it is done and says answer. Speculative
        (CLASSIFIER_MODE): the answer starts while it runs, shows nothing and runs no tool until
        the label is known; then the answer goes on, or it is stopped and removed from the
        conversation (its tokens still counted) and the route returned for the caller to do.
        """
        settings = self._settings
        assistant = None
        if record.assistant_id is not None:
            assistant = await self._assistants.get(record.assistant_id)
        if assistant is None:
            assistant = await self._assistants.default()
        assert assistant is not None, "the default assistant is created at start-up"

        stop = self._stops.open(incoming.key.chat_id, incoming.user_id)
        reply = StreamingReply(
            bot,
            incoming.dest,
            draft_interval=settings.stream_draft_interval_seconds,
            edit_interval=settings.stream_edit_interval_seconds,
            typing_delay=settings.typing_delay_seconds,
            first_preview_delay=settings.stream_first_preview_delay_seconds,
            stop_markup=stop.markup(incoming.lang),
            stop_text=t(incoming.lang, "stop_writing"),
            stop_after=settings.stop_button_after_seconds,
        )
        reply.start()
        # The instructions and tools are the start of every request's prefix: the same each turn
        # (photo instructions go in the photo turn's input instead), so the prefix stays cached.
        user_input = turn.user_input
        if turn.with_images and assistant.vision_instructions and isinstance(user_input, list):
            vision = {"role": "developer", "content": assistant.vision_instructions}
            user_input = [vision, *user_input]
        identity = self._identity
        cache_key = identity.prompt_cache_key(
            incoming.key.chat_id, incoming.key.thread_id, assistant.id
        )
        enabled = list(assistant.tools)
        images_before, image_limit = 0, settings.daily_image_limit
        if incoming.user_id in settings.admin_user_ids:
            image_limit = 0  # admins are exempt
        if "image_generation" in enabled and image_limit:
            images_before = (await self._usage.today(incoming.user_id)).images
            if images_before >= image_limit:  # not offered today: it would cost, and be refused
                enabled.remove("image_generation")
                user_input = _with_developer_note(user_input, IMAGE_LIMIT_NOTE)
        tools = self._tools.definitions(enabled)
        if assistant.vector_store_id:
            tools.append({"type": "file_search", "vector_store_ids": [assistant.vector_store_id]})
        gate = _Gate(reply)
        run_tool = gate.tools(self._tool_runner(incoming, assistant))
        model = turn.model or assistant.model
        run = _Run(conversation_id)

        async def stream_it() -> None:
            """The answer's stream into the gate, with one recovery before any text."""
            for attempt in range(2):
                stream = run.stream = self._assistant.answer(
                    conversation_id=run.conversation_id,
                    model=model,
                    instructions=assistant.instructions,
                    user_input=user_input,
                    tools=tools,
                    temperature=assistant.temperature,
                    reasoning_effort=assistant.reasoning_effort,
                    run_tool=run_tool,
                    max_tool_turns=settings.tool_max_turns,
                    prompt_cache_key=cache_key,
                    safety_identifier=identity.safety_identifier(incoming.user_id),
                    compact_threshold=settings.context_compact_tokens or None,
                    max_output_tokens=settings.max_output_tokens,
                    image_output_tokens=IMAGE_OUTPUT_TOKENS[settings.image_generation_quality],
                )
                try:
                    async for delta in stream:
                        gate.feed(delta)
                    return
                except (ConversationGone, ContextTooLong) as exc:
                    # Before any text: start again, once, in a new conversation.
                    if attempt or stream.received_text:
                        raise
                    chat = incoming.key.chat_id
                    if isinstance(exc, ConversationGone):
                        log.info("chat %s: conversation %s is gone", chat, run.conversation_id)
                        run.conversation_id = await self.new_conversation(incoming.key)
                        run.notice = t(incoming.lang, "context_reset")
                    else:
                        log.info("chat %s: conversation %s outgrew the window: %s",
                                 chat, run.conversation_id, exc)  # fmt: skip
                        run.conversation_id = await self.condensed_conversation(incoming.key, model)
                        run.notice = t(incoming.lang, "context_condensed")

        streaming = asyncio.create_task(stream_it(), name="answer-stream")
        route = route_for(settings, await label)
        question = Question(turn.transcript_text, route.label, time.time())
        if route.action != "answer":  # speculative, and not to be answered: no trace of it
            self._stops.close(stop)
            streaming.cancel()
            await asyncio.wait([streaming])
            await reply.close()
            await self._discard(incoming, run, input_signatures(user_input))
            return route, None
        gate.open()
        # Until the stream ends, or the asker presses Stop (bot/stopping.py).
        pressed = asyncio.create_task(stop.pressed.wait(), name="stop-pressed")
        await asyncio.wait([streaming, pressed], return_when=asyncio.FIRST_COMPLETED)
        pressed.cancel()
        stopped = stop.pressed.is_set() and not streaming.done()
        self._stops.close(stop)

        answer: str | None = None
        status = "completed"
        images: list[GeneratedImage] = []
        failed: AIError | None = None
        try:
            try:
                if stopped:
                    streaming.cancel()
                    await asyncio.wait([streaming])
                    await self._stopped(incoming, run, reply.text)
                    note = t(incoming.lang, "answer_stopped")
                    answer = f"{reply.text}\n\n_{note}_" if reply.text.strip() else f"_{note}_"
                    status = "stopped"
                    raise _Stopped
                await streaming
                stream = run.stream
                assert stream is not None  # the task started one
                # Web sources become numbered links after the passages they back.
                sources = [(c.end, c.url) for c in stream.citations]
                images = stream.images
                text = with_sources(reply.text, sources)
                answer, status = _ending(stream, text, incoming.lang, drew=bool(images))
                if run.notice:
                    answer = f"_{run.notice}_\n\n{answer}".strip()
                if images and image_limit and images_before + len(images) >= image_limit:
                    note = t(incoming.lang, "image_limit_reached", limit=image_limit)
                    answer = f"{answer}\n\n_{note}_".strip()
            except _Stopped:
                pass
            except StreamInterrupted as exc:
                log.warning("chat %s: answer stream %s: %s", incoming.key.chat_id, exc.outcome, exc)
                note = "interrupted" if exc.outcome == "interrupted" else "answer_failed"
                answer = f"{reply.text}\n\n_{t(incoming.lang, note)}_"
                status = exc.outcome
            stream = run.stream
            assert stream is not None and answer is not None  # every way out above set it
            await _deliver(bot, incoming.dest, reply, answer, images)
            # Delivered: on record at once, nothing in between (a crash here answers twice).
            recorded = f"{_drawn_icon(len(images))} {answer}".strip() if images else answer
            await self._write_answer(
                incoming, question, recorded, run.conversation_id, stream.usage.total(), status
            )
        except AIError as exc:
            failed = exc  # told below, once the previews stopped: none may land after it
        except TelegramError as exc:
            facts = incoming.facts
            if (
                answer is not None
                and run.stream is not None
                and facts is not None
                and facts.will_retry(exc)
            ):
                # Telegram is failing: the answer is kept and delivered by the retry (the question
                # is written with it then).
                kept = KeptAnswer(
                    answer,
                    question,
                    run.conversation_id,
                    run.stream.usage.total(),
                    status,
                    delivered=reply.delivered,
                )
                facts.keep_answer(kept)
                raise
            # not delivered and not to be retried: the question stays on record
            await self._record_question(incoming, question, run.conversation_id)
            raise
        finally:
            if not streaming.done():
                streaming.cancel()
            await reply.close()
        if failed is not None:
            log.warning("chat %s: AI error: %s", incoming.key.chat_id, failed)
            error_notice = send_plain(bot, incoming.dest, t(incoming.lang, failed.user_key))
            await self._reply_and_record(incoming, question, run.conversation_id, error_notice)
            return route, None
        return route, answer

    async def _count_closed(self, stream: AnswerStream) -> None:
        """Add to the stream's usage what its responses cost that it did not see end (its
        stream was closed: OpenAI stops such a response; wait until it settled)."""
        for response_id in [r for r in stream.response_ids if r not in stream.usage.counted]:
            settled = await self._conversations.settled(response_id)
            if settled is not None:
                stream.usage.add_response(settled)

    async def _stopped(self, incoming: Incoming, run: _Run, shown: str) -> None:
        """An answer stopped by its asker: count what it cost (OpenAI stops a response whose
        stream is closed) and leave the conversation ending with what the user saw of it."""
        stream = run.stream
        if stream is None:
            return
        try:
            await self._count_closed(stream)
            await self._conversations.end_with(run.conversation_id, shown)
        except AIError as exc:  # the stopped answer is still delivered and recorded
            log.warning("chat %s: after a stop: %s", incoming.key.chat_id, exc)
        log.info("chat %s: answer stopped by the user", incoming.key.chat_id)

    async def _discard(self, incoming: Incoming, run: _Run, inputs: list[tuple[str, str]]) -> None:
        """A speculative answer the route did not want: its stream is closed; wait until OpenAI
        stopped it, count what it cost the user, and delete its items from the conversation so
        the chat's conversation holds what a sequential run would."""
        stream = run.stream
        if stream is None or not stream.response_ids:
            return  # it never started at OpenAI
        usage = stream.usage
        try:
            await self._count_closed(stream)
            removed = await self._conversations.remove_turn(run.conversation_id, inputs)
        except AIError as exc:  # the route's reply still goes out
            log.warning("chat %s: discarding a speculative answer: %s", incoming.key.chat_id, exc)
            removed = 0
        await self._usage.add(incoming.user_id, usage.total())
        log.info(
            "chat %s: speculative answer discarded (%d items removed)",
            incoming.key.chat_id,
            removed,
        )


#: A heard text longer than this is quoted in a collapsed (expandable) blockquote.
HEARD_SHORT_CHARS = 200
#: At most this much of what was heard is quoted (one message; the model gets it all).
HEARD_MAX_CHARS = 3_500


def heard_quote(heard: str) -> Rendered:
    """`🎤 what was heard` as a blockquote, collapsed when long."""
    shown = heard if len(heard) <= HEARD_MAX_CHARS else heard[: HEARD_MAX_CHARS - 1] + "…"
    text = f"🎤 {shown}"
    kind = (
        MessageEntity.EXPANDABLE_BLOCKQUOTE
        if len(shown) > HEARD_SHORT_CHARS
        else MessageEntity.BLOCKQUOTE
    )
    return Rendered(text, (MessageEntity(kind, 0, utf16_len(text)),))


async def _deliver(
    bot: Bot,
    dest: Destination,
    reply: StreamingReply,
    answer: str,
    images: Sequence[GeneratedImage],
) -> None:
    """The final answer in place of the preview; drawn images as photos (uploads), the text as
    the first one's caption when it fits and no group preview shows it already, else as
    message(s) before them."""
    if not images:
        await reply.finish(answer)
        return
    caption = render_markdown(answer) if answer.strip() else None
    await reply.close()  # a preview still in flight lands first: has_preview is then final
    if caption is not None and (utf16_len(caption.text) > CAPTION_LIMIT or reply.has_preview):
        await reply.finish(answer)
        caption = None
    for n, image in enumerate(images):
        await send_photo(bot, dest, image.data, caption if n == 0 else None)


def _drawn_icon(count: int) -> str:
    """How the transcript marks an answer with drawn images."""
    return "🖼️" if count == 1 else f"🖼️×{count}"


def _with_developer_note(user_input: str | list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    """The turn's input with a developer message before it (the instructions stay the same)."""
    items = [{"role": "user", "content": user_input}] if isinstance(user_input, str) else user_input
    return [{"role": "developer", "content": note}, *items]


def _ending(stream: AnswerStream, text: str, lang: str, *, drew: bool = False) -> tuple[str, str]:
    """The answer to deliver and its transcript status, from how the stream ended: a refusal
    is the model's own words; an incomplete answer keeps its text and ends with one line that
    says why it stopped and what to do; an answer that drew an image may have no text."""
    if stream.status == "refused":
        return text.strip() or t(lang, "refused_by_model"), "refused"
    if stream.status == "incomplete":
        note = t(lang, _INCOMPLETE_NOTES.get(stream.incomplete_reason or "", "answer_cut_length"))
        return (f"{text}\n\n_{note}_" if text.strip() else note), "incomplete"
    if drew:
        return text.strip(), "completed"
    return (text if text.strip() else t(lang, "empty_answer")), "completed"


def _carried_items(entries: Sequence[TranscriptEntry]) -> list[dict[str, Any]]:
    """The newest transcript entries, oldest first, as conversation input items, up to
    CARRY_CHARS characters in all (the newest entry is cut to fit alone)."""
    items: list[dict[str, Any]] = []
    room = CARRY_CHARS
    for entry in reversed(entries):
        text = entry.text.strip()
        if not text or room <= 0:
            continue
        text = text[-room:]
        room -= len(text)
        role = "assistant" if entry.role == "assistant" else "user"
        items.append({"type": "message", "role": role, "content": text})
    items.reverse()
    return items
