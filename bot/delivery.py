"""Delivery to Telegram: streamed previews (drafts or throttled edits), then final messages.

Private chats stream with sendMessageDraft and then send the final message(s); groups stream by
editing one message at most every `edit_interval` seconds. Final texts are rendered from Markdown
and split under Telegram's limit; markup Telegram rejects falls back to plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    MessageEntity,
    ReplyParameters,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from bot.flood import QUEUED_CALL, QueuedCall
from bot.formatting import Rendered, preview_text, render_markdown, split_rendered

log = logging.getLogger(__name__)

TYPING_REFRESH_SECONDS = 4.5
#: Telegram's limit on a photo's caption, in characters after entity parsing.
CAPTION_LIMIT = 1024
_draft_ids = itertools.count(int(time.time()) % 1_000_000 + 1)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where an answer goes: the chat, its forum topic, and (in groups) the message answered."""

    chat_id: int
    chat_type: str
    thread_id: int | None = None
    reply_to: int | None = None

    @property
    def is_private(self) -> bool:
        return self.chat_type == ChatType.PRIVATE


def topic_of(message: object) -> int | None:
    """The forum topic a message is in, or None: only a topic message's thread is a topic (in a
    plain group, message_thread_id names a reply thread, which is not answered apart)."""
    if isinstance(message, Message) and message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return None


