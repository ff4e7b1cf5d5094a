"""Plain text messages: private chats always, groups when the bot is addressed."""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.addressing import addressed_to_bot
from bot.answering import answer_text
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.i18n import t
from handlers.common import (
    destination_of,
    ensure_allowed,
    ensure_within_limits,
    incoming_from,
    lang_of,
)


async def on_text(update: Update, context: BotContext) -> None:
    """Answer a text addressed to the bot through the classifier and the chat's assistant."""
    message = update.effective_message
    if message is None or message.text is None or not addressed_to_bot(message, context.bot):
        return
    if not await ensure_allowed(update, context):
        return
    limit = context.services.settings.max_text_chars
    if len(message.text) > limit:
        text = t(lang_of(update), "text_too_long", length=len(message.text), limit=limit)
        await send_plain(context.bot, destination_of(message), text)
        return
    if not await ensure_within_limits(update, context):
        return
    incoming = incoming_from(update, context.bot, message.text)
    await answer_text(context.services, context.bot, incoming)


def register(app: BotApplication) -> None:
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, on_text)
    )
