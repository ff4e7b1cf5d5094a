"""PDFs and text-like files users send: read by the assistant in the chat's conversation, with
the caption as the question. (Admins' `/knowledge` uploads are handlers/knowledge.py's.)"""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.ext import MessageHandler, filters

from bot.addressing import addressed_to_bot
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.documents import document_source
from bot.i18n import t
from handlers.common import ensure_short_enough, ensure_within_limits, incoming_from

log = logging.getLogger(__name__)


class _ReadableDocument(filters.MessageFilter):
    """A PDF or a text-like file (others fall through to handlers/unsupported.py's hint)."""

    def filter(self, message: Message) -> bool:
        return document_source(message) is not None


async def on_document(update: Update, context: BotContext) -> None:
    """Check the file before downloading it (size, limits), read and check it, and answer it
    with the caption as the question."""
    message = update.effective_message
    if message is None or not addressed_to_bot(message, context.bot):
        return
    source = document_source(message)
    if source is None:
        return
    caption = message.caption or ""
    if not await ensure_short_enough(update, context, caption):
        return
    incoming = incoming_from(update, context, caption)
    refusal = context.documents.refusal(source)
    if refusal is not None:
        await send_plain(context.bot, incoming.dest, t(incoming.lang, refusal[0], **refusal[1]))
        return
    if not await ensure_within_limits(update, context):
        return
    document = await context.documents.read(context.bot, source)
    log.info(
        "document chat=%s update=%s kind=%s bytes=%d pages=%d download_ms=%.0f problem=%s",
        incoming.key.chat_id,
        update.update_id,
        source.kind,
        len(document.data),
        document.pages,
        document.download_s * 1000,
        document.problem[0] if document.problem else None,
    )
    if document.problem is not None:
        key, values = document.problem
        await send_plain(context.bot, incoming.dest, t(incoming.lang, key, **values))
        return
    await context.answerer.answer_document(context.bot, incoming, document)


def register(app: BotApplication) -> None:
    """PDFs and text files (with the content, after photos and voice)."""
    readable = filters.Document.ALL & _ReadableDocument()
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & readable, on_document))
