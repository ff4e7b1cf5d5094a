"""Plain text messages: private chats always, groups when the bot is addressed."""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.addressing import addressed_to_bot
from bot.context import BotApplication, BotContext
from handlers.common import ensure_short_enough, ensure_within_limits, incoming_from


async def on_text(update: Update, context: BotContext) -> None:
    """Answer a text addressed to the bot through the classifier and the chat's assistant."""
    message = update.effective_message
    if message is None or message.text is None or not addressed_to_bot(message, context.bot):
        return
    if not await ensure_short_enough(update, context, message.text):
        return
    if not await ensure_within_limits(update, context):
        return
    incoming = incoming_from(update, context.bot, message.text)
    await context.answerer.answer_text(context.bot, incoming)


def register(app: BotApplication) -> None:
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, on_text)
    )
