"""The Stop button of a streaming answer (bot/stopping.py): who may press it, and the press."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler

from bot.context import BotApplication, BotContext
from bot.i18n import t
from bot.stopping import STOP_DATA
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
    data = STOP_DATA.fullmatch(query.data or "")
    if data is None:
        await query.answer(t(lang, "stop_too_late"))
        return
    token, asker = data.group(1), int(data.group(2))
    allowed = (
        user.id == asker
        or context.access.is_admin(user.id)
        or (chat.type != ChatType.PRIVATE and await _is_group_admin(context, chat.id, user.id))
    )
    if not allowed:
        await query.answer(t(lang, "stop_not_yours"), show_alert=True)
        return
    stopped = await context.stops.press(token, chat.id)
    await query.answer(t(lang, "stop_done" if stopped else "stop_too_late"))


def register(app: BotApplication) -> None:
    app.add_handler(CallbackQueryHandler(on_stop, pattern=STOP_DATA))
