"""/camera <context>: what the chat's photos show (the first seed's camera type)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.i18n import t
from handlers.common import destination_of, key_of, lang_of

MAX_CONTEXT_CHARS = 200
_CLEAR_WORDS = {"off", "clear", "none", "reset", "-", "quitar", "borrar", "ninguno"}


async def on_camera(update: Update, context: BotContext) -> None:
    """Set, show (no argument) or clear (`off`) the chat's standing camera context."""
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(update)
    key = key_of(message)
    record = await context.chats.ensure(key, message.chat.type)
    wanted = " ".join(context.args or []).strip()
    if not wanted:
        text = (
            t(lang, "camera_show", context=record.camera_context)
            if record.camera_context
            else t(lang, "camera_none")
        )
    elif wanted.lower() in _CLEAR_WORDS:
        await context.chats.set_camera_context(key, None)
        text = t(lang, "camera_cleared")
    elif len(wanted) > MAX_CONTEXT_CHARS:
        text = t(lang, "camera_too_long", limit=MAX_CONTEXT_CHARS)
    else:
        await context.chats.set_camera_context(key, wanted)
        text = t(lang, "camera_set", context=wanted)
    await send_plain(context.bot, destination_of(message), text)


def register(app: BotApplication) -> None:
    app.add_handler(CommandHandler("camera", on_camera))
