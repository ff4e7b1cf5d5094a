"""Whether a message is meant for the bot (private chats always; groups when asked)."""

from __future__ import annotations

import re

from telegram import Bot, Message
from telegram.constants import ChatType, MessageEntityType


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


def is_command_for_bot(message: Message, bot: Bot) -> bool:
    """A `/command` for us: `/cmd@ourbot` anywhere, or plain `/cmd` in a private chat or group."""
    text = message.text or ""
    if not text.startswith("/"):
        return False
    command = text.split(maxsplit=1)[0]
    _, _, target = command.partition("@")
    return not target or target.lower() == (bot.username or "").lower()


def without_mention(text: str, bot: Bot) -> str:
    """The text with the bot's @username removed (the model needn't see it)."""
    if not bot.username:
        return text
    return re.sub(rf"@{re.escape(bot.username)}\b", "", text, flags=re.IGNORECASE).strip()
