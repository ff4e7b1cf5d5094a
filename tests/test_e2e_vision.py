"""End to end: photos, image files and albums through the real application and the fakes."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import pytest
from PIL import Image

from testkit.fake_openai import FakeOpenAI, Reply
from testkit.fake_telegram import FakeTelegram


def make_image(
    fmt: str, size: tuple[int, int] = (64, 48), *, orientation: int | None = None
) -> bytes:
    """A real image made with Pillow: a coloured gradient, so encoders have real work."""
    image = Image.new("RGB", size)
    image.putdata(
        [
            ((x * 255) // size[0], (y * 255) // size[1], 128)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def _vision_requests(ai: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        r.body
        for r in ai.requests_to("/v1/responses")
        if r.body and isinstance(r.body.get("input"), list) and _images_in(r.body)
    ]


def _images_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        part
        for item in body["input"]
        if isinstance(item, dict) and isinstance(item.get("content"), list)
        for part in item["content"]
        if part.get("type") == "input_image"
    ]


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _decode(url: str) -> tuple[str, bytes]:
    head, _, payload = url.partition(",")
    return head.removeprefix("data:").removesuffix(";base64"), base64.b64decode(payload)


async def test_jpeg_photo_reaches_the_model_as_exact_bytes_with_the_caption(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    jpeg = make_image("JPEG")
    tg.media_message({"photo": tg.photo_sizes(jpeg, 64, 48)}, chat_id=2000, caption="what car?")
    [final] = await tg.wait_for("sendMessage")
    [request] = _vision_requests(ai)
    [image] = _images_in(request)
    assert image["image_url"] == _data_url("image/jpeg", jpeg)  # the full size, not the thumb
    assert image["detail"] == "auto"
    assert "what car?" in FakeOpenAI.input_texts(request)
    assert request["model"] == bot.settings.vision_model and request["stream"] is True
    assert final.params["text"].startswith("Echo: what car?")
    assert "api.telegram.org" not in str(request) and "/file/bot" not in str(request)

    # the follow-up text is answered in the same conversation, which holds the picture
    tg.private_text("what colour is it?", chat_id=2000)
    await tg.wait_for("sendMessage", 2)
    follow_up = [r.body for r in ai.requests_to("/v1/responses") if r.body and r.body.get("stream")]
    assert follow_up[0]["conversation"] == follow_up[1]["conversation"]
    items = ai.conversations[follow_up[0]["conversation"]]
    assert any(
        part.get("type") == "input_image"
        for item in items
        for part in (item.get("content") or [])
        if isinstance(part, dict)
    )


async def test_png_sent_as_a_file_keeps_its_type(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    png = make_image("PNG")
    document = {**tg.add_file(png), "file_name": "scan.png", "mime_type": "image/png"}
    tg.media_message({"document": document}, chat_id=2001)
    await tg.wait_for("sendMessage")
    [request] = _vision_requests(ai)
    [image] = _images_in(request)
    assert image["image_url"] == _data_url("image/png", png)
    # no caption: the default question, in the user's language
    assert "Describe what you see" in " ".join(FakeOpenAI.input_texts(request))


async def test_an_album_of_three_photos_is_one_request_and_one_answer(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(album_quiet_seconds=0.3)
    photos = [make_image("JPEG", (40 + i, 30)) for i in range(3)]
    for i, data in enumerate(photos):
        tg.media_message(
            {"photo": tg.photo_sizes(data, 40 + i, 30)},
            chat_id=2002,
            media_group_id="album-1",
            caption="compare these" if i == 0 else None,
        )
    tg.private_text("and now a text", chat_id=2002)  # sent after the album: answered after it
    await tg.wait_for("sendMessage", 2)
    await asyncio.sleep(0.5)
    [request] = _vision_requests(ai)
    urls = [image["image_url"] for image in _images_in(request)]
    assert urls == [_data_url("image/jpeg", data) for data in photos]
    assert "compare these" in FakeOpenAI.input_texts(request)
    texts = tg.sent_texts(2002)
    assert len(texts) == 2
    assert texts[0].startswith("Echo: compare these") and texts[1] == "Echo: and now a text"


async def test_oversize_photo_is_refused_without_downloading(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(max_file_bytes=1024 * 1024)
    document = {
        **tg.add_file(b"x" * 10),
        "file_name": "huge.jpg",
        "mime_type": "image/jpeg",
        "file_size": 25 * 1024 * 1024,
    }
    tg.media_message({"document": document}, chat_id=2003, language_code="es")
    [reply] = await tg.wait_for("sendMessage")
    assert reply.params["text"] == (
        "Ese archivo es demasiado grande (25.0 MB). Puedo mirar imágenes de hasta 1 MB."
    )
    assert tg.calls_to("getFile") == []
    assert ai.requests == []


async def test_corrupt_and_svg_images_get_a_clear_message_and_no_model_call(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    truncated = make_image("JPEG", (200, 200))[:300]
    tg.media_message({"photo": tg.photo_sizes(truncated, 200, 200)}, chat_id=2004)
    [corrupt] = await tg.wait_for("sendMessage")
    assert "couldn't read that image" in corrupt.params["text"]

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
    document = {**tg.add_file(svg), "file_name": "logo.svg", "mime_type": "image/svg+xml"}
    tg.media_message({"document": document}, chat_id=2004)
    await tg.wait_for("sendMessage", 2)
    assert "SVG" in tg.sent_texts(2004)[1]
    assert ai.requests == []


async def test_other_documents_get_a_hint(tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any) -> None:
    await start_bot()
    # PDFs and text files are read (tests/test_e2e_documents.py); an archive is not
    document = {**tg.add_file(b"PK\x03\x04"), "file_name": "a.zip", "mime_type": "application/zip"}
    tg.media_message({"document": document}, chat_id=2005)
    [hint] = await tg.wait_for("sendMessage")
    assert hint.params["text"].startswith("I can read PDFs and text files")
    assert ai.requests == []


async def test_camera_context_is_set_shown_used_and_cleared(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.private_text("/camera", chat_id=2006)
    await tg.wait_for("sendMessage", 1)
    assert "No camera context" in tg.sent_texts(2006)[0]
    tg.private_text("/camera receipt", chat_id=2006)
    await tg.wait_for("sendMessage", 2)
    tg.media_message({"photo": tg.photo_sizes(make_image("JPEG"), 64, 48)}, chat_id=2006)
    await tg.wait_for("sendMessage", 3)
    [request] = _vision_requests(ai)
    assert "Camera context: receipt." in " ".join(FakeOpenAI.input_texts(request))
    tg.private_text("/camera", chat_id=2006)
    await tg.wait_for("sendMessage", 4)
    assert '"receipt"' in tg.sent_texts(2006)[3]
    tg.private_text("/camera off", chat_id=2006)
    await tg.wait_for("sendMessage", 5)
    assert tg.sent_texts(2006)[4] == "Camera context cleared."


@pytest.mark.slow
async def test_large_photo_is_downscaled_upright(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    # 4000x3000 pixels stored sideways: EXIF orientation 6 means "rotate 90° clockwise to view"
    big = make_image("JPEG", (4000, 3000), orientation=6)
    document = {**tg.add_file(big), "file_name": "IMG_0001.jpg", "mime_type": "image/jpeg"}
    tg.media_message({"document": document}, chat_id=2007)
    await tg.wait_for("sendMessage", timeout=20)
    [request] = _vision_requests(ai)
    [image] = _images_in(request)
    mime, data = _decode(image["image_url"])
    assert mime == "image/jpeg"
    with Image.open(io.BytesIO(data)) as sent:
        assert sent.size == (1536, 2048)  # upright (portrait) and within 2048 px


async def test_group_photo_needs_a_mention(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    jpeg = make_image("JPEG")
    tg.media_message({"photo": tg.photo_sizes(jpeg, 64, 48)}, chat_id=-2008, caption="nice view")
    tg.media_message(
        {"photo": tg.photo_sizes(jpeg, 64, 48)},
        chat_id=-2008,
        caption="@test_ai_bot where is this?",
    )
    [answer] = await tg.wait_for("sendMessage")
    await asyncio.sleep(0.3)
    assert len(_vision_requests(ai)) == 1
    assert answer.params["text"] == "Echo: [Ana] where is this?"


async def test_photo_answers_stream_like_text(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    ai.script(Reply(text="A red car parked by a tree.", token_delay=0.05))
    tg.media_message({"photo": tg.photo_sizes(make_image("JPEG"), 64, 48)}, chat_id=2009)
    [final] = await tg.wait_for("sendMessage")
    drafts = tg.calls_to("sendMessageDraft")
    assert drafts and drafts[0].at < final.at
    assert final.params["text"] == "A red car parked by a tree."


async def test_heic_from_an_iphone_is_converted_to_jpeg(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    import pillow_heif

    await start_bot()
    heif = pillow_heif.from_pillow(Image.open(io.BytesIO(make_image("PNG", (80, 60)))))
    out = io.BytesIO()
    heif.save(out, quality=80)
    document = {**tg.add_file(out.getvalue()), "file_name": "IMG_1.HEIC", "mime_type": "image/heic"}
    tg.media_message({"document": document}, chat_id=2010)
    await tg.wait_for("sendMessage", timeout=20)
    [request] = _vision_requests(ai)
    mime, data = _decode(_images_in(request)[0]["image_url"])
    assert mime == "image/jpeg"
    with Image.open(io.BytesIO(data)) as sent:
        assert sent.format == "JPEG" and sent.size == (80, 60)


async def test_an_abusive_caption_is_refused_before_the_vision_model(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    ai.classifier = lambda body: "abusive"
    tg.media_message(
        {"photo": tg.photo_sizes(make_image("JPEG"), 64, 48)},
        chat_id=2011,
        caption="rate this, idiot",
    )
    [refusal] = await tg.wait_for("sendMessage")
    assert "can't help with that" in refusal.params["text"]
    assert _vision_requests(ai) == []


async def test_photos_from_users_outside_the_allow_list_are_not_downloaded(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(allowed_user_ids="1")
    tg.media_message({"photo": tg.photo_sizes(make_image("JPEG"), 64, 48)}, chat_id=2012)
    [refusal] = await tg.wait_for("sendMessage")
    assert "not allowed" in refusal.params["text"]
    assert tg.calls_to("getFile") == [] and ai.requests == []


async def test_an_album_from_a_user_who_is_not_allowed_gets_one_refusal(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """The gate refuses photos too: an album reaches it once (its parts are coalesced first), so
    three photos get one refusal, nothing is downloaded and nothing is asked."""
    await start_bot(allowed_user_ids="1", album_quiet_seconds=0.2)
    for i in range(3):
        data = make_image("JPEG", (40 + i, 30))
        tg.media_message(
            {"photo": tg.photo_sizes(data, 40 + i, 30)}, chat_id=2003, media_group_id="album-x"
        )
    tg.private_text("and a text", chat_id=2003)
    await tg.wait_for("sendMessage", 2, where=lambda c: c.params["chat_id"] == 2003)
    await asyncio.sleep(0.3)  # a third refusal would have come by now
    not_allowed = "Sorry, you're not allowed to use this bot. Ask its admin for access."
    assert tg.sent_texts(2003) == [not_allowed, not_allowed]
    assert tg.calls_to("getFile") == [] and ai.requests == []
