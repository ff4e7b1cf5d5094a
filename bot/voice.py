"""Voice notes, audio files and video notes: checked, downloaded and transcribed; voice replies.

What a message says is checked before anything is downloaded (Telegram sends the duration and
the size), so audio that is too long or too large costs nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, InputFile, Message, ReplyParameters
from telegram.error import TelegramError

from bot.ai import AIError, AudioService
from bot.delivery import Destination
from bot.formatting import render_markdown

log = logging.getLogger(__name__)

#: File name extensions by MIME type, for audio files sent without a name: the transcription
#: API recognises the format by the name's extension.
_EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/aac": "m4a",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/webm": "webm",
    "video/mp4": "mp4",
}


@dataclass(frozen=True, slots=True)
class AudioSource:
    """The audio a message carries: which Telegram file, what Telegram says of it."""

    file_id: str
    file_size: int | None
    duration: int | None
    filename: str
    mime_type: str


@dataclass(frozen=True, slots=True)
class Heard:
    """What was understood of a message's audio: its text, or why there is none."""

    text: str = ""
    #: (i18n key, format values) when nothing usable was heard.
    problem: tuple[str, dict[str, object]] | None = None
    download_s: float = 0.0
    transcribe_s: float = 0.0


def audio_source(message: Message) -> AudioSource | None:
    """The voice note, audio file, video note or audio document of `message`, if any."""
    if message.voice:
        v = message.voice
        mime = v.mime_type or "audio/ogg"
        return AudioSource(v.file_id, v.file_size, _seconds(v.duration), "voice.ogg", mime)
    if message.video_note:
        n = message.video_note
        return AudioSource(
            n.file_id, n.file_size, _seconds(n.duration), "video_note.mp4", "video/mp4"
        )
    if message.audio:
        a = message.audio
        mime = a.mime_type or "audio/mpeg"
        name = _with_extension(a.file_name, mime)
        return AudioSource(a.file_id, a.file_size, _seconds(a.duration), name, mime)
    document = message.document
    if document and (document.mime_type or "").startswith("audio/"):
        mime = document.mime_type or "audio/mpeg"
        name = _with_extension(document.file_name, mime)
        return AudioSource(document.file_id, document.file_size, None, name, mime)
    return None


def _seconds(duration: int | timedelta) -> int:
    """Telegram's durations are whole seconds (PTB may hand them over as timedelta)."""
    return int(duration.total_seconds()) if isinstance(duration, timedelta) else duration


def _with_extension(name: str | None, mime: str) -> str:
    if name and "." in name:
        return name
    return f"{name or 'audio'}.{_EXTENSIONS.get(mime, 'mp3')}"


class VoiceService:
    """Hears what users send (limits of the settings) and speaks answers back."""

    def __init__(self, audio: AudioService, *, max_bytes: int, max_seconds: int) -> None:
        self._audio = audio
        self._max_bytes = max_bytes
        self._max_seconds = max_seconds

    def refusal(self, source: AudioSource) -> tuple[str, dict[str, object]] | None:
        """Why `source` is not downloaded at all (too long, too large), or None."""
        if source.duration is not None and source.duration > self._max_seconds:
            return "voice_too_long", {
                "minutes": _minutes(source.duration),
                "limit": _minutes(self._max_seconds),
            }
        if source.file_size is not None and source.file_size > self._max_bytes:
            return "voice_too_large", _sizes(source.file_size, self._max_bytes)
        return None

    async def hear(self, bot: Bot, source: AudioSource, *, language: str | None) -> Heard:
        """Download and transcribe `source` (checked with `refusal` first). Problems (a failed
        download, an unreadable file, silence, OpenAI failing) are returned, not raised."""
        started = time.perf_counter()
        try:
            telegram_file = await bot.get_file(source.file_id)
            data = bytes(await telegram_file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("audio download failed: %s", exc)
            return Heard(problem=("voice_download_failed", {}))
        downloaded = time.perf_counter()
        if len(data) > self._max_bytes:  # the declared size was missing or wrong
            return Heard(problem=("voice_too_large", _sizes(len(data), self._max_bytes)))
        try:
            text = await self._audio.transcribe(
                data, filename=source.filename, mime_type=source.mime_type, language=language
            )
        except AIError as exc:  # AudioUnreadable: "voice_unreadable"; OpenAI failing: its own
            log.warning("transcription failed (%s): %s", type(exc).__name__, exc)
            return Heard(problem=(exc.user_key, {}), download_s=downloaded - started)
        heard = Heard(
            text.strip(),
            download_s=downloaded - started,
            transcribe_s=time.perf_counter() - downloaded,
        )
        if not heard.text:
            return Heard(problem=("voice_silent", {}), download_s=heard.download_s,
                         transcribe_s=heard.transcribe_s)  # fmt: skip
        return heard

    async def send_spoken(self, bot: Bot, dest: Destination, answer_markdown: str) -> None:
        """The answer as a voice message (after its text), best effort: a failure (of the
        speech or of Telegram) is logged, not shown; the text was delivered."""
        text = render_markdown(answer_markdown).text.strip()
        if not text:
            return
        try:
            speech = await self._audio.speak(text)
        except AIError as exc:
            log.warning("chat %s: text-to-speech failed: %s", dest.chat_id, exc)
            return
        reply = (
            ReplyParameters(message_id=dest.reply_to, allow_sending_without_reply=True)
            if dest.reply_to and not dest.is_private
            else None
        )
        try:
            await bot.send_voice(
                dest.chat_id,
                InputFile(speech, filename="answer.ogg"),
                message_thread_id=dest.thread_id,
                reply_parameters=reply,
            )
        except TelegramError as exc:
            # Not raised: the answer is delivered and on record, and a retry of the update
            # would answer it again.
            log.warning("chat %s: the voice reply was not taken: %s", dest.chat_id, exc)


def _minutes(seconds: int) -> str:
    """Minutes and seconds, `10:01`: a second over the limit still reads as over it."""
    return f"{seconds // 60}:{seconds % 60:02d}"


def _sizes(size: int, limit: int) -> dict[str, object]:
    return {"size": f"{size / 1_048_576:.1f}", "limit": f"{limit / 1_048_576:.0f}"}
