"""Speech: transcription of what users say, and text-to-speech for voice replies.

These calls are rarer than answers and are multipart or binary, so they go through the openai
SDK (like the knowledge files), not the lean transport; errors become our own (`translate`).
"""

from __future__ import annotations

import openai

from bot.ai.errors import AIError
from bot.ai.sdk_transport import translate

#: TTS input is limited to this many characters (the API's `maxLength`).
MAX_SPEECH_CHARS = 4096


class AudioUnreadable(AIError):
    """The transcription endpoint could not read the file (a 400: corrupt or unsupported)."""

    user_key = "voice_unreadable"


class AudioService:
    """Transcribes audio and speaks text with the models of the settings."""

    def __init__(
        self, client: openai.AsyncOpenAI, *, transcription_model: str, tts_model: str, voice: str
    ) -> None:
        self._client = client
        self._transcription_model = transcription_model
        self._tts_model = tts_model
        self._voice = voice

    async def transcribe(
        self, data: bytes, *, filename: str, mime_type: str, language: str | None
    ) -> str:
        """The text said in `data`; `language` (ISO-639-1) is a hint. Raises AudioUnreadable
        when OpenAI cannot read the file, another AIError when it fails."""
        try:
            result = await self._client.audio.transcriptions.create(
                file=(filename, data, mime_type),
                model=self._transcription_model,
                language=language or openai.omit,
                response_format="json",
            )
        except openai.BadRequestError as exc:
            raise AudioUnreadable(str(exc), status=400, body=exc.body) from exc
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        return str(getattr(result, "text", result) or "")

    async def speak(self, text: str) -> bytes:
        """`text` spoken, as Opus in OGG (what Telegram plays as a voice note)."""
        try:
            response = await self._client.audio.speech.create(
                model=self._tts_model,
                voice=self._voice,
                input=text[:MAX_SPEECH_CHARS],
                response_format="opus",
            )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        return response.content
