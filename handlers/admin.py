"""/allow, /block and /stats for the bot's admins."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.i18n import t
from handlers.common import destination_of, lang_of
from storage.sql import int64_of


async def on_access(update: Update, context: BotContext) -> None:
    """/allow <id> or /block <id>: runtime rules on top of ALLOWED_USER_IDS."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    access, lang, dest = context.access, lang_of(update), destination_of(message)
    command = (message.text or "/allow").split()[0].lstrip("/").split("@")[0]
    args = context.args or []
    target = args[0].lstrip("@") if len(args) == 1 else ""
    user_id = int64_of(target)
    if user_id is None:
        await send_plain(context.bot, dest, t(lang, "access_usage", command=command))
        return
    if command == "block":
        if access.is_admin(user_id):
            await send_plain(context.bot, dest, t(lang, "cannot_block_admin"))
            return
        await context.admin.set_access(user.id, user_id, "block")
        await send_plain(context.bot, dest, t(lang, "blocked_user", user=user_id))
        return
    was_open = not access.has_allow_list()
    await context.admin.set_access(user.id, user_id, "allow")
    if was_open:
        count = access.allowed_count()
        await send_plain(
            context.bot, dest, t(lang, "allowed_now_limited", user=user_id, count=count)
        )
    else:
        await send_plain(context.bot, dest, t(lang, "allowed_user", user=user_id))


async def on_stats(update: Update, context: BotContext) -> None:
    """Users, chats, messages per day, classifier labels and tokens used."""
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(update)
    stats = await context.admin.stats()
    none = t(lang, "none")
    text = t(
        lang,
        "stats",
        users=stats.users,
        chats=stats.chats,
        input_tokens=f"{stats.input_tokens:,}",
        output_tokens=f"{stats.output_tokens:,}",
        per_day="\n".join(f"{day}: {n}" for day, n in stats.messages_per_day) or none,
        labels="\n".join(f"{label}: {n}" for label, n in stats.labels) or none,
    )
    await send_plain(context.bot, destination_of(message), text)


def register(app: BotApplication) -> None:
    app.add_handler(CommandHandler(["allow", "block"], on_access))
    app.add_handler(CommandHandler("stats", on_stats))