def _is_entity_error(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return "entit" in text or "parse" in text


def _is_transient(exc: BaseException) -> bool:
    """Telegram 5xx and network trouble; not a request Telegram refused (400, 403)."""
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


def is_transient(exc: BaseException | None) -> bool:
    """Telegram was failing (5xx, network, timeout, or flood control outlasting the rate
    limiter's retries): the same call may well succeed later. A refusal (400 Bad Request,
    403 "bot was blocked") is not: it would fail again."""
    return exc is not None and (_is_transient(exc) or isinstance(exc, RetryAfter))


#: Final messages are retried through Telegram 5xx and network errors (flood control, 429, is
#: retried by the rate limiter). A retry after a timeout may rarely duplicate a message; that
#: is better than losing the answer.
_retry_transient = retry(
    retry=retry_if_exception(_is_transient),
    stop=stop_after_attempt(4),
    wait=wait_exponential(multiplier=0.5, max=4),
    reraise=True,
)


@_retry_transient
async def send_rendered(
    bot: Bot,
    dest: Destination,
    rendered: Rendered,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    """Send one message; if Telegram rejects the entities, send the same text plain."""
    reply = (
        ReplyParameters(message_id=dest.reply_to, allow_sending_without_reply=True)
        if dest.reply_to and not dest.is_private
        else None
    )
    try:
        return await bot.send_message(
            dest.chat_id,
            rendered.text,
            entities=rendered.entities or None,
            message_thread_id=dest.thread_id,
            reply_parameters=reply,
            reply_markup=markup,
        )
    except BadRequest as exc:
        if not (rendered.entities and _is_entity_error(exc)):
            raise
        log.warning("entities rejected (%s); sending plain text", exc.message)
        return await bot.send_message(
            dest.chat_id,
            rendered.text,
            message_thread_id=dest.thread_id,
            reply_parameters=reply,
            reply_markup=markup,
        )


def _reply_to(dest: Destination) -> ReplyParameters | None:
    if dest.reply_to and not dest.is_private:
        return ReplyParameters(message_id=dest.reply_to, allow_sending_without_reply=True)
    return None


@_retry_transient
async def send_photo(
    bot: Bot, dest: Destination, data: bytes, caption: Rendered | None = None
) -> Message:
    """Upload an image as a photo (multipart, never a URL), with an optional caption; if
    Telegram rejects the caption's entities, the same caption plain."""

    async def send(entities: Sequence[MessageEntity] | None) -> Message:
        return await bot.send_photo(
            dest.chat_id,
            InputFile(data, filename="image.png"),
            caption=caption.text if caption else None,
            caption_entities=entities,
            message_thread_id=dest.thread_id,
            reply_parameters=_reply_to(dest),
        )

    entities = (caption.entities or None) if caption else None
    try:
        return await send(entities)
    except BadRequest as exc:
        if not (entities and _is_entity_error(exc)):
            raise
        log.warning("caption entities rejected (%s); sending it plain", exc.message)
        return await send(None)


async def send_plain(bot: Bot, dest: Destination, text: str) -> list[Message]:
    """Send our own (already localised) text without Markdown interpretation."""
    return [await send_rendered(bot, dest, part) for part in split_rendered(Rendered(text))]


class StreamingReply:
    """Shows an answer while it streams, then replaces the preview with the final message(s).

    `feed()` never waits for Telegram: a background task pushes the newest text at most once per
    interval (the first text goes out at once), so slow Telegram calls never slow the model's
    stream, and an edit in flight always finishes before the final edit.
    """

    def __init__(
        self,
        bot: Bot,
        dest: Destination,
        *,
        draft_interval: float,
        edit_interval: float,
        typing_delay: float = 0.0,
        first_preview_delay: float = 0.0,
        stop_markup: InlineKeyboardMarkup | None = None,
        stop_text: str = "",
        stop_after: float = 0.0,
    ) -> None:
        self._bot = bot
        #: The Stop button (bot/stopping.py): on the preview message in groups; in private
        #: chats on a message of its own (`stop_text`) once the answer streams for `stop_after`
        #: seconds after its first text, deleted when the answer ends. None: no button.
        self._stop_markup = stop_markup
        self._stop_text = stop_text
        self._stop_after = stop_after
        self._stop_message: Message | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._dest = dest
        self._interval = draft_interval if dest.is_private else edit_interval
        self._typing_delay = typing_delay
        self._first_delay = first_preview_delay
        self._parts: list[str] = []
        self._dirty = asyncio.Event()
        self._closed = False
        self._draft_id = next(_draft_ids)
        self._preview: Message | None = None  # groups: the message being edited
        self._shown = ""
        self._pusher: asyncio.Task[None] | None = None
        self._sending = False
        #: The preview being sent, while it may still wait for a slot (bot/flood.py).
        self._preview_call = QueuedCall()
        self._typing: asyncio.Task[None] | None = None
        #: Parts of the final answer Telegram has accepted so far (finish() counts them), so
        #: an answer cut off by a failing Telegram can be resumed where it stopped.
        self.delivered = 0

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def has_preview(self) -> bool:
        """A group's preview message shows the text (private chats' drafts are not messages)."""
        return self._preview is not None

    def start(self) -> None:
        """Show the typing indicator until the first text arrives."""
        self._typing = asyncio.create_task(self._keep_typing(), name="typing")

    def feed(self, delta: str) -> None:
        if not delta:
            return
        self._parts.append(delta)
        if self._pusher is None:
            self._pusher = asyncio.create_task(self._push_loop(), name="stream-preview")
            if self._stop_markup is not None and self._dest.is_private and self._stop_text:
                self._stop_task = asyncio.create_task(self._offer_stop(), name="stop-button")
        self._dirty.set()

    async def _offer_stop(self) -> None:
        """Private chats: the Stop button on a message of its own, for answers still streaming
        after `stop_after` seconds (shorter ones never show it)."""
        await asyncio.sleep(self._stop_after)
        if self._closed:
            return
        with contextlib.suppress(TelegramError):
            self._stop_message = await self._bot.send_message(
                self._dest.chat_id,
                self._stop_text,
                message_thread_id=self._dest.thread_id,
                reply_markup=self._stop_markup,
                disable_notification=True,
            )

    async def _withdraw_stop(self) -> None:
        task, self._stop_task = self._stop_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        message, self._stop_message = self._stop_message, None
        if message is not None:
            with contextlib.suppress(TelegramError):
                await self._bot.delete_message(self._dest.chat_id, message.message_id)

    async def _keep_typing(self) -> None:
        # An answer whose text shows within the delay needs no typing indicator (one call less).
        await asyncio.sleep(self._typing_delay)
        with contextlib.suppress(TelegramError):
            while True:
                await self._bot.send_chat_action(
                    self._dest.chat_id, ChatAction.TYPING, message_thread_id=self._dest.thread_id
                )
                await asyncio.sleep(TYPING_REFRESH_SECONDS)

    async def _push_loop(self) -> None:
        # A short answer that completes within this delay goes out as the final message only,
        # without a preview first (one Bot API call less, and no flicker).
        await asyncio.sleep(self._first_delay)
        while True:
            await self._dirty.wait()
            if self._closed:
                return
            self._dirty.clear()
            text = self.text
            if text.strip() and text != self._shown:
                self._sending = True
                self._preview_call = QueuedCall()
                QUEUED_CALL.set(self._preview_call)  # this task's calls only
                try:
                    await self._show(preview_text(text))
                finally:
                    self._sending = False
                self._shown = text
            if self._closed:
                return
            await asyncio.sleep(self._interval)  # close() cancels this wait, never a send

    async def _show(self, text: str) -> None:
        """Best effort: a preview that fails is simply skipped; the final message still goes."""
        self._stop_typing()
        try:
            if self._dest.is_private:
                await self._bot.send_message_draft(
                    self._dest.chat_id,
                    self._draft_id,
                    text,
                    message_thread_id=self._dest.thread_id,
                )
            elif self._preview is None:
                self._preview = await send_rendered(
                    self._bot, self._dest, Rendered(text), self._stop_markup
                )
            else:  # the button stays while it streams (an edit without it would remove it)
                await self._bot.edit_message_text(
                    text,
                    chat_id=self._dest.chat_id,
                    message_id=self._preview.message_id,
                    reply_markup=self._stop_markup,
                )
        except Forbidden:
            raise
        except TelegramError as exc:
            log.debug("preview update skipped: %s", exc)

    def _stop_typing(self) -> None:
        if self._typing is not None:
            self._typing.cancel()
            self._typing = None

    async def close(self) -> None:
        """Stop previews; waits for one in flight so it cannot land after the final text (one
        still waiting for a slot under Telegram's limits is withdrawn: the final supersedes it)."""
        self._closed = True
        self._stop_typing()
        await self._withdraw_stop()
        if self._pusher is not None:
            self._dirty.set()
            pusher, self._pusher = self._pusher, None
            if not self._sending or self._preview_call.waiting:
                pusher.cancel()  # it is only waiting: the final text need not wait for it
            # wait() neither raises the pusher's error nor mistakes its cancellation for ours
            await asyncio.wait([pusher])
            if not pusher.cancelled() and pusher.exception() is not None:
                log.debug("preview task ended with %r", pusher.exception())

    async def finish(self, markdown: str) -> list[Message]:
        """Deliver the final answer (rendered, split) in place of the preview."""
        await self.close()
        parts = split_rendered(render_markdown(markdown))
        if not parts:
            return []
        sent: list[Message] = []
        first: Sequence[Rendered] = parts[:1]
        if self._preview is not None:
            edited = await self._edit_preview(self._preview, parts[0])
            if edited is not None:
                sent.append(edited)
                self.delivered = 1
                first = []
        for part in [*first, *parts[1:]]:
            sent.append(await send_rendered(self._bot, self._dest, part))
            self.delivered += 1
        return sent

    async def _edit_preview(self, preview: Message, part: Rendered) -> Message | None:
        """Turn the group preview into the final first part; None when it must be sent anew."""
        entities: Sequence[MessageEntity] | None = part.entities or None
        for attempt in range(2):
            try:
                result = await self._bot.edit_message_text(
                    part.text,
                    chat_id=self._dest.chat_id,
                    message_id=preview.message_id,
                    entities=entities,
                )
                return result if isinstance(result, Message) else preview
            except BadRequest as exc:
                reason = exc.message.lower()
                if "not modified" in reason:
                    return preview
                if attempt == 0 and entities and _is_entity_error(exc):
                    log.warning("entities rejected in edit (%s); using plain text", exc.message)
                    entities = None
                    continue
                log.info("could not edit preview (%s); sending a new message", exc.message)
                return None
        return None


async def show_in_place(
    bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the text (and buttons) of the message a pressed button belongs to.

    When Telegram will not edit it (too old, deleted, not the bot's), the text is sent as a new
    message instead, so a button press always gets its answer.
    """
    try:
        await query.edit_message_text(text, reply_markup=markup)
        return
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return
        log.info("could not edit a button's message (%s); sending a new one", exc.message)
    await _send_beside(bot, query, text, markup)


async def set_buttons(bot: Bot, query: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
    """Change only the buttons of a pressed button's message (same fallback as show_in_place)."""
    try:
        await query.edit_message_reply_markup(markup)
        return
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return
        log.info("could not edit a button's keyboard (%s); sending a new one", exc.message)
    message = query.message
    text = message.text if isinstance(message, Message) and message.text else "…"
    if markup is not None:
        await _send_beside(bot, query, text, markup)


async def _send_beside(
    bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    message = query.message
    if message is None:  # the chat is not known any more: the pop-up is all that is left
        with contextlib.suppress(TelegramError):  # the press may have been answered already
            await query.answer(text[:200], show_alert=True)
        return
    await bot.send_message(
        message.chat.id, text, reply_markup=markup, message_thread_id=topic_of(message)
    )
