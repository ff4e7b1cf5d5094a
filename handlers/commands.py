"""/start, /help, /new and /history."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.addressing import is_command_for_bot
from bot.app_commands import menu_lines
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain, send_rendered
from bot.formatting import labelled_lines
from bot.i18n import t
from handlers.common import destination_of, key_of, lang_of


async def on_start(update: Update, context: BotContext) -> None:
    """Greet the user and explain how to talk to the bot."""
    if update.effective_message is None:
        return
    lang = lang_of(update)
    user = update.effective_user
    name = user.first_name if user else ""
    text = t(lang, "start", name=name, help=_help_text(lang, context))
    await send_plain(context.bot, destination_of(update.effective_message), text)


async def on_help(update: Update, context: BotContext) -> None:
    """List the commands."""
    if update.effective_message is None:
        return
    text = _help_text(lang_of(update), context)
    await send_plain(context.bot, destination_of(update.effective_message), text)


async def on_new(update: Update, context: BotContext) -> None:
    """Forget the chat's conversation: the next message starts a new one."""
    message = update.effective_message
    if message is None:
        return
    key = key_of(message)
    await context.chats.ensure(key, message.chat.type)
    await context.chats.set_conversation(key, None)
    await send_plain(context.bot, destination_of(message), t(lang_of(update), "new_done"))


async def on_history(update: Update, context: BotContext) -> None:
    """Show the chat's recent exchanges from the local transcript, newest last."""
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(update)
    entries = await context.transcript.recent(key_of(message), context.settings.history_limit * 2)
    if not entries:
        await send_plain(context.bot, destination_of(message), t(lang, "history_empty"))
        return
    private = message.chat.type == "private"
    user_word = t(lang, "you") if private else t(lang, "user")
    lines = [
        (t(lang, "assistant") if e.role == "assistant" else user_word, e.text) for e in entries
    ]
    view = labelled_lines(t(lang, "history_title"), lines)
    await send_rendered(context.bot, destination_of(message), view)


async def on_usage(update: Update, context: BotContext) -> None:
    """Show the user their own use today and what is left of the daily allowance."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = lang_of(update)
    used = await context.usage.today(user.id)
    budget = context.settings.daily_token_budget
    if context.access.is_admin(user.id):
        extra = t(lang, "usage_admin")
    elif budget > 0:
        counted = used.budget_tokens
        extra = t(
            lang,
            "usage_budget",
            budget=f"{budget:,}",
            used=f"{counted:,}",
            left=f"{max(0, budget - counted):,}",
        )
    else:
        extra = ""
    if used.images:
        limit = context.settings.daily_image_limit
        if limit and not context.access.is_admin(user.id):
            extra += t(lang, "usage_images_of", images=used.images, limit=limit)
        else:
            extra += t(lang, "usage_images", images=used.images)
    text = t(
        lang,
        "usage",
        requests=used.requests,
        input=f"{used.input_tokens:,}",
        cached=f"{used.cached_tokens:,}",
        output=f"{used.output_tokens:,}",
        budget=extra,
    )
    await send_plain(context.bot, destination_of(message), text)


async def on_unknown_command(update: Update, context: BotContext) -> None:
    """A command nobody handles: say so (in groups only when it names this bot)."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    command = message.text.split(maxsplit=1)[0]
    if message.chat.type != "private" and "@" not in command:
        return  # `/cmd` in a group may be meant for another bot
    if not is_command_for_bot(message, context.bot):
        return
    await send_plain(context.bot, destination_of(message), t(lang_of(update), "unknown_command"))


def _help_text(lang: str, context: BotContext) -> str:
    return t(lang, "help", mention=f"@{context.bot.username}", commands=menu_lines(lang))


def register(app: BotApplication) -> None:
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CommandHandler("help", on_help))
    app.add_handler(CommandHandler("new", on_new))
    app.add_handler(CommandHandler("history", on_history))
    app.add_handler(CommandHandler("usage", on_usage))


def register_unknown(app: BotApplication) -> None:
    """After every command handler: commands nobody took."""
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, on_unknown_command)
    )
