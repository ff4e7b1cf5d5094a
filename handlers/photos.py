"""Photos, image files and albums: looked at by the vision model in the chat's conversation."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.ext import MessageHandler, filters

from bot.addressing import addressed_to_bot
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.i18n import t
from handlers.common import (
    ensure_short_enough,
    ensure_within_limits,
    incoming_from,
    key_of,
)

log = logging.getLogger(__name__)


async def on_photo(update: Update, context: BotContext) -> None:
    """Download the photo(s), prepare them, and answer with the caption as the question (held
    to MAX_TEXT_CHARS like a text: Telegram's own limit is 1024, a local Bot API server's or a
    forged update's is not)."""
    message = update.effective_message
    if message is None or not addressed_to_bot(message, context.bot):
        return
    key = key_of(message)
    # An album reaches us once, complete: its parts travel with its first one (bot/albums.py)
    parts = (context.facts.parts if context.facts is not None else None) or [message]
    caption = _caption_of(parts)
    if not await ensure_short_enough(update, context, caption):
        return
    if not await ensure_within_limits(update, context):
        return
    collected = await context.vision.collect(context.bot, parts)
    incoming = incoming_from(update, context, caption)
    log.info(
        "images chat=%s update=%s count=%d skipped=%d download_ms=%.0f prepare_ms=%.0f",
        key.chat_id,
        update.update_id,
        len(collected.images),
        len(collected.problems),
        collected.download_s * 1000,
        collected.prepare_s * 1000,
    )
    if not collected.images:
        for reason, values in collected.problems[:3] or [("unsupported", {})]:
            await send_plain(context.bot, incoming.dest, t(incoming.lang, reason, **values))
        return
    if collected.problems:
        count = len(collected.problems)
        await send_plain(
            context.bot, incoming.dest, t(incoming.lang, "images_skipped", count=count)
        )
    record = await context.chats.ensure(key, message.chat.type)
    await context.answerer.answer_images(
        context.bot, incoming, collected.images, record.camera_context
    )


def _caption_of(parts: list[Message]) -> str:
    """An album's caption usually rides on one photo; join them all in order."""
    return "\n".join(p.caption for p in parts if p.caption)


def register(app: BotApplication) -> None:
    image_document = filters.Document.IMAGE
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & (filters.PHOTO | image_document), on_photo)
    )
