"""The Stop button of a streaming answer (bot/stopping.py): who may press it, and the press."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler

from bot.context import BotApplication, BotContext
from bot.i18n import t
from bot.stopping import STOP_PREFIX
from handlers.common import lang_of

log = logging.getLogger(__name__)


async def _is_group_admin(context: BotContext, chat_id: int, user_id: int) -> bool:
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.info("could not check the admin rights of %s in %s: %s", user_id, chat_id, exc)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


async def on_stop(update: Update, context: BotContext) -> None:
    """Stop the answer if the presser asked for it (or is the group's admin, or a bot admin);
    else say who can. An answer that already ended: say so."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    if query is None or user is None or chat is None:
        return
    lang = lang_of(update)
    handle = context.stops.get((query.data or "").removeprefix(STOP_PREFIX))
    if handle is None or handle.chat_id != chat.id:
        await query.answer(t(lang, "stop_too_late"))
        return
    allowed = (
        user.id == handle.asker_id
        or context.access.is_admin(user.id)
        or (chat.type != ChatType.PRIVATE and await _is_group_admin(context, chat.id, user.id))
    )
    if not allowed:
        await query.answer(t(lang, "stop_not_yours"), show_alert=True)
        return
    handle.pressed.set()
    await query.answer(t(lang, "stop_done"))


def register(app: BotApplication) -> None:
    app.add_handler(CallbackQueryHandler(on_stop, pattern=rf"^{STOP_PREFIX}[0-9a-f]{{12}}$"))
