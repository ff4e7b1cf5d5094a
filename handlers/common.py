"""What every handler needs: who talks, where to answer, whether they may, whether we're asked."""

from __future__ import annotations

import re

from telegram import Bot, Message, Update
from telegram.constants import ChatType, MessageEntityType

from bot.access import is_admin, is_allowed
from bot.answering import Incoming
from bot.context import BotContext
from bot.delivery import Destination, send_plain
from bot.i18n import language_of, t
from storage import ChatKey


def destination_of(message: Message) -> Destination:
    """Answer in the same chat and forum topic, replying to the message in groups."""
    return Destination(
        message.chat.id,
        message.chat.type,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_to=message.message_id,
    )


def key_of(message: Message) -> ChatKey:
    thread_id = message.message_thread_id if message.is_topic_message else None
    return ChatKey(message.chat.id, thread_id or 0)


def lang_of(update: Update) -> str:
    user = update.effective_user
    return language_of(user.language_code if user else None)


def addressed_to_bot(message: Message, bot: Bot) -> bool:
    """Private chats: always. Groups: an @mention of the bot or a reply to one of its messages."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    username = (bot.username or "").lower()
    kinds: list[str | None] = [MessageEntityType.MENTION, MessageEntityType.TEXT_MENTION]
    found = {**message.parse_entities(kinds), **message.parse_caption_entities(kinds)}
    for entity, value in found.items():
        if entity.type == MessageEntityType.MENTION and value[1:].lower() == username:
            return True
        is_bot_user = entity.user is not None and entity.user.id == bot.id
        if entity.type == MessageEntityType.TEXT_MENTION and is_bot_user:
            return True
    replied = message.reply_to_message
    return bool(
        replied
        and replied.from_user
        and replied.from_user.id == bot.id
        and replied.forum_topic_created is None
    )


def without_mention(text: str, bot: Bot) -> str:
    """The text with the bot's @username removed (the model needn't see it)."""
    if not bot.username:
        return text
    return re.sub(rf"@{re.escape(bot.username)}\b", "", text, flags=re.IGNORECASE).strip()


async def ensure_allowed(update: Update, context: BotContext) -> bool:
    """True if the sender may use the bot; otherwise one short refusal, and False."""
    user = update.effective_user
    message = update.effective_message
    services = context.services
    if user is not None and is_allowed(services.settings, services.access, user.id):
        return True
    if message is not None:
        await send_plain(context.bot, destination_of(message), t(lang_of(update), "not_allowed"))
    return False


async def ensure_admin(update: Update, context: BotContext) -> bool:
    """True for bot admins; anyone else gets a short refusal and nothing changes."""
    user = update.effective_user
    if user is not None and is_admin(context.services.settings, user.id):
        return True
    text = t(lang_of(update), "admins_only")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await send_plain(context.bot, destination_of(update.effective_message), text)
    return False


def incoming_from(update: Update, bot: Bot, text: str) -> Incoming:
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    return Incoming(
        key=key_of(message),
        dest=destination_of(message),
        user_id=user.id,
        user_name=user.full_name or user.username or str(user.id),
        lang=lang_of(update),
        text=without_mention(text, bot),
        update_id=update.update_id,
        chat_title=message.chat.title,
    )
