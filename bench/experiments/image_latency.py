"""What a drawn image adds to the bot's latency: `python -m bench.experiments.image_latency`.

Runs the real application in-process against the test fakes and measures, per case, the time
from an update being queued in the fake Bot API to the answer's final call reaching it
(`sendMessage` for a text answer, `sendPhoto` for a drawn image). The difference is what an
image adds on the bot's side and the fakes' (they share the loop, so this is an upper bound):
the image_generation_call item's base64 in the stream (about 1.33 times the PNG), its decoding,
and the multipart upload to Telegram. OpenAI's own drawing time (seconds) is not in it. The
image is a noisy 1024x1024 PNG made with Pillow (it compresses about as badly as a detailed
poster does).
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time

from PIL import Image

from bench.experiments.inprocess import in_process_bot
from testkit.fake_openai import Reply

REPEATS = 7


def drawn_png(side: int = 1024) -> bytes:
    image = Image.effect_noise((side // 2, side // 2), 40).convert("RGB").resize((side, side))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def _measure(png: bytes) -> dict[str, float]:
    async with in_process_bot(assistant_tools="image_generation", daily_image_limit=0) as (
        tg,
        ai,
        _bot,
    ):

        async def turn(reply: Reply, method: str, chat: int) -> float:
            ai.script(reply)
            started = time.monotonic()
            tg.private_text("draw a poster for our Saturday market", chat_id=chat)
            [call] = await tg.wait_for(
                method, where=lambda c: c.params["chat_id"] == chat, timeout=30
            )
            return call.at - started

        cases = {
            "text answer": (Reply(text="Here is your poster."), "sendMessage"),
            f"image answer ({len(png) / 1_048_576:.1f} MB PNG)": (
                Reply.image("a poster", png, "Here is your poster."),
                "sendPhoto",
            ),
        }
        results: dict[str, float] = {}
        for n, (name, (reply, method)) in enumerate(cases.items()):
            samples = []
            for i in range(REPEATS):
                samples.append(await turn(reply, method, 60_000 + 100 * n + i))
                await asyncio.sleep(0.05)
            results[name] = statistics.median(samples) * 1000
        return results


def main() -> None:
    results = asyncio.run(_measure(drawn_png()))
    base = results["text answer"]
    print(f"{'case':32s} {'update -> final call':>22s} {'added by the image':>20s}")
    for name, ms in results.items():
        print(f"{name:32s} {ms:19.1f} ms {ms - base:17.1f} ms")


if __name__ == "__main__":
    main()
