"""What a photo, a voice note or a PDF adds to the bot's latency:
`python -m bench.experiments.photo_latency`.

Runs the real application in-process against the test fakes and measures, per case, the time
from an update being queued in the fake Bot API to the answer request reaching the fake OpenAI.
The difference to a text message (in an existing conversation) is what the bot adds for a
photo: getFile, download, decode and check, EXIF turn and downscale, re-encode, base64. Images are
noisy phone-camera-like JPEGs made with Pillow, EXIF-rotated as phones store them. For a voice
note: getFile, download, the transcription request (the fake transcribes at once: a real one
adds its own time, roughly proportional to the audio's length) and the quote of what was heard.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from collections.abc import Callable

from PIL import Image

from bench.experiments.inprocess import in_process_bot

REPEATS = 7


def phone_jpeg(width: int, height: int) -> bytes:
    image = Image.effect_noise((width // 4, height // 4), 60).convert("RGB")
    image = image.resize((width, height))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, as phones do
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _pdf(pages: int) -> bytes:
    """A real PDF of `pages` pages of text (pypdf, as the bot reads it)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    for n in range(pages):
        page = writer.add_blank_page(595, 842)
        content = DecodedStreamObject()
        content.set_data(f"BT /F1 12 Tf 72 770 Td (Page {n + 1} of the price list) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def _measure() -> dict[str, float]:
    async with in_process_bot() as (tg, ai, _bot):

        async def turn(push: Callable[[int], object], chat: int) -> float:
            seen = len(ai.requests_to("/v1/responses"))
            started = time.monotonic()
            push(chat)
            while True:
                fresh = ai.requests_to("/v1/responses")[seen:]
                answers = [r for r in fresh if r.body and r.body.get("stream")]
                if answers:
                    return answers[0].at - started
                await asyncio.sleep(0.0005)

        small, large = phone_jpeg(1280, 960), phone_jpeg(4032, 3024)
        cases: dict[str, Callable[[int], object]] = {
            "text": lambda c: tg.private_text("hello", chat_id=c),
            "photo 1280x960 (as Telegram compresses)": lambda c: tg.media_message(
                {"photo": tg.photo_sizes(small, 1280, 960)}, chat_id=c
            ),
            "file 4032x3024 12 MP JPEG (4.3 MB)": lambda c: tg.media_message(
                {
                    "document": {
                        **tg.add_file(large),
                        "file_name": "IMG_0001.jpg",
                        "mime_type": "image/jpeg",
                    }
                },
                chat_id=c,
            ),
        }
        ogg = b"OggS\x00\x02" + bytes(120_000)  # ~120 KB: a 30 s voice note at Opus rates
        cases["voice note 30 s (120 KB OGG)"] = lambda c: tg.media_message(
            tg.voice(ogg, 30), chat_id=c
        )
        pdf = _pdf(pages=20)
        cases[f"PDF 20 pages ({len(pdf) // 1024} KB)"] = lambda c: tg.media_message(
            tg.document(pdf), chat_id=c, caption="what is this?"
        )
        results: dict[str, float] = {}
        for name, push in cases.items():
            samples = []
            for i in range(REPEATS):
                chat = 50_000 + i
                await turn(lambda c: tg.private_text("warm up", chat_id=c), chat)
                await asyncio.sleep(0.05)
                samples.append(await turn(push, chat))
                await asyncio.sleep(0.05)
            results[name] = statistics.median(samples) * 1000
        return results


def main() -> None:
    results = asyncio.run(_measure())
    base = results["text"]
    print(f"{'case':45s} {'update -> model request':>24s} {'added by the media':>20s}")
    for name, ms in results.items():
        print(f"{name:45s} {ms:21.1f} ms {ms - base:17.1f} ms")


if __name__ == "__main__":
    main()
