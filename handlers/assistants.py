"""/assistants, /use, /deleteassistant (with a confirmation button), and stray buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import BotApplication, BotContext
from bot.delivery import send_plain, show_in_place
from bot.i18n import t
from handlers.buttons import BadButton, button, number_after, refuse_button
from handlers.common import destination_of, key_of, lang_of


async def on_assistants(update: Update, context: BotContext) -> None:
    """List the assistants, marking the chat's current one."""
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(update)
    record = await context.chats.get(key_of(message))
    current = record.assistant_id if record else None
    files = await context.admin.file_counts()
    lines = [t(lang, "assistants_title")]
    for assistant in await context.admin.all():
        chosen = assistant.id == current or (current is None and assistant.is_default)
        count = files.get(assistant.id, 0)
        lines.append(
            t(
                lang,
                "assistant_line",
                mark="✅" if chosen else "▫️",
                name=assistant.name + (t(lang, "default_suffix") if assistant.is_default else ""),
                model=assistant.model,
                files=t(lang, "files_suffix", count=count) if count else "",
            )
        )
    await send_plain(context.bot, destination_of(message), "\n".join(lines))


async def on_use(update: Update, context: BotContext) -> None:
    """Bind this chat to an assistant (in groups: group admins and bot admins only)."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang, dest = lang_of(update), destination_of(message)
    name = " ".join(context.args or []).strip()
    if not name:
        await send_plain(context.bot, dest, t(lang, "use_usage"))
        return
    if message.chat.type != ChatType.PRIVATE and not await _may_configure_group(update, context):
        await send_plain(context.bot, dest, t(lang, "use_group_admins"))
        return
    assistant = await context.admin.find(name)
    if assistant is None:
        await send_plain(context.bot, dest, t(lang, "no_such_assistant", name=name))
        return
    await context.admin.use_assistant(key_of(message), message.chat.type, assistant, user.id)
    await send_plain(context.bot, dest, t(lang, "use_done", name=assistant.name))


async def _may_configure_group(update: Update, context: BotContext) -> bool:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    if context.access.is_admin(user.id):
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError:
        return False
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


async def on_delete(update: Update, context: BotContext) -> None:
    """Ask for confirmation before deleting an assistant."""
    message = update.effective_message
    if message is None:
        return
    lang, dest = lang_of(update), destination_of(message)
    name = " ".join(context.args or []).strip()
    assistant = await context.admin.find(name) if name else None
    if not name:
        text = t(lang, "delete_usage")
    elif assistant is None:
        text = t(lang, "no_such_assistant", name=name)
    elif assistant.is_default:
        text = t(lang, "cannot_delete_default")
    else:
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t(lang, "btn_delete"), callback_data=f"del:yes:{assistant.id}"
                    ),
                    InlineKeyboardButton(
                        t(lang, "btn_cancel"), callback_data=f"del:no:{assistant.id}"
                    ),
                ]
            ]
        )
        await context.bot.send_message(
            message.chat.id,
            t(lang, "confirm_delete", name=assistant.name),
            message_thread_id=dest.thread_id,
            reply_markup=keyboard,
        )
        return
    await send_plain(context.bot, dest, text)


@button
async def on_delete_button(update: Update, context: BotContext) -> None:
    """The confirmation buttons: checked on the server like the command itself; a press for an
    assistant that is gone (or an id this bot never sent) is refused (handlers/buttons.py)."""
    query = update.callback_query
    if query is None:
        return
    lang = lang_of(update)
    if query.data is not None and query.data.startswith("del:no:"):
        await query.answer()
        await show_in_place(context.bot, query, t(lang, "cancelled"))
        return
    assistant_id = number_after(query.data, "del:yes:")
    assistant = await context.admin.get(assistant_id)
    if assistant is None or update.effective_user is None:
        raise BadButton(query.data)
    deleted = await context.admin.delete_assistant(update.effective_user.id, assistant)
    await query.answer()
    text = t(lang, "deleted", name=assistant.name) if deleted else t(lang, "cannot_delete_default")
    await show_in_place(context.bot, query, text)


async def on_stray_button(update: Update, context: BotContext) -> None:
    """A button no flow is waiting for: a finished flow, someone else's admin buttons, or data
    this bot never sent."""
    await refuse_button(update, context)


def register(app: BotApplication) -> None:
    app.add_handler(CommandHandler("assistants", on_assistants))
    app.add_handler(CommandHandler("use", on_use))
    app.add_handler(CommandHandler("deleteassistant", on_delete))
    app.add_handler(CallbackQueryHandler(on_delete_button, pattern=r"^del:(yes|no):\d+$"))


def register_fallback(app: BotApplication) -> None:
    """Last: any button nothing else took."""
    app.add_handler(CallbackQueryHandler(on_stray_button))
