"""What every handler needs: who talks, where to answer, whether it is within the limits.

Who may use what is checked once, by the gate (handlers/gate.py)."""

from __future__ import annotations

from telegram import Message, Update

from bot.addressing import without_mention
from bot.answering import Incoming
from bot.context import BotContext
from bot.delivery import Destination, send_plain, topic_of
from bot.i18n import language_of, t
from storage import ChatKey


def destination_of(message: Message) -> Destination:
    """Answer in the same chat and forum topic, replying to the message in groups."""
    return Destination(
        message.chat.id,
        message.chat.type,
        thread_id=topic_of(message),
        reply_to=message.message_id,
    )


def key_of(message: Message) -> ChatKey:
    return ChatKey(message.chat.id, topic_of(message) or 0)


def lang_of(update: Update) -> str:
    user = update.effective_user
    return language_of(user.language_code if user else None)


async def ensure_allowed(update: Update, context: BotContext) -> bool:
    """True if the sender may use the bot; otherwise one short refusal, and False. (Only the
    gate asks this, handlers/gate.py: for every kind of message, photos and albums included.)"""
    user = update.effective_user
    message = update.effective_message
    if user is not None and context.access.is_allowed(user.id):
        return True
    if message is not None:
        await send_plain(context.bot, destination_of(message), t(lang_of(update), "not_allowed"))
    return False


async def ensure_short_enough(update: Update, context: BotContext, text: str) -> bool:
    """True when `text` (a message, or a photo's caption) is within MAX_TEXT_CHARS; otherwise
    one short message saying so, before anything costs money, and False."""
    limit = context.settings.max_text_chars
    message = update.effective_message
    if len(text) <= limit:
        return True
    if message is not None:
        notice = t(lang_of(update), "text_too_long", length=len(text), limit=limit)
        await send_plain(context.bot, destination_of(message), notice)
    return False


async def ensure_within_limits(update: Update, context: BotContext) -> bool:
    """Rate limit and daily budget, checked before anything costs money."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return False
    if context.facts is not None and context.facts.is_retry:
        return True  # its first run was counted; a redelivery must not be refused as "too many"
    verdict = await context.limits.check(user.id)
    if verdict.allowed:
        return True
    if verdict.notice:
        text = t(lang_of(update), verdict.notice, **(verdict.values or {}))
        await send_plain(context.bot, destination_of(message), text)
    return False


async def ensure_admin(update: Update, context: BotContext) -> bool:
    """True for bot admins; anyone else gets a short refusal and nothing changes (the gate
    checks commands and buttons; a guided flow's typed replies are checked with this)."""
    user = update.effective_user
    if user is not None and context.access.is_admin(user.id):
        return True
    text = t(lang_of(update), "admins_only")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await send_plain(context.bot, destination_of(update.effective_message), text)
    return False


def incoming_from(update: Update, context: BotContext, text: str) -> Incoming:
    """The turn of `update`, with the inbox's facts of it (context.facts)."""
    bot = context.bot
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
        facts=context.facts,
    )
