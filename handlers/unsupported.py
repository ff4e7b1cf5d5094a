"""Messages the bot cannot read yet (stickers, videos, other files): a short hint, never silence."""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.addressing import addressed_to_bot
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.i18n import t
from handlers.common import destination_of, lang_of


async def on_unsupported(update: Update, context: BotContext) -> None:
    """Tell the user, in their language, that only text is understood for now."""
    message = update.effective_message
    if message is None or not addressed_to_bot(message, context.bot):
        return
    hint = "document_hint" if message.document else "unsupported"
    await send_plain(context.bot, destination_of(message), t(lang_of(update), hint))


def register(app: BotApplication) -> None:
    app.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & ~filters.TEXT
            & ~filters.COMMAND
            & ~filters.StatusUpdate.ALL
            & ~filters.VIA_BOT,
            on_unsupported,
        )
    )
