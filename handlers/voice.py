"""Voice notes, audio files and video notes: transcribed, then answered like a typed message;
/voice on|off: answers to them are also spoken."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.addressing import addressed_to_bot
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.i18n import t
from bot.voice import Heard, audio_source
from handlers.common import destination_of, ensure_within_limits, incoming_from, key_of, lang_of

log = logging.getLogger(__name__)

_ON_WORDS = {"on", "yes", "1", "si", "sí", "oui", "ja", "да", "так", "evet", "ya", "sim"}
_OFF_WORDS = {"off", "no", "0", "non", "nein", "нет", "ні", "hayır", "tidak", "não", "nao"}


async def on_audio(update: Update, context: BotContext) -> None:
    """Check the audio before downloading it (duration, size, limits), transcribe it, and
    answer what was heard; spoken too when the chat has /voice on."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not addressed_to_bot(message, context.bot):
        return
    source = audio_source(message)
    if source is None:
        return
    incoming = incoming_from(update, context, message.caption or "")
    refusal = context.voice.refusal(source)
    if refusal is not None:
        await send_plain(context.bot, incoming.dest, t(incoming.lang, refusal[0], **refusal[1]))
        return
    if not await ensure_within_limits(update, context):
        return
    facts = context.facts
    if facts is not None and facts.kept is not None:  # heard and answered already: deliver it
        heard = Heard(facts.kept.question.text.removeprefix("🎤 "))
    else:
        hint = (user.language_code or "")[:2].lower() or None
        heard = await context.voice.hear(context.bot, source, language=hint)
    log.info(
        "audio chat=%s update=%s seconds=%s download_ms=%.0f transcribe_ms=%.0f problem=%s",
        incoming.key.chat_id,
        update.update_id,
        source.duration,
        heard.download_s * 1000,
        heard.transcribe_s * 1000,
        heard.problem[0] if heard.problem else None,
    )
    if heard.problem is not None:
        key, values = heard.problem
        await send_plain(context.bot, incoming.dest, t(incoming.lang, key, **values))
        return
    answer = await context.answerer.answer_heard(context.bot, incoming, heard.text)
    record = await context.chats.ensure(incoming.key, message.chat.type)
    if answer and record.voice_replies:
        await context.voice.send_spoken(context.bot, incoming.dest, answer)


async def on_voice_command(update: Update, context: BotContext) -> None:
    """/voice on|off sets whether answers to voice notes are also spoken; alone, shows it."""
    message = update.effective_message
    if message is None:
        return
    lang, key = lang_of(update), key_of(message)
    wanted = " ".join(context.args or []).strip().lower()
    if wanted in _ON_WORDS or wanted in _OFF_WORDS:
        on = wanted in _ON_WORDS
        await context.chats.ensure(key, message.chat.type)
        await context.chats.set_voice_replies(key, on)
        text = t(lang, "voice_replies_on" if on else "voice_replies_off")
    else:
        record = await context.chats.ensure(key, message.chat.type)
        text = t(lang, "voice_replies_are_on" if record.voice_replies else "voice_replies_are_off")
    await send_plain(context.bot, destination_of(message), text)


def register(app: BotApplication) -> None:
    """The /voice command (with the other commands)."""
    app.add_handler(CommandHandler("voice", on_voice_command))


def register_content(app: BotApplication) -> None:
    """Voice notes, audio files (also sent as files) and video notes (with the content)."""
    audio = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.Document.AUDIO
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & audio, on_audio))
