"""What a message's audio is called and whether it is refused before downloading."""

from __future__ import annotations

import datetime as dt

import pytest
from telegram import Audio, Chat, Document, Message, VideoNote, Voice
from telegram.error import NetworkError

from bot.delivery import Destination
from bot.voice import AudioSource, VoiceService, audio_source

WHEN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _message(**content: object) -> Message:
    return Message(1, WHEN, Chat(1, "private"), **content)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"voice": Voice("v", "vu", 3)}, ("voice.ogg", "audio/ogg", 3)),
        ({"voice": Voice("v", "vu", 3, mime_type="audio/mpeg")}, ("voice.ogg", "audio/mpeg", 3)),
        ({"video_note": VideoNote("n", "nu", 240, 9)}, ("video_note.mp4", "video/mp4", 9)),
        (
            {"audio": Audio("a", "au", 30, file_name="talk.m4a", mime_type="audio/mp4")},
            ("talk.m4a", "audio/mp4", 30),
        ),
        (
            {"audio": Audio("a", "au", 30, mime_type="audio/x-wav")},
            ("audio.wav", "audio/x-wav", 30),
        ),
        ({"audio": Audio("a", "au", 30, file_name="memo")}, ("memo.mp3", "audio/mpeg", 30)),
        (
            {"document": Document("d", "du", file_name="rec", mime_type="audio/flac")},
            ("rec.flac", "audio/flac", None),
        ),
    ],
)
def test_the_file_name_names_the_format(
    content: dict[str, object], expected: tuple[str, str, int | None]
) -> None:
    source = audio_source(_message(**content))
    assert source is not None
    assert (source.filename, source.mime_type, source.duration) == expected


def test_other_messages_carry_no_audio() -> None:
    assert audio_source(_message(text="hi")) is None
    pdf = Document("d", "du", file_name="a.pdf", mime_type="application/pdf")
    assert audio_source(_message(document=pdf)) is None


def test_too_long_and_too_large_are_refused_before_downloading() -> None:
    voice = VoiceService(None, max_bytes=1000, max_seconds=600)  # type: ignore[arg-type]
    assert voice.refusal(AudioSource("f", 1000, 600, "voice.ogg", "audio/ogg")) is None
    assert voice.refusal(AudioSource("f", None, None, "a.wav", "audio/wav")) is None
    key, values = voice.refusal(AudioSource("f", 10, 601, "voice.ogg", "audio/ogg")) or ("", {})
    assert key == "voice_too_long" and values == {"minutes": "10:01", "limit": "10:00"}
    key, _ = voice.refusal(AudioSource("f", 1001, 5, "voice.ogg", "audio/ogg")) or ("", {})
    assert key == "voice_too_large"


class _FailingBot:
    """A Bot whose sendVoice fails as Telegram does when it is down."""

    def __init__(self) -> None:
        self.calls = 0

    async def send_voice(self, *args: object, **kwargs: object) -> None:
        self.calls += 1
        raise NetworkError("Bad Gateway")


class _Speaker:
    async def speak(self, text: str) -> bytes:
        return b"OggS" + text.encode()


async def test_a_voice_reply_telegram_does_not_take_is_not_raised() -> None:
    """Raising would run the update again, and answer it twice: its text was delivered."""
    voice = VoiceService(_Speaker(), max_bytes=1000, max_seconds=600)  # type: ignore[arg-type]
    bot = _FailingBot()
    await voice.send_spoken(bot, Destination(5, "private"), "**Hello**")  # type: ignore[arg-type]
    assert bot.calls == 1
