"""End to end: voice notes, audio files and video notes through the real application and the
fakes (transcribed, answered like a typed message, spoken back with /voice on)."""

from __future__ import annotations

from typing import Any

from testkit.fake_openai import DEFAULT_TRANSCRIPT, FakeOpenAI, Recorded
from testkit.fake_telegram import FakeTelegram

#: An OGG page header and some bytes: what a voice note looks like to the fake.
OGG = b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead" + b"voice-note-payload"
MP3 = b"ID3\x04\x00" + b"mp3-payload" * 10
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"video-note-payload"


def _transcriptions(ai: FakeOpenAI) -> list[Recorded]:
    return ai.requests_to("/v1/audio/transcriptions")


def _answer_requests(ai: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.body for r in ai.requests_to("/v1/responses") if r.body and r.body.get("stream")]


async def test_a_voice_note_is_transcribed_and_answered_in_the_conversation(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    ai.transcripts[OGG] = "what is the capital of France?"
    tg.media_message(tg.voice(OGG, 3), chat_id=3000, language_code="fr")
    heard, answer = await tg.wait_for("sendMessage", 2)
    [request] = _transcriptions(ai)
    assert request.body is not None
    upload = request.body["file"]
    assert upload["data"] == OGG and upload["content_type"] == "audio/ogg"
    assert upload["filename"].endswith(".ogg")
    assert request.body["model"] == bot.settings.transcription_model
    assert request.body["language"] == "fr"
    # what was heard comes first, quoted; then the answer, as to a typed message
    assert heard.params["text"] == "🎤 what is the capital of France?"
    [quote] = heard.params["entities"]
    assert quote["type"] == "blockquote" and quote["offset"] == 0
    assert answer.params["text"] == "Echo: what is the capital of France?"

    # a follow-up text is answered in the same conversation, which holds what was said
    tg.private_text("and of Spain?", chat_id=3000)
    await tg.wait_for("sendMessage", 3)
    first, follow_up = _answer_requests(ai)
    assert first["conversation"] == follow_up["conversation"]
    said = [
        FakeOpenAI.input_texts({"input": [item]})
        for item in ai.conversations[first["conversation"]]
    ]
    assert any("what is the capital of France?" in texts for texts in said)


async def test_audio_files_and_video_notes_keep_their_type(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.media_message(tg.audio(MP3, 30, file_name="memo.mp3"), chat_id=3001)
    await tg.wait_for("sendMessage", 2)
    tg.media_message(tg.video_note(MP4, 10), chat_id=3001)
    await tg.wait_for("sendMessage", 4)
    audio, video = (r.body["file"] for r in _transcriptions(ai) if r.body)
    assert (audio["filename"], audio["content_type"], audio["data"]) == (
        "memo.mp3",
        "audio/mpeg",
        MP3,
    )
    assert video["filename"].endswith(".mp4") and video["content_type"] == "video/mp4"
    assert video["data"] == MP4
    assert tg.sent_texts(3001)[1] == f"Echo: {DEFAULT_TRANSCRIPT}"


async def test_a_long_transcript_is_quoted_collapsed(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    long_text = "and then we walked along the river " * 20
    ai.transcripts[OGG] = long_text
    tg.media_message(tg.voice(OGG, 60), chat_id=3002)
    heard, _ = await tg.wait_for("sendMessage", 2)
    [quote] = heard.params["entities"]
    assert quote["type"] == "expandable_blockquote"
    assert heard.params["text"] == f"🎤 {long_text.strip()}"


async def test_too_long_or_too_large_audio_is_refused_without_downloading(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(max_audio_seconds=60, max_file_bytes=4096)
    tg.media_message(tg.voice(OGG, 61), chat_id=3003)
    tg.media_message(tg.audio(MP3, 10, file_size=5000), chat_id=3003)
    too_long, too_large = await tg.wait_for("sendMessage", 2)
    assert "too long (1:01 min)" in too_long.params["text"]
    assert "up to 1:00 min" in too_long.params["text"]
    assert "too large" in too_large.params["text"]
    assert tg.calls_to("getFile") == [] and ai.requests == []


async def test_garbage_audio_gets_a_clear_message_and_no_answer(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.media_message(tg.voice(b"this is not audio at all", 2), chat_id=3004)
    [notice] = await tg.wait_for("sendMessage")
    assert "could not read that audio" in notice.params["text"]
    assert len(_transcriptions(ai)) == 1
    assert ai.requests_to("/v1/responses") == []


async def test_silence_gets_a_clear_message_and_no_answer(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    ai.transcripts[OGG] = "  \n"
    tg.media_message(tg.voice(OGG, 2), chat_id=3005, language_code="es")
    [notice] = await tg.wait_for("sendMessage")
    assert "No oí ninguna palabra" in notice.params["text"]
    assert ai.requests_to("/v1/responses") == []


async def test_voice_on_sends_a_spoken_answer_after_the_text(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    tg.private_text("/voice", chat_id=3006)
    [status] = await tg.wait_for("sendMessage")
    assert "Voice replies are off" in status.params["text"]
    tg.media_message(tg.voice(OGG, 2), chat_id=3006)
    await tg.wait_for("sendMessage", 3)
    assert tg.calls_to("sendVoice") == [] and ai.spoken == []  # off by default

    tg.private_text("/voice on", chat_id=3006)
    await tg.wait_for("sendMessage", 4)
    ai.transcripts[OGG] = "say hello"
    tg.media_message(tg.voice(OGG, 2), chat_id=3006)
    [spoken] = await tg.wait_for("sendVoice")
    answer = tg.calls_to("sendMessage")[-1]
    assert answer.params["text"] == "Echo: say hello" and answer.at <= spoken.at
    assert ai.spoken == ["Echo: say hello"]
    [speech] = ai.requests_to("/v1/audio/speech")
    assert speech.body is not None and speech.body["response_format"] == "opus"
    assert speech.body["model"] == bot.settings.tts_model
    assert speech.body["voice"] == bot.settings.tts_voice
    [upload] = spoken.files.values()
    assert upload.data.startswith(b"OggS") and upload.filename.endswith(".ogg")

    tg.private_text("a typed question", chat_id=3006)  # texts are answered as text only
    tg.private_text("/voice off", chat_id=3006)
    await tg.wait_for("sendMessage", 8)
    assert len(tg.calls_to("sendVoice")) == 1


async def test_in_groups_a_voice_note_needs_addressing(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    chatter, question = OGG + b"-chatter", OGG + b"-question"
    ai.transcripts.update({chatter: "talking among ourselves", question: "a question for you"})
    tg.media_message(tg.voice(chatter, 2), chat_id=-3007)  # not for the bot
    tg.media_message(tg.voice(question, 2), chat_id=-3007, caption="@test_ai_bot listen")
    # the chat's order: once the second is answered, the first was passed over
    await tg.wait_for("sendMessage", where=lambda c: "[Ana] a question" in c.params["text"])
    assert [r.body["file"]["data"] for r in _transcriptions(ai) if r.body] == [question]
    assert len(tg.calls_to("getFile")) == 1
    assert tg.sent_texts(-3007) == ["🎤 a question for you", "Echo: [Ana] a question for you"]


async def test_outsiders_and_rate_limited_users_cost_nothing(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(allowed_user_ids="3008", rate_limit_per_minute=1)
    tg.media_message(tg.voice(OGG, 2), chat_id=3009)  # not allowed
    [refusal] = await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 3009)
    assert "not allowed" in refusal.params["text"]
    assert tg.calls_to("getFile") == [] and _transcriptions(ai) == []

    tg.media_message(tg.voice(OGG, 2), chat_id=3008)  # allowed: its one message this minute
    tg.media_message(tg.voice(OGG, 2), chat_id=3008)  # over the rate limit
    await tg.wait_for("sendMessage", 3, where=lambda c: c.params["chat_id"] == 3008)
    assert len(tg.calls_to("getFile")) == 1 and len(_transcriptions(ai)) == 1
