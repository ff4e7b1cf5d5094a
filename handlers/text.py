"""Plain text messages: private chats always, groups when the bot is addressed."""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.answering import answer_text
from bot.context import BotApplication, BotContext
from handlers.common import addressed_to_bot, ensure_allowed, incoming_from


async def on_text(update: Update, context: BotContext) -> None:
    """Answer a text addressed to the bot through the classifier and the chat's assistant."""
    message = update.effective_message
    if message is None or message.text is None or not addressed_to_bot(message, context.bot):
        return
    services = context.services
    if not await ensure_allowed(update, context):
        return
    await answer_text(services, context.bot, incoming_from(update, context.bot, message.text))


def register(app: BotApplication) -> None:
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, on_text)
    )
