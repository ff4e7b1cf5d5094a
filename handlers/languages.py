"""Before any other handler: note an admin's Telegram language, for the notices sent to them
outside their own conversation (hand-offs, start notices). Never stops the update."""

from __future__ import annotations

from telegram import Update
from telegram.ext import TypeHandler

from bot.context import BotApplication, BotContext

#: Runs before the guided flows (group 0) and everything else; handling continues after it.
GROUP = -2


async def remember_language(update: Update, context: BotContext) -> None:
    user = update.effective_user
    if user is None or not user.language_code:
        return
    if context.access.is_admin(user.id):
        await context.languages.remember(user.id, user.language_code)


def register(app: BotApplication) -> None:
    app.add_handler(TypeHandler(Update, remember_language), group=GROUP)
