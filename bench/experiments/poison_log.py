"""Log volume under a poison update: `python -m bench.experiments.poison_log [seconds]`.

Runs `python -m app` (LOG_LEVEL=INFO) against the fakes with one update python-telegram-bot
cannot parse (a message without `date`) queued between two good messages, for `seconds`
(default 10), then reports the bytes and lines it logged, how often the poison update's text
appears in the log (it must not), the getUpdates calls, and which good messages were answered.
Before the fix (ba441f1) the poller retried the failing batch forever and logged it each time.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from tempfile import mkdtemp

from testkit.botprocess import start_process
from testkit.fake_openai import FakeOpenAI
from testkit.fake_telegram import FakeTelegram

POISON_TEXT = "private user text "


async def measure(seconds: float) -> str:
    async with FakeTelegram() as tg, FakeOpenAI() as ai:
        tg.private_text("a good message before", chat_id=1)
        tg.push_raw_update(
            {
                "message": {  # no "date": PTB cannot build a Message from it
                    "message_id": 9,
                    "chat": {"id": 2, "type": "private"},
                    "from": {"id": 2, "is_bot": False, "first_name": "A"},
                    "text": POISON_TEXT * 5,
                }
            }
        )
        tg.private_text("a good message after", chat_id=3)
        process = await start_process(tg, ai, Path(mkdtemp()), log_level="INFO")
        assert process.stdout is not None
        stdout = process.stdout
        chunks: list[bytes] = []

        async def drain() -> None:
            while chunk := await stdout.read(65536):
                chunks.append(chunk)

        reader = asyncio.create_task(drain())
        try:
            await tg.wait_for("getMe", timeout=30)
            calls_before = len(tg.calls_to("getUpdates"))
            await asyncio.sleep(seconds)
            calls = len(tg.calls_to("getUpdates")) - calls_before
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
            await reader
        log = b"".join(chunks)
        answered = sorted(chat for chat in (1, 3) if tg.sent_texts(chat))
        return (
            f"{len(log)} bytes, {log.count(10)} lines of log in {seconds:.0f} s; "
            f"getUpdates calls: {calls}; good messages answered in chats {answered} of [1, 3]; "
            f"the poison update's text in the log: {log.count(POISON_TEXT.encode())} times"
        )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    print(asyncio.run(measure(seconds)))


if __name__ == "__main__":
    main()
